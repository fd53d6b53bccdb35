"""Resident pages: form → confirm → submit once, errors in Japanese, corrections, payment, isolation."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from applications.models import Attachment, FieldKind, Submission
from applications.services import submission_transition
from applications.workflow import SubmissionStatus as S
from municipalities.models import Payment
from municipalities.payments.sandbox import signed_result
from municipalities.services.payments import payment_checkout_url
from tests.applications.factories import FormFieldFactory, simple_form, submit
from tests.applications.files import EXE, PNG, upload
from tests.conftest import resident_client as client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload_form(kenko):
    form = simple_form(kenko, title="補助金の申請")
    FormFieldFactory(
        form=form,
        position=3,
        kind=FieldKind.FILE,
        label="領収書",
        key="receipt",
        required=True,
        file_types=["png", "pdf"],
    )
    FormFieldFactory(form=form, position=4, kind=FieldKind.PHONE, label="電話番号", key="tel", required=True)
    return form


def confirm_url(response) -> str:
    assert response.status_code == 302, getattr(response, "content", b"")[:2000].decode()
    assert "/confirm/" in response["Location"]
    return response["Location"]


def test_signed_out_resident_gets_the_sign_in_page(form):
    response = Client().get(reverse("applications:form", args=[form.pk]))
    assert response.status_code == 403


def test_form_list_shows_open_forms_of_the_town_only(form, resident, other_department):
    simple_form(other_department, title="よその町の申請")
    simple_form(form.department, title="非公開の申請", is_published=False)
    body = client_for(resident).get(reverse("applications:form_list")).content.decode()
    assert "犬の登録申請" in body
    assert "よその町の申請" not in body and "非公開の申請" not in body


def test_full_flow_with_upload_confirm_and_submit_once(
    upload_form, resident, django_capture_on_commit_callbacks
):
    client = client_for(resident)
    # given: the resident fills in the form with full-width digits and a PNG
    response = client.post(
        reverse("applications:form", args=[upload_form.pk]),
        {
            "name": "山田　花子",
            "note": "",
            "tel": "０９０ー１１１１ー２２２２",
            "receipt": upload("receipt.png", PNG),
        },
    )
    url = confirm_url(response)
    page = client.get(url).content.decode()
    assert "090-1111-2222" in page and "receipt.png" in page
    # when: the confirm button is pressed twice (double tap / retry)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url)
        second = client.post(url)
    # then: one submission, the file attached, the 受付番号 shown
    assert Submission.objects.count() == 1
    submission = Submission.objects.get()
    assert submission.answers["tel"] == "09011112222"
    assert submission.attachments.get().original_name == "receipt.png"
    assert first.status_code == 302 and "done=1" in first["Location"]
    assert second.status_code == 302  # the draft is gone: back to the list, nothing new
    done = client.get(first["Location"]).content.decode()
    assert submission.reference in done and "申請を受け付けました" in done


def test_errors_are_shown_next_to_fields_and_input_is_kept(upload_form, resident):
    response = client_for(resident).post(
        reverse("applications:form", args=[upload_form.pk]),
        {"name": "山田花子", "tel": "12345", "receipt": upload("receipt.png", EXE, "image/png")},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "入力内容に誤りがあります" in body
    assert re.search(r'id="error-tel".*電話番号は 0 から始まる', body, re.S)
    assert "このファイル形式は受け付けていません" in body
    assert 'value="山田花子"' in body
    assert Submission.objects.count() == 0 and Attachment.objects.count() == 0


def test_back_from_confirm_keeps_the_answers(form, resident):
    client = client_for(resident)
    url = confirm_url(
        client.post(reverse("applications:form", args=[form.pk]), {"name": "山田 花子", "note": "よろしく"})
    )
    back = re.search(r'href="([^"]+\?draft=[^"]+)"', client.get(url).content.decode()).group(1)
    body = client.get(back.replace("&amp;", "&")).content.decode()
    assert 'value="山田 花子"' in body and "よろしく" in body


def test_closed_form_says_so(form, resident, kenko_editor):
    from applications.services import form_close

    form_close(form=form, actor=kenko_editor)
    response = client_for(resident).get(reverse("applications:form", args=[form.pk]))
    assert "現在受け付けていません" in response.content.decode()


def test_closed_between_confirm_and_submit_shows_a_message(form, resident, kenko_editor):
    from applications.services import form_close

    client = client_for(resident)
    url = confirm_url(client.post(reverse("applications:form", args=[form.pk]), {"name": "山田 花子"}))
    form_close(form=form, actor=kenko_editor)
    response = client.post(url)
    assert response.status_code == 400
    assert "現在受け付けていません" in response.content.decode()
    assert Submission.objects.count() == 0


def test_other_residents_and_towns_get_404(form, resident, other_resident, other_department):
    submission = submit(form, resident)
    other = client_for(other_resident)
    assert (
        other.get(reverse("applications:submission_detail", args=[submission.reference])).status_code == 404
    )
    assert (
        other.post(reverse("applications:submission_cancel", args=[submission.reference])).status_code == 404
    )
    foreign = simple_form(other_department)
    assert client_for(resident).get(reverse("applications:form", args=[foreign.pk])).status_code == 404


def test_attachments_only_for_their_owner(upload_form, resident, other_resident):
    client = client_for(resident)
    url = confirm_url(
        client.post(
            reverse("applications:form", args=[upload_form.pk]),
            {"name": "山田 花子", "tel": "0263123456", "receipt": upload("r.png", PNG)},
        )
    )
    client.post(url)
    submission = Submission.objects.get()
    attachment = submission.attachments.get()
    own = client.get(reverse("applications:attachment_download", args=[submission.reference, attachment.pk]))
    assert own.status_code == 200 and b"".join(own.streaming_content) == PNG
    assert own["Cache-Control"] == "private, no-store"
    other = client_for(other_resident)
    assert (
        other.get(
            reverse("applications:attachment_download", args=[submission.reference, attachment.pk])
        ).status_code
        == 404
    )
    assert other.get(reverse("applications:staged_download", args=[attachment.pk])).status_code == 404
    with pytest.raises(ValueError, match="no public URL"):
        attachment.file.url  # noqa: B018


def test_my_applications_show_status_and_next_step(form, resident, kenko_editor):
    submission = submit(form, resident)
    submission_transition(submission=submission, name="review", actor=kenko_editor)
    body = client_for(resident).get(reverse("applications:submission_list")).content.decode()
    assert submission.reference in body and "審査中" in body and "担当者が内容を確認しています" in body


def test_correction_link_reopens_the_form_filled_in(upload_form, resident, kenko_editor):
    # given: a submission with a file, sent back for correction
    client = client_for(resident)
    url = confirm_url(
        client.post(
            reverse("applications:form", args=[upload_form.pk]),
            {"name": "山田 花子", "tel": "0263123456", "receipt": upload("r.png", PNG)},
        )
    )
    client.post(url)
    submission = Submission.objects.get()
    submission_transition(
        submission=submission, name="request_correction", actor=kenko_editor, reason="電話番号が違います"
    )
    # when: the resident opens the edit page
    page = client.get(reverse("applications:submission_edit", args=[submission.reference])).content.decode()
    # then: the answers are there, the file is kept, the reason is shown
    assert 'value="山田 花子"' in page and 'value="0263123456"' in page
    assert "電話番号が違います" in page and "提出済み: r.png" in page
    # and resubmitting without a new file keeps the old one
    url = confirm_url(
        client.post(
            reverse("applications:submission_edit", args=[submission.reference]),
            {"name": "山田 花子", "tel": "0263999999"},
        )
    )
    client.post(url)
    submission.refresh_from_db()
    assert submission.status == S.RECEIVED and submission.answers["tel"] == "0263999999"
    assert submission.attachments.count() == 1


def test_resident_cancels_before_review(form, resident):
    submission = submit(form, resident)
    client_for(resident).post(reverse("applications:submission_cancel", args=[submission.reference]))
    submission.refresh_from_db()
    assert submission.status == S.CANCELLED


def test_sandbox_payment_through_the_pages(fee_form, resident):
    client = client_for(resident)
    url = confirm_url(client.post(reverse("applications:form", args=[fee_form.pk]), {"name": "山田 花子"}))
    assert "お支払い方法" in client.get(url).content.decode()
    # when: submit choosing the online gateway
    response = client.post(url, {"payment_method": "sandbox"})
    payment = Payment.objects.get()
    assert response["Location"] == reverse("payments:checkout", args=[payment.pk])
    to_gateway = client.get(response["Location"])
    payment.refresh_from_db()
    assert to_gateway["Location"] == reverse("payments:sandbox_checkout", args=[payment.reference])
    checkout = client.get(to_gateway["Location"])
    assert "300円" in checkout.content.decode()
    # when: the resident pays on the gateway's page
    back = client.post(to_gateway["Location"], {"outcome": "paid"})
    assert back.status_code == 302 and "signature=" in back["Location"]
    returned = client.get(back["Location"])
    assert returned["Location"] == reverse("payments:return", args=[payment.pk])
    final = client.get(returned["Location"])
    # then
    submission = Submission.objects.get()
    assert final.status_code == 302 and submission.status == S.RECEIVED
    assert final["Location"] == reverse("applications:submission_detail", args=[submission.reference])
    assert "お支払いが完了しました" in client.get(final["Location"]).content.decode()


def _follow(client, location: str, hops: int = 6) -> str:
    for _ in range(hops):
        response = client.get(location)
        if response.status_code != 302:
            return response.content.decode()
        location = response["Location"]
    raise AssertionError("too many redirects")


def test_sandbox_cancel_then_pay_again(fee_form, resident):
    client = client_for(resident)
    url = confirm_url(client.post(reverse("applications:form", args=[fee_form.pk]), {"name": "山田 花子"}))
    to_gateway = client.get(client.post(url, {"payment_method": "sandbox"})["Location"])["Location"]
    back = client.post(to_gateway, {"outcome": "cancelled"})
    detail = _follow(client, back["Location"])
    assert "キャンセルしました" in detail and "円を支払う" in detail
    submission = Submission.objects.get()
    retry = client.post(reverse("applications:submission_pay", args=[submission.reference]))
    assert retry["Location"].startswith("/payments/") and retry["Location"].endswith("/checkout/")
    assert "/sandbox/checkout/" in client.get(retry["Location"])["Location"]
    assert Payment.objects.count() == 2


def _opened_sandbox_payment(fee_form, resident) -> Payment:
    payment = submit(fee_form, resident, payment_method="sandbox").payments.get()
    payment_checkout_url(payment=payment, return_url="")
    payment.refresh_from_db()
    return payment


def test_forged_callback_is_a_clear_400(fee_form, resident):
    payment = _opened_sandbox_payment(fee_form, resident)
    params = signed_result(reference=payment.reference, outcome="paid", amount=payment.amount)
    params["amount"] = "1"
    response = Client().get(reverse("payments:sandbox_callback"), params)
    assert response.status_code == 400
    assert "署名が正しくありません" in response.content.decode()
    server = Client().post(reverse("payments:sandbox_callback"), {**params, "signature": "bad"})
    assert server.status_code == 400 and server.content == b"NG"
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_server_to_server_callback(fee_form, resident):
    payment = _opened_sandbox_payment(fee_form, resident)
    response = Client().post(
        reverse("payments:sandbox_callback"),
        signed_result(reference=payment.reference, outcome="paid", amount=300),
    )
    assert response.content == b"OK"
    submission = Submission.objects.get()
    assert submission.status == S.RECEIVED


def test_another_residents_payment_is_a_404(fee_form, resident, other_resident):
    payment = _opened_sandbox_payment(fee_form, resident)
    other = client_for(other_resident)
    assert other.get(reverse("payments:checkout", args=[payment.pk])).status_code == 404
    assert other.get(reverse("payments:return", args=[payment.pk])).status_code == 404
    assert other.get(reverse("payments:sandbox_checkout", args=[payment.reference])).status_code == 404


def test_counter_payment_instructions(fee_form, resident):
    client = client_for(resident)
    url = confirm_url(client.post(reverse("applications:form", args=[fee_form.pk]), {"name": "山田 花子"}))
    response = client.post(url, {"payment_method": "counter"})
    body = client.get(response["Location"]).content.decode()
    assert "窓口でお支払いください" in body


def test_postal_lookup_json(client):
    ok = client.get(reverse("applications:postal_lookup", args=["１００ー０００１"]))
    assert ok.json() == {"found": True, "code": "100-0001", "address": "東京都千代田区千代田"}
    missing = client.get(reverse("applications:postal_lookup", args=["9999999"]))
    assert missing.status_code == 404 and "見つかりません" in missing.json()["message"]


def test_one_per_resident_form_points_to_the_existing_submission(kenko, resident):
    form = simple_form(kenko, one_per_resident=True)
    submission = submit(form, resident)
    response = client_for(resident).get(reverse("applications:form", args=[form.pk]), follow=True)
    body = response.content.decode()
    assert "お一人 1 件まで" in body and submission.reference in body


def test_retry_after_submit_shows_the_submission(form, resident):
    client = client_for(resident)
    url = confirm_url(client.post(reverse("applications:form", args=[form.pk]), {"name": "山田 花子"}))
    client.post(url)
    again = client.get(url)
    submission = Submission.objects.get()
    assert again["Location"] == reverse("applications:submission_detail", args=[submission.reference])


def test_a_good_file_stays_chosen_while_other_errors_are_fixed(upload_form, resident, other_resident):
    client = client_for(resident)
    # given: a valid PNG but a wrong phone number
    response = client.post(
        reverse("applications:form", args=[upload_form.pk]),
        {"name": "山田 花子", "tel": "12", "receipt": upload("r.png", PNG)},
    )
    body = response.content.decode()
    assert "選択済み: r.png" in body
    staged_id = re.search(r'name="_staged_receipt" value="(\d+)"', body).group(1)
    # when: the resident fixes the phone number without choosing the file again
    url = confirm_url(
        client.post(
            reverse("applications:form", args=[upload_form.pk]),
            {"name": "山田 花子", "tel": "0263123456", "_staged_receipt": staged_id},
        )
    )
    client.post(url)
    # then
    assert Submission.objects.get().attachments.get().original_name == "r.png"
    # and another resident cannot borrow someone's staged file by its id
    other = client_for(other_resident)
    response = other.post(
        reverse("applications:form", args=[upload_form.pk]),
        {"name": "佐藤", "tel": "0263123456", "_staged_receipt": staged_id},
    )
    assert response.status_code == 200 and "ファイルを選んでください" in response.content.decode()


def test_back_from_confirm_keeps_the_file(upload_form, resident):
    client = client_for(resident)
    url = confirm_url(
        client.post(
            reverse("applications:form", args=[upload_form.pk]),
            {"name": "山田 花子", "tel": "0263123456", "receipt": upload("r.png", PNG)},
        )
    )
    back = re.search(r'href="([^"]+\?draft=[^"]+)"', client.get(url).content.decode()).group(1)
    body = client.get(back.replace("&amp;", "&")).content.decode()
    assert "選択済み: r.png" in body and 'name="_staged_receipt"' in body
