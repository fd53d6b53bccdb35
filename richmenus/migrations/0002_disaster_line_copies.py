from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("richmenus", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="disastermode",
            name="line_copies",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="通常メニューごとの災害メニューの LINE の ID（一括置き換えで行き来するため）。",
                verbose_name="LINE 上の災害メニュー",
            ),
        ),
    ]
