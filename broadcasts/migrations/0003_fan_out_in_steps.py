from django.db import migrations, models


class Migration(migrations.Migration):
    """The fan-out writes a broadcast's batches in steps. Broadcasts started before this wrote
    them all in the transaction that started them: they count as fanned out then (a sending
    one can still finish)."""

    dependencies = [
        ("broadcasts", "0002_deliverybatch_ids_lz4"),
    ]

    operations = [
        migrations.AddField(
            model_name="broadcast",
            name="fanned_out_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="配信対象の確定日時"),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="fanout_after_resident_id",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(
            "UPDATE broadcasts_broadcast SET fanned_out_at = started_at WHERE started_at IS NOT NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
