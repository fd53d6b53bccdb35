# Household members a resident registers in LINE (written for this change only).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("municipalities", "0007_town_chat_settings"),
    ]

    operations = [
        migrations.CreateModel(
            name="HouseholdMember",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        db_index=True,
                        default=django.utils.timezone.now,
                        editable=False,
                        verbose_name="作成日時",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="更新日時")),
                ("name", models.CharField(max_length=100, verbose_name="氏名")),
                (
                    "kana",
                    models.CharField(
                        help_text="カタカナで保存します。", max_length=100, verbose_name="フリガナ"
                    ),
                ),
                ("birth_date", models.DateField(verbose_name="生年月日")),
                (
                    "relationship",
                    models.CharField(
                        choices=[
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
                (
                    "is_active",
                    models.BooleanField(
                        default=True,
                        editable=False,
                        help_text="住民が削除すると「いいえ」になります（過去の予約の記録は残ります）。",
                        verbose_name="登録中",
                    ),
                ),
                (
                    "municipality",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="household_members",
                        to="municipalities.municipality",
                        verbose_name="自治体",
                    ),
                ),
                (
                    "resident",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="household_members",
                        to="municipalities.resident",
                        verbose_name="登録した住民",
                    ),
                ),
            ],
            options={
                "verbose_name": "世帯の家族",
                "verbose_name_plural": "世帯の家族",
                "ordering": ["resident_id", "birth_date", "pk"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("is_active", True)),
                        fields=["resident", "birth_date"],
                        name="munic_household_active_idx",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "relationship__in",
                                [
                                    "child",
                                    "spouse",
                                    "parent",
                                    "grandchild",
                                    "grandparent",
                                    "sibling",
                                    "other",
                                ],
                            )
                        ),
                        name="municipalities_householdmember_relationship_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("name", ""), _negated=True),
                        name="municipalities_householdmember_name_set",
                    ),
                ],
            },
        ),
    ]
