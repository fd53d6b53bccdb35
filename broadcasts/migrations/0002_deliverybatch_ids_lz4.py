"""Batch user ids compressed with LZ4 on PostgreSQL.

The fan-out writes a city's recipients as thousands of jsonb arrays of 500 ids at once (two
million ids for a 1.8-million-friend town). PostgreSQL's default TOAST compression (pglz) took
about 0.5 s of that statement; LZ4 about 0.1 s. Only values written from now on are affected.
A server built without LZ4 keeps pglz: the broadcast works the same, only slower to start.
"""

from django.db import DatabaseError, migrations, transaction


def use_lz4(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("ALTER TABLE broadcasts_deliverybatch ALTER COLUMN line_user_ids SET COMPRESSION lz4")
    except DatabaseError:  # "compression method lz4 not supported": a server built without it
        pass


def use_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE broadcasts_deliverybatch ALTER COLUMN line_user_ids SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [
        ("broadcasts", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(use_lz4, use_default),
    ]
