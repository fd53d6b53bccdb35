"""Stripe Checkout as a payment provider, against a fake Stripe on 127.0.0.1: checkout creation
(once, with an idempotency key), the signed webhook (success, konbini, expiry, replay, forgery),
refunds (with the SDK's retry under the same key), and a Stripe that cannot be reached."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from applications.workflow import SubmissionStatus as S
from municipalities.audit import audit_sentence
from municipalities.models import PAID_AFTER_CANCEL, AuditEntry, Payment, PaymentStatus, Role
from municipalities.services import municipality_update
from municipalities.services.payments import PaymentError, payment_refund, payments_cancel_pending
from tests.applications.factories import simple_form, submit
from tests.conftest import make_staff
from tests.conftest import resident_client as client_for
from tests.fakestripe import FakeStripe, sign

pytestmark = pytest.mark.django_db

WHSEC = "whsec_test_0123456789abcdef"


@pytest.fixture
def fake_stripe(settings):
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.base_url
        settings.SITE_URL = "https://town.example.jp"
        yield fake


@pytest.fixture
def stripe_town(town):
    return municipality_update(
        municipality=town,
        actor=None,
        data={
            "stripe_secret_key": "sk_test_abc123",
            "stripe_webhook_secret": WHSEC,
            "stripe_payment_methods": ["card", "konbini"],
        },
    )


@pytest.fixture
def stripe_form(stripe_town, somu):
    return simple_form(somu, title="住民票の写しの請求", fee=300, payment_methods=["stripe", "counter"])


def _to_stripe(client: Client, payment: Payment) -> str:
    response = client.get(reverse("payments:checkout", args=[payment.pk]))
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def _post_event(town_slug: str, body: bytes, signature: str):
    return Client().post(
        reverse("payments:stripe_webhook", args=[town_slug]),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


@pytest.fixture
def opened(fake_stripe, stripe_form, resident):
    """A submission whose resident was sent to Stripe's checkout."""
    submission = submit(stripe_form, resident, payment_method="stripe")
    payment = submission.payments.get()
    url = _to_stripe(client_for(resident), payment)
    payment.refresh_from_db()
    return submission, payment, url


def test_checkout_is_created_once_with_an_idempotency_key(fake_stripe, opened, resident):
    # given
    submission, payment, url = opened
    # then: the resident is sent to Stripe's page for this session
    [created] = fake_stripe.requests_to("sessions")
    assert url == fake_stripe.state.sessions[payment.reference]["url"]
    assert created.idempotency_key == f"payment-{payment.pk}-checkout"
    assert created.api_key == "sk_test_abc123"
    assert created.params["line_items[0][price_data][currency]"] == "jpy"
    assert created.params["line_items[0][price_data][unit_amount]"] == "300"
    assert created.params["line_items[0][price_data][product_data][name]"] == "住民票の写しの請求"
    assert created.params["client_reference_id"] == str(payment.pk)
    assert created.params["success_url"] == f"https://town.example.jp/payments/{payment.pk}/return/"
    session = fake_stripe.state.sessions[payment.reference]
    assert session["payment_method_types"] == ["card", "konbini"]
    # when: the resident taps 「支払う」 again
    again = _to_stripe(client_for(resident), payment)
    # then: the same page, no second session
    assert again == url and len(fake_stripe.requests_to("sessions")) == 1
    assert submission.status == S.AWAITING_PAYMENT


def test_paid_webhook_moves_the_submission_once(fake_stripe, opened, town):
    submission, payment, _url = opened
    fake_stripe.complete(payment.reference)
    body, signature = fake_stripe.event("checkout.session.completed", payment.reference, secret=WHSEC)
    # when: Stripe notifies, then retries the same event
    first = _post_event(town.slug, body, signature)
    replay = _post_event(town.slug, body, signature)
    # then
    assert (first.status_code, replay.status_code) == (200, 200)
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and payment.paid_at
    assert payment.detail["payment_intent"] == f"pi_{payment.reference[3:]}"
    assert submission.status == S.RECEIVED
    transitions = AuditEntry.objects.filter(
        action="applications.submission.pay", object_id=str(submission.pk)
    )
    assert transitions.count() == 1


def test_konbini_slip_waits_until_the_async_payment_succeeds(fake_stripe, opened, town, resident):
    submission, payment, _url = opened
    fake_stripe.complete(payment.reference, payment_status="unpaid")
    issued = fake_stripe.event("checkout.session.completed", payment.reference, secret=WHSEC)
    assert _post_event(town.slug, *issued).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.detail["payment_intent"]
    # the resident comes back from Stripe before paying at the shop: told to pay at the konbini
    back = client_for(resident).get(reverse("payments:return", args=[payment.pk]), follow=True)
    assert "コンビニ払いの方は" in back.content.decode()
    # when: the shop reports the payment
    paid = fake_stripe.event("checkout.session.async_payment_succeeded", payment.reference, secret=WHSEC)
    assert _post_event(town.slug, *paid).status_code == 200
    # then
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and submission.status == S.RECEIVED


def test_a_konbini_payment_made_after_the_fee_was_given_up_is_recorded_to_refund(
    fake_stripe, opened, town, somu, somu_editor
):
    # given: a konbini slip was issued, then the fee was given up here (the subject lapsed)
    submission, payment, _url = opened
    fake_stripe.complete(payment.reference, payment_status="unpaid")
    assert (
        _post_event(
            town.slug, *fake_stripe.event("checkout.session.completed", payment.reference, secret=WHSEC)
        ).status_code
        == 200
    )
    assert payments_cancel_pending(subject=submission) == 1
    # when: the resident pays at the shop anyway, and Stripe says so (twice)
    paid = fake_stripe.event("checkout.session.async_payment_succeeded", payment.reference, secret=WHSEC)
    assert _post_event(town.slug, *paid).status_code == 200
    assert _post_event(town.slug, *paid).status_code == 200
    # then: the money is recorded once, flagged to refund; the subject is left as it was
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert (payment.status, payment.detail[PAID_AFTER_CANCEL]) == (PaymentStatus.PAID, True)
    assert submission.status == S.AWAITING_PAYMENT
    [entry] = AuditEntry.objects.filter(action="municipalities.payment.paid_after_cancel")
    assert "取消後の入金を記録しました（要返金）" in audit_sentence(entry)
    # and: the department's reconciliation lists it to refund, and a refund takes it off
    staff = Client()
    staff.force_login(somu_editor, backend="municipalities.auth.RoleBackend")
    url = reverse("admin:municipalities_payment_reconciliation")
    page = staff.get(url)
    assert list(page.context_data["to_refund"]) == [payment]
    assert "取消後の入金（要返金）" in page.content.decode()
    head = make_staff("somu_head2", town, Role.HEAD, somu)
    payment_refund(payment=payment, actor=head, reason="予約失効後の入金")
    assert list(staff.get(url).context_data["to_refund"]) == []


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("checkout.session.expired", PaymentStatus.CANCELLED),
        ("checkout.session.async_payment_failed", PaymentStatus.FAILED),
    ],
)
def test_expired_or_failed_checkout_keeps_the_submission_waiting(
    fake_stripe, opened, town, event_type, status
):
    submission, payment, _url = opened
    body, signature = fake_stripe.event(event_type, payment.reference, secret=WHSEC)
    assert _post_event(town.slug, body, signature).status_code == 200
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.status == status and submission.status == S.AWAITING_PAYMENT


@pytest.mark.parametrize("forgery", ["wrong secret", "body changed", "no header", "old timestamp"])
def test_forged_webhook_is_refused_and_changes_nothing(fake_stripe, opened, town, forgery):
    submission, payment, _url = opened
    fake_stripe.complete(payment.reference)
    body, signature = fake_stripe.event("checkout.session.completed", payment.reference, secret=WHSEC)
    if forgery == "wrong secret":
        signature = sign(body, "whsec_someone_else")
    elif forgery == "body changed":
        body = body.replace(b'"amount_total": 300', b'"amount_total": 1')
    elif forgery == "no header":
        signature = ""
    else:
        signature = sign(body, WHSEC, timestamp=1_600_000_000)
    response = _post_event(town.slug, body, signature)
    assert response.status_code == 400
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and submission.status == S.AWAITING_PAYMENT


def test_an_event_for_an_unknown_session_or_another_type_is_acknowledged(fake_stripe, opened, town):
    _submission, payment, _url = opened
    fake_stripe.state.sessions["cs_other"] = {
        **fake_stripe.state.sessions[payment.reference],
        "id": "cs_other",
    }
    other = fake_stripe.event("checkout.session.completed", "cs_other", secret=WHSEC)
    assert _post_event(town.slug, *other).status_code == 200
    unrelated = fake_stripe.event("customer.created", payment.reference, secret=WHSEC)
    assert _post_event(town.slug, *unrelated).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_refund_goes_to_stripe_once_even_when_retried(fake_stripe, opened, town, somu):
    # given: a paid payment
    _submission, payment, _url = opened
    fake_stripe.complete(payment.reference)
    _post_event(town.slug, *fake_stripe.event("checkout.session.completed", payment.reference, secret=WHSEC))
    head = make_staff("somu_head", town, "head", somu)
    fake_stripe.fail("refunds", 500)  # Stripe fails once; the SDK retries with the same key
    # when
    refunded = payment_refund(payment=Payment.objects.get(pk=payment.pk), actor=head, reason="誤請求")
    # then
    attempts = fake_stripe.requests_to("refunds")
    assert [r.idempotency_key for r in attempts] == [f"refund-{payment.pk}"] * 2
    assert attempts[-1].params == {"payment_intent": refunded.detail["payment_intent"], "amount": "300"}
    assert len(fake_stripe.state.refunds) == 1
    assert refunded.status == PaymentStatus.REFUNDED
    assert refunded.detail["refund"]["stripe_refund_id"].startswith("re_test_")


def test_refund_refused_by_stripe_changes_nothing(fake_stripe, opened, town, somu):
    _submission, payment, _url = opened
    fake_stripe.complete(payment.reference)
    _post_event(town.slug, *fake_stripe.event("checkout.session.completed", payment.reference, secret=WHSEC))
    head = make_staff("somu_head", town, "head", somu)
    fake_stripe.fail("refunds", 400)
    with pytest.raises(PaymentError, match="返金できませんでした"):
        payment_refund(payment=Payment.objects.get(pk=payment.pk), actor=head, reason="誤請求")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID


def test_stripe_unreachable_is_a_japanese_message_and_nothing_changes(settings, stripe_form, resident):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    submission = submit(stripe_form, resident, payment_method="stripe")
    payment = submission.payments.get()
    response = client_for(resident).get(reverse("payments:checkout", args=[payment.pk]))
    assert response.status_code == 400
    assert "決済サービスにつながりませんでした" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and not payment.detail.get("redirect_url")


def test_stripe_is_not_offered_by_a_town_without_keys(somu, resident):
    form = simple_form(somu, fee=300, payment_methods=["stripe"])
    with pytest.raises(Exception, match="この支払方法は設定されていない"):
        submit(form, resident, payment_method="stripe")
    assert not Payment.objects.exists()


def test_the_form_builder_refuses_stripe_until_the_town_has_its_keys(somu, town):
    from applications.admin import ApplicationFormForm

    data = {"department": somu.pk, "title": "証明書", "fee": 300, "payment_methods": ["stripe"]}
    form = ApplicationFormForm(data=data)
    assert not form.is_valid()
    assert "自治体の設定（オンライン決済）が済んでいない" in str(form.errors["payment_methods"])
    municipality_update(
        municipality=town, actor=None, data={"stripe_secret_key": "sk_test_x", "stripe_webhook_secret": WHSEC}
    )
    somu.municipality.refresh_from_db()
    assert "payment_methods" not in ApplicationFormForm(data=data).errors


def test_the_resident_is_offered_only_the_methods_the_town_can_take(somu, resident):
    from tests.applications.test_views import confirm_url

    form = simple_form(somu, fee=300, payment_methods=["stripe", "counter"])
    client = client_for(resident)
    page = client.get(
        confirm_url(client.post(reverse("applications:form", args=[form.pk]), {"name": "山田 花子"}))
    )
    body = page.content.decode()
    assert "窓口払い" in body and "クレジットカード" not in body
