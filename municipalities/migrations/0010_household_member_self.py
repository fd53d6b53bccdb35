# A resident's own entry among the household members (for menus with an age rule).

from django.db import migrations, models

RELATIONSHIPS = ["self", "child", "spouse", "parent", "grandchild", "grandparent", "sibling", "other"]


class Migration(migrations.Migration):
    dependencies = [
        ("municipalities", "0009_webhookevent_attempts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="householdmember",
            name="relationship",
            field=models.CharField(
                choices=[
                    ("self", "本人"),
                    ("child", "子"),
                    ("spouse", "配偶者"),
                    ("parent", "父母"),
                    ("grandchild", "孫"),
                    ("grandparent", "祖父母"),
                    ("sibling", "兄弟姉妹"),
                    ("other", "その他"),
                ],
                help_text="登録した住民から見た続柄です。",
                max_length=16,
                verbose_name="続柄",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="householdmember",
            name="municipalities_householdmember_relationship_valid",
        ),
        migrations.AddConstraint(
            model_name="householdmember",
            constraint=models.CheckConstraint(
                condition=models.Q(("relationship__in", RELATIONSHIPS)),
                name="municipalities_householdmember_relationship_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="householdmember",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_active", True), ("relationship", "self")),
                fields=("resident",),
                name="municipalities_householdmember_one_self",
            ),
        ),
    ]
