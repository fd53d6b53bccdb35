"""Factories of the chatbot tests and the permission-matrix builders of its admin models."""

from __future__ import annotations

import factory
from django.utils import timezone

from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    CollectionRule,
    Faq,
    GarbageCategory,
    GarbageItem,
    HandoffRoute,
    KeywordRule,
    StaffReply,
    TalkThread,
    UnansweredQuestion,
)
from municipalities.models import Area
from municipalities.services import resident_follow
from tests.matrix import matrix_builder


class FaqFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Faq

    question = factory.Sequence(lambda n: f"質問{n}はどこで聞けますか")
    answer = "総務課の窓口でお答えします。"


class KeywordRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeywordRule

    keyword = factory.Sequence(lambda n: f"キーワード{n}")
    reply = "固定の返信です。"


class GarbageCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GarbageCategory

    label = factory.Sequence(lambda n: f"分類{n}")


class GarbageItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GarbageItem

    category = factory.SubFactory(GarbageCategoryFactory)
    municipality = factory.SelfAttribute("category.municipality")
    name = factory.Sequence(lambda n: f"品目{n}")


@matrix_builder(Faq)
def _faq(department):
    return FaqFactory(department=department)


@matrix_builder(KeywordRule)
def _keyword(department):
    return KeywordRuleFactory(department=department)


@matrix_builder(HandoffRoute)
def _route(department):
    return HandoffRoute.objects.create(department=department, topic=f"話題{department.pk}", keywords="相談")


@matrix_builder(GarbageCategory)
def _category(department):
    return GarbageCategoryFactory(municipality=department.municipality)


@matrix_builder(GarbageItem)
def _item(department):
    return GarbageItemFactory(category__municipality=department.municipality)


@matrix_builder(CenterHoliday)
def _holiday(department):
    today = timezone.localdate()
    return CenterHoliday.objects.create(
        municipality=department.municipality, center="センター", starts_on=today, ends_on=today
    )


@matrix_builder(AreaCalendar)
def _calendar(department):
    area = Area.objects.create(municipality=department.municipality, name=f"地区{Area.objects.count()}")
    return AreaCalendar.objects.create(municipality=department.municipality, area=area)


@matrix_builder(CollectionRule)
def _rule(department):
    calendar = _calendar(department)
    category = GarbageCategoryFactory(municipality=department.municipality)
    return CollectionRule.objects.create(
        municipality=department.municipality, calendar=calendar, category=category, rule="月 木"
    )


@matrix_builder(UnansweredQuestion)
def _unanswered(department):
    return UnansweredQuestion.objects.create(
        municipality=department.municipality,
        normalized=f"q{UnansweredQuestion.objects.count()}",
        text="質問",
        last_asked_at=timezone.now(),
    )


def _resident(department):
    resident, _ = resident_follow(municipality=department.municipality, line_user_id=f"U{department.pk:032d}")
    return resident


@matrix_builder(TalkThread)
def _thread(department):
    return TalkThread.objects.get(pk=_resident(department).pk)


@matrix_builder(StaffReply)
def _reply(department):
    return StaffReply.objects.create(
        municipality=department.municipality, resident=_resident(department), text="こんにちは"
    )
