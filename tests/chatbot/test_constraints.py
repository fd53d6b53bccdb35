"""Every named constraint of the chatbot's models rejects what it forbids."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    ChatState,
    CollectionRule,
    Faq,
    GarbageCategory,
    GarbageItem,
    GarbageRemark,
    GarbageReminder,
    KeywordRule,
    UnansweredQuestion,
)
from municipalities.models import Area


def violates(make) -> bool:
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


def test_constraints(town, kenko, resident):
    today = timezone.localdate()
    category = GarbageCategory.objects.create(municipality=town, label="可燃ごみ")
    assert violates(lambda: GarbageCategory.objects.create(municipality=town, label="可燃ごみ"))
    GarbageItem.objects.create(municipality=town, category=category, name="紙くず")
    assert violates(lambda: GarbageItem.objects.create(municipality=town, category=category, name="紙くず"))
    GarbageRemark.objects.create(municipality=town, number=1, text="a")
    assert violates(lambda: GarbageRemark.objects.create(municipality=town, number=1, text="b"))
    assert violates(
        lambda: CenterHoliday.objects.create(
            municipality=town, center="c", starts_on=today, ends_on=today - dt.timedelta(days=1)
        )
    )
    assert violates(
        lambda: CenterHoliday.objects.create(
            municipality=town, center="c", starts_on=today, ends_on=today, policy="skip"
        )
    )
    calendar = AreaCalendar.objects.create(
        municipality=town, area=Area.objects.create(municipality=town, name="東町")
    )
    CollectionRule.objects.create(municipality=town, calendar=calendar, category=category, rule="月")
    assert violates(
        lambda: CollectionRule.objects.create(
            municipality=town, calendar=calendar, category=category, rule="火"
        )
    )
    Faq.objects.create(department=kenko, question="q", answer="a")
    assert violates(lambda: Faq.objects.create(department=kenko, question="q", answer="b"))
    assert violates(
        lambda: Faq.objects.create(department=kenko, question="r", answer="b", link_url="https://example.jp")
    )
    KeywordRule.objects.create(department=kenko, keyword="k", reply="r")
    assert violates(lambda: KeywordRule.objects.create(department=kenko, keyword="k", reply="s"))
    UnansweredQuestion.objects.create(
        municipality=town, normalized="n", text="t", last_asked_at=timezone.now()
    )
    assert violates(
        lambda: UnansweredQuestion.objects.create(
            municipality=town, normalized="n", text="t", last_asked_at=timezone.now()
        )
    )
    assert violates(
        lambda: UnansweredQuestion.objects.create(
            municipality=town, normalized="m", text="t", last_asked_at=timezone.now(), status="x"
        )
    )
    assert violates(lambda: ChatState.objects.create(municipality=town, resident=resident, pending="nothing"))
    GarbageReminder.objects.create(municipality=town, resident=resident, collection_on=today)
    assert violates(
        lambda: GarbageReminder.objects.create(municipality=town, resident=resident, collection_on=today)
    )


def test_collection_rule_form_validation(town):
    from django.core.exceptions import ValidationError

    category = GarbageCategory.objects.create(municipality=town, label="資源")
    calendar = AreaCalendar.objects.create(
        municipality=town, area=Area.objects.create(municipality=town, name="西町")
    )
    rule = CollectionRule(municipality=town, calendar=calendar, category=category, rule="第2火曜")
    with pytest.raises(ValidationError) as excinfo:
        rule.full_clean()
    assert "第2火曜" in str(excinfo.value)
    rule.rule = "　火２ "
    rule.full_clean()
    assert rule.rule == "火2"
