"""applications 0002: payments move to the core and back without losing a row or a value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from applications.models import Submission
from municipalities.models import Payment
from tests.applications.factories import simple_form
from tests.conftest import make_staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = ("applications", "0001_initial")


def _old_payment_model():
    return (
        MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model("applications", "Payment")
    )


def _submission(form, resident, status="awaiting_payment") -> Submission:
    return Submission.objects.create(
        form=form, resident=resident, reference=f"A-{resident.pk}-{form.pk}", status=status, fee=300
    )


@pytest.fixture
def old_rows(town, somu, resident, other_resident):
    """Three payments as applications 0001 stored them: paid at the counter, a failed and a
    pending online attempt. The form and submissions are made first, with today's schema (going
    back to 0001 also takes back the app's later migrations)."""
    form = simple_form(somu, title="住民票の写しの請求", fee=300, payment_methods=["sandbox", "counter"])
    cashier = make_staff("cashier", town, "editor", somu)
    paid_submission = _submission(form, resident, status="received")
    waiting = _submission(form, other_resident)
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        OldPayment = _old_payment_model()
        created = timezone.now() - timedelta(days=40)
        rows = [
            OldPayment.objects.create(
                submission_id=paid_submission.pk,
                provider="counter",
                amount=300,
                status="paid",
                reference="C000001-ABC",
                paid_at=created + timedelta(minutes=5),
                recorded_by_id=cashier.pk,
                detail={"receipt_number": "R-1"},
                created_at=created,
            ),
            OldPayment.objects.create(
                submission_id=waiting.pk,
                provider="sandbox",
                amount=300,
                status="failed",
                reference="SBX-000002-aaaa",
                failed_at=created,
                detail={"redirect_url": "/x/"},
                created_at=created,
            ),
            OldPayment.objects.create(
                submission_id=waiting.pk,
                provider="sandbox",
                amount=300,
                status="pending",
                reference="SBX-000003-bbbb",
                detail={"redirect_url": "/y/"},
                created_at=created,
            ),
        ]
        yield {"rows": rows, "form": form, "paid": paid_submission, "waiting": waiting, "cashier": cashier}
    finally:
        call_command("migrate", verbosity=0)


FIELDS = (
    "provider",
    "amount",
    "status",
    "reference",
    "paid_at",
    "failed_at",
    "refunded_at",
    "detail",
    "created_at",
)


def _values(obj) -> tuple:
    return tuple(getattr(obj, name) for name in FIELDS) + (obj.recorded_by_id, obj.updated_at)


def test_payments_move_to_the_core_and_back(old_rows, somu, resident, other_resident):
    # given
    originals = {row.reference: _values(row) for row in old_rows["rows"]}
    # when: forward
    call_command("migrate", "applications", verbosity=0)
    # then: every row is in the core, with what it was for, where it belongs and who pays
    moved = {p.reference: p for p in Payment.objects.all()}
    assert {ref: _values(p) for ref, p in moved.items()} == originals
    paid = moved["C000001-ABC"]
    assert paid.subject == old_rows["paid"] and paid.department == somu and paid.resident == resident
    assert paid.description == "住民票の写しの請求"
    assert {p.subject for p in old_rows["waiting"].payments.all()} == {old_rows["waiting"]}
    assert moved["SBX-000003-bbbb"].resident == other_resident
    # when: back
    call_command("migrate", *BEFORE, verbosity=0)
    # then: the same rows in applications again, none left in the core
    back = {row.reference: _values(row) for row in _old_payment_model().objects.all()}
    assert back == originals
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM municipalities_payment")
        assert cursor.fetchone()[0] == 0


def test_reversal_stops_rather_than_lose_a_stripe_payment(old_rows):
    call_command("migrate", "applications", verbosity=0)
    Payment.objects.filter(reference="SBX-000003-bbbb").update(provider="stripe", reference="cs_test_1")
    with pytest.raises(RuntimeError, match="Stripe"):
        call_command("migrate", *BEFORE, verbosity=0)
    assert Payment.objects.filter(reference="cs_test_1").exists()
