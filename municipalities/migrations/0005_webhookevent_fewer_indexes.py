from django.db import migrations, models

from municipalities.migration_operations import AddIndexWithoutLocking

TABLE = "municipalities_webhookevent"
# The indexes Django made for ``municipality`` (a foreign key) and ``line_user_id``
# (``db_index=True``; on PostgreSQL also a ``varchar_pattern_ops`` twin for LIKE 'x%', which
# nothing asks). Dropping them through AlterField would, on PostgreSQL, also drop and re-validate
# the foreign key, scanning the table while webhook inserts wait.
FIELD_INDEXES = [
    ("municipalities_webhookevent_municipality_id_2bb89930", "municipality_id", False),
    ("municipalities_webhookevent_line_user_id_cc86b9ca", "line_user_id", False),
    ("municipalities_webhookevent_line_user_id_cc86b9ca_like", "line_user_id varchar_pattern_ops", True),
]


def _concurrently(schema_editor):
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def drop_field_indexes(apps, schema_editor):
    for name, _columns, _postgresql_only in FIELD_INDEXES:
        schema_editor.execute(f'DROP INDEX{_concurrently(schema_editor)} IF EXISTS "{name}"')


def create_field_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for name, columns, postgresql_only in FIELD_INDEXES:
        if postgresql or not postgresql_only:
            schema_editor.execute(
                f'CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS "{name}" ON "{TABLE}" ({columns})'
            )


class Migration(migrations.Migration):
    # Every webhook post inserts into this table: of its eight indexes, the two on line_user_id
    # and the one on municipality alone go (the unique constraint starts with municipality), and
    # a partial index of the unfollow events, which the broadcasts' unfollow count reads, comes.
    # Built and dropped CONCURRENTLY, which PostgreSQL runs only outside a transaction.
    atomic = False

    dependencies = [
        ('municipalities', '0004_webhookevent_lane'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='webhookevent',
                    name='line_user_id',
                    field=models.CharField(blank=True, max_length=64, verbose_name='LINE ユーザーID'),
                ),
                migrations.AlterField(
                    model_name='webhookevent',
                    name='municipality',
                    field=models.ForeignKey(db_index=False, on_delete=models.deletion.PROTECT, related_name='webhook_events', to='municipalities.municipality', verbose_name='自治体'),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_field_indexes, create_field_indexes),
            ],
        ),
        AddIndexWithoutLocking(
            model_name='webhookevent',
            index=models.Index(condition=models.Q(('event_type', 'unfollow')), fields=['municipality', 'line_user_id'], name='munic_webhookevent_unfol_idx'),
        ),
    ]
