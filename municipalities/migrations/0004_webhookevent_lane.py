from django.db import migrations, models

from municipalities.migration_operations import AddIndexWithoutLocking, RemoveIndexWithoutLocking


class Migration(migrations.Migration):
    # The indexes are built and dropped without holding webhook inserts (CONCURRENTLY), which
    # PostgreSQL runs only outside a transaction. The new column has a constant default and no
    # CHECK constraint, so adding it neither rewrites nor scans the table.
    atomic = False

    dependencies = [
        ('municipalities', '0003_webhookevent_pending_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='webhookevent',
            name='lane',
            field=models.SmallIntegerField(default=0, verbose_name='処理レーン'),
        ),
        AddIndexWithoutLocking(
            model_name='webhookevent',
            index=models.Index(condition=models.Q(('status', 'received')), fields=['municipality', 'lane', 'created_at', 'id'], name='munic_webhookevent_lane_idx'),
        ),
        RemoveIndexWithoutLocking(
            model_name='webhookevent',
            name='munic_webhookevent_pending_idx',
        ),
    ]
