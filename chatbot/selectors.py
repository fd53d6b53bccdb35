"""Reads of the chatbot beyond one-liners: chat state, the areas a resident names, the talk shown to
staff, the hand-off routes (cached per process, see ``handoff_route_for``). The garbage dictionary
and FAQ index are read through ``chatbot.matching`` (cached)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rapidfuzz import fuzz

from chatbot.models import ChatState, Faq, HandoffRoute
from chatbot.normalize import key, reading
from municipalities.line.towncache import TownCache
from municipalities.models import Area, Resident, TalkMessage
from municipalities.permissions import policy_for

_AREA_TAIL = re.compile(r"(です|だよ|に住んでいます|にすんでいます|在住|に住んでます|住み)$")


def chat_state_get(*, resident: Resident) -> ChatState:
    """The resident's chat state (an unsaved default when there is none yet)."""
    return chat_state_or_default(resident=resident, state=ChatState.objects.filter(resident=resident).first())


def chat_state_or_default(*, resident: Resident, state: ChatState | None) -> ChatState:
    """``state`` (read already, e.g. with the resident), or the unsaved default when there is none."""
    return state or ChatState(resident=resident, municipality_id=resident.municipality_id)


def areas_for_text(*, municipality_id: int, text: str) -> list[Area]:
    """Areas named by ``text``: an exact name or reading, else the areas whose name contains it."""
    q = _AREA_TAIL.sub("", key(text))
    if not q:
        return []
    areas = list(Area.objects.filter(municipality_id=municipality_id).order_by("sort_order", "name"))
    exact = [a for a in areas if q in {key(a.name), key(a.kana or ""), key(reading(a.name))}]
    if exact:
        return exact[:1]
    return [a for a in areas if q in key(a.name) or (a.kana and q in key(a.kana))]


def area_names_with_calendar(*, municipality_id: int, limit: int) -> list[str]:
    """Names of areas that have a collection calendar, for the examples of the area question."""
    return list(
        Area.objects.filter(municipality_id=municipality_id, garbage_calendar__isnull=False)
        .order_by("sort_order", "name")
        .values_list("name", flat=True)[:limit]
    )


def talk_for_resident(*, resident: Resident, user: Any, limit: int = 50) -> list[TalkMessage]:
    """The latest ``limit`` talk messages of ``resident`` that ``user`` may see, oldest first.

    Through the policy: a department's notices (bookings, applications) only for that department
    and 自治体管理者; the general chat for the roles that answer residents.
    """
    visible: QuerySet[TalkMessage] = policy_for(TalkMessage).instances_user_has_permission_for(
        user, "view", TalkMessage.objects.filter(resident=resident)
    )
    return list(visible.select_related("sent_by").order_by("-created_at", "-pk")[:limit])[::-1]


def faqs_for_municipality(*, municipality_id: int, user: Any, action: str = "change") -> QuerySet[Faq]:
    """The town's FAQs on which ``user`` may ``action`` (through the policy), with their department."""
    return policy_for(Faq).instances_user_has_permission_for(
        user,
        action,
        Faq.objects.filter(department__municipality_id=municipality_id).select_related("department"),
    )


def areas_nearest_with_calendar(
    *, municipality_id: int, name: str, kana: str = "", limit: int = 3
) -> list[Area]:
    """The areas with a collection calendar whose name or reading is closest to ``name`` /
    ``kana`` (a 受信設定 area without a calendar: 「本町」 → 「本町一丁目」), best first."""
    areas = list(
        Area.objects.filter(municipality_id=municipality_id, garbage_calendar__isnull=False).order_by(
            "sort_order", "name"
        )
    )
    if not areas:
        return []
    q_name, q_kana = key(name), key(kana or reading(name))

    def score(area: Area) -> float:
        by_name = fuzz.WRatio(q_name, key(area.name)) if q_name else 0.0
        by_kana = fuzz.WRatio(q_kana, key(area.kana or reading(area.name))) if q_kana else 0.0
        return max(by_name, by_kana * 0.9)

    return sorted(areas, key=lambda a: -score(a))[:limit]


def recent_question_of(*, resident: Resident, since: dt.datetime, skip: set[str]) -> str:
    """What the resident last wrote since ``since`` ("" if nothing), leaving out the texts whose
    key is in ``skip`` (「職員と話す」 itself): the topic of a hand-off requested right after it."""
    texts = (
        TalkMessage.objects.filter(
            resident=resident,
            direction=TalkMessage.Direction.INBOUND,
            kind="text",
            created_at__gte=since,
        )
        .order_by("-created_at", "-pk")
        .values_list("text", flat=True)[:5]
    )
    return next((t for t in texts if key(t) not in skip), "")


@dataclass(frozen=True)
class _RouteWords:
    """One active route of a town as ``handoff_route_for`` compares it: its words, folded and read."""

    pk: int
    words: tuple[tuple[str, str], ...]  # (key(word), key(reading(word)))


def _route_words(municipality_id: int) -> tuple[_RouteWords, ...]:
    routes = (
        HandoffRoute.objects.filter(department__municipality_id=municipality_id, is_active=True)
        .order_by("sort_order", "pk")
        .values_list("pk", "keywords")
    )
    return tuple(
        _RouteWords(pk, tuple((key(w), key(reading(w))) for w in HandoffRoute(keywords=words).keyword_list()))
        for pk, words in routes
    )


# The routes and their readings, per process and town; built again after a route is saved or
# deleted, whoever saved it (at once and after the commit: the receiver below).
_routes: TownCache[tuple[_RouteWords, ...]] = TownCache(
    "chatbot.handoff_routes", _route_words, version_key="chatbot:handoff-routes-version:{}"
)


@receiver([post_save, post_delete], sender=HandoffRoute, dispatch_uid="chatbot.handoff_routes_changed")
def _routes_changed(sender: type[HandoffRoute], instance: HandoffRoute, **kwargs: Any) -> None:
    # Cache invalidation only (no business logic): the route services, the admin, fixtures.
    _routes.invalidate_now_and_on_commit(instance.department.municipality_id)


def handoff_route_for(*, municipality_id: int, text: str) -> HandoffRoute | None:
    """The first active route (by ``sort_order``) whose words appear in ``text``: the 課 that
    receives a hand-off about it. Words and text are compared folded (widths, kana), and a
    word also matches the text's reading (「じゅうみんひょう」 finds 住民票). The words are
    cached per process (``_routes``); the route found is read with its department (one query,
    none when no route matches)."""
    folded = key(text)
    if not folded:
        return None
    spoken = key(reading(text))
    for route in _routes.get(municipality_id):
        for word_key, word_reading in route.words:
            if word_key and (word_key in folded or word_key in spoken or word_reading in spoken):
                found = (
                    HandoffRoute.objects.filter(
                        pk=route.pk, department__municipality_id=municipality_id, is_active=True
                    )
                    .select_related("department")
                    .first()
                )
                if found is not None:  # else changed a moment ago: the next route, as a fresh read would
                    return found
                break
    return None
