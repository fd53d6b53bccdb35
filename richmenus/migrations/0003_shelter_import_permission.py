from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("richmenus", "0002_disaster_line_copies"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="shelter",
            options={
                "ordering": ["municipality", "name"],
                "permissions": [("import_shelter", "避難所を取り込める")],
                "verbose_name": "避難所",
                "verbose_name_plural": "避難所",
            },
        ),
    ]
