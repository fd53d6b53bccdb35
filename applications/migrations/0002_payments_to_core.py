"""Payments move to the core (``municipalities.Payment``, subject = the submission).

Every row of ``applications_payment`` is copied, with its state, amounts, times, provider detail
and the staff member who recorded it; the department is the form's, the payer the submission's
resident, and the description the form's title. Reversing copies them back and removes them from
the core (a payment the old schema cannot hold — Stripe — stops the reversal with a message).
"""

from django.conf import settings
from django.db import migrations, models

FIELDS = ("provider", "amount", "status", "reference", "paid_at", "failed_at", "refunded_at", "detail", "created_at")


def _submission_type(apps):
    ContentType = apps.get_model("contenttypes", "ContentType")
    return ContentType.objects.get_or_create(app_label="applications", model="submission")[0]


def copy_to_core(apps, schema_editor):
    Old = apps.get_model("applications", "Payment")
    New = apps.get_model("municipalities", "Payment")
    subject_type = _submission_type(apps)
    for old in Old.objects.select_related("submission__form").order_by("pk").iterator(chunk_size=500):
        new = New.objects.create(
            department_id=old.submission.form.department_id,
            resident_id=old.submission.resident_id,
            subject_type=subject_type,
            subject_id=old.submission_id,
            description=old.submission.form.title[:200],
            recorded_by_id=old.recorded_by_id,
            **{name: getattr(old, name) for name in FIELDS},
        )
        # updated_at is auto_now: keep the row's own time rather than the migration's.
        New.objects.filter(pk=new.pk).update(updated_at=old.updated_at)


def copy_back(apps, schema_editor):
    Old = apps.get_model("applications", "Payment")
    New = apps.get_model("municipalities", "Payment")
    moved = New.objects.filter(subject_type=_submission_type(apps))
    if moved.exclude(provider__in=["counter", "sandbox"]).exists():
        raise RuntimeError(
            "Payments through Stripe exist; applications' old payment table cannot hold them. "
            "Reversing this migration would lose them, so it stops here."
        )
    for new in moved.order_by("pk").iterator(chunk_size=500):
        old = Old.objects.create(
            submission_id=new.subject_id,
            recorded_by_id=new.recorded_by_id,
            **{name: getattr(new, name) for name in FIELDS},
        )
        Old.objects.filter(pk=old.pk).update(updated_at=new.updated_at)
    moved.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("municipalities", "0011_payments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(copy_to_core, copy_back),
        migrations.RemoveConstraint(
            model_name="submission",
            name="applications_submission_payment_method_valid",
        ),
        migrations.AlterField(
            model_name="submission",
            name="payment_method",
            field=models.CharField(
                blank=True,
                choices=[
                    ("counter", "窓口払い"),
                    ("sandbox", "オンライン決済（テスト環境）"),
                    ("stripe", "オンライン決済（クレジットカード・コンビニ・PayPay）"),
                ],
                editable=False,
                max_length=20,
                verbose_name="支払方法",
            ),
        ),
        migrations.AddConstraint(
            model_name="submission",
            constraint=models.CheckConstraint(
                condition=models.Q(("payment_method__in", ["counter", "sandbox", "stripe", ""])),
                name="applications_submission_payment_method_valid",
            ),
        ),
        migrations.DeleteModel(name="Payment"),
    ]
