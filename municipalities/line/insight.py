"""Insight calls of the LINE gateway (LINE's own statistics of the channel): the interface, the
``api`` backend's implementation and the ``simulator``'s.

- ``insight_followers(day)``: friends LINE counts on that day (``followers``), the friends a
  message can reach (``targetedReaches``) and those who blocked the account (``blocks``);
- ``insight_message_deliveries(day)``: messages the account sent that day, per kind;
- ``insight_demographics()``: LINE's estimate of the friends' gender, age, area, OS and how long
  they have been friends, as percentages (now; LINE has no history of it).

LINE counts a day after it ended: until then the status is ``unready`` and the figures are
absent (``ready`` is False). Days are Asia/Tokyo days (``yyyyMMdd``, UTC+9). Spec:
shared/line-openapi/insight.yml. Every call goes through the rate limiter (``insight``) and
raises the gateway's typed errors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db.models import Count, Q
from django.utils import timezone

from municipalities.metrics import day_bounds
from municipalities.models import Municipality, Resident, SimulatedDelivery

# Message kinds of GET /v2/bot/insight/message/delivery, in LINE's order.
DELIVERY_KINDS = (
    "broadcast",
    "targeting",
    "autoResponse",
    "welcomeResponse",
    "chat",
    "apiBroadcast",
    "apiPush",
    "apiMulticast",
    "apiNarrowcast",
    "apiReply",
)
DEMOGRAPHIC_TILES = {
    "genders": "gender",
    "ages": "age",
    "areas": "area",
    "appTypes": "appType",
    "subscriptionPeriods": "subscriptionPeriod",
}
# LINE shows demographics only to accounts with at least this many friends.
DEMOGRAPHICS_MIN_FRIENDS = 20


@dataclass(frozen=True)
class InsightFollowers:
    ready: bool
    followers: int | None = None
    targeted_reaches: int | None = None
    blocks: int | None = None


@dataclass(frozen=True)
class InsightDeliveries:
    ready: bool
    counts: dict[str, int] = field(default_factory=dict)  # DELIVERY_KINDS → messages sent


@dataclass(frozen=True)
class InsightDemographics:
    available: bool
    # "genders" / "ages" / … → [(LINE's key, percentage)], as LINE lists them
    tiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


class InsightGateway(Protocol):
    def insight_followers(self, day: dt.date) -> InsightFollowers: ...

    def insight_message_deliveries(self, day: dt.date) -> InsightDeliveries: ...

    def insight_demographics(self) -> InsightDemographics: ...


def _yyyymmdd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def followers_from(data: dict[str, Any]) -> InsightFollowers:
    if data.get("status") != "ready":
        return InsightFollowers(ready=False)
    return InsightFollowers(
        ready=True,
        followers=_int(data.get("followers")),
        targeted_reaches=_int(data.get("targetedReaches")),
        blocks=_int(data.get("blocks")),
    )


def deliveries_from(data: dict[str, Any]) -> InsightDeliveries:
    if data.get("status") != "ready":
        return InsightDeliveries(ready=False)
    return InsightDeliveries(
        ready=True, counts={k: v for k in DELIVERY_KINDS if (v := _int(data.get(k))) is not None}
    )


def demographics_from(data: dict[str, Any]) -> InsightDemographics:
    if not data.get("available"):
        return InsightDemographics(available=False)
    tiles: dict[str, list[tuple[str, float]]] = {}
    for name, key in DEMOGRAPHIC_TILES.items():
        tiles[name] = [
            (str(tile.get(key, "")), float(tile.get("percentage") or 0))
            for tile in data.get(name) or []
            if isinstance(tile, dict)
        ]
    return InsightDemographics(available=True, tiles=tiles)


class InsightApiMixin:
    """The ``api`` backend's insight calls (mixed into ``api.ApiClient``)."""

    _api: Any

    def _insight_get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        def call(*, _request_timeout: float) -> Any:
            return self._api.api_client.call_api(
                path,
                "GET",
                query_params=list(query.items()),
                header_params={"Accept": "application/json"},
                response_types_map={"200": "object"},
                auth_settings=["Bearer"],
                _request_timeout=_request_timeout,
            )

        response = self._call("insight", call)  # type: ignore[attr-defined]
        return response.data if isinstance(response.data, dict) else {}

    def insight_followers(self, day: dt.date) -> InsightFollowers:
        return followers_from(self._insight_get("/v2/bot/insight/followers", {"date": _yyyymmdd(day)}))

    def insight_message_deliveries(self, day: dt.date) -> InsightDeliveries:
        return deliveries_from(
            self._insight_get("/v2/bot/insight/message/delivery", {"date": _yyyymmdd(day)})
        )

    def insight_demographics(self) -> InsightDemographics:
        return demographics_from(self._insight_get("/v2/bot/insight/demographic", {}))


# Simulated messages per endpoint, as LINE's delivery kinds.
_SIMULATED_KINDS = {
    "broadcast": "apiBroadcast",
    "push": "apiPush",
    "multicast": "apiMulticast",
    "reply": "apiReply",
}


class InsightSimulatorMixin:
    """The ``simulator`` backend's insight: LINE's figures computed from the tables. Followers are
    the town's residents who were friends at the end of the day (blocks: those who had blocked
    by then); deliveries are the simulated sends of the day, one per recipient and message;
    demographics show only how long residents have been friends (the simulator knows no gender,
    age or OS). A day that has not ended is ``unready``, as on LINE."""

    municipality: Municipality

    def insight_followers(self, day: dt.date) -> InsightFollowers:
        start, end = day_bounds(day)
        if end > _now():
            return InsightFollowers(ready=False)
        residents = Resident.objects.filter(municipality=self.municipality).filter(
            Q(followed_at__lt=end) | Q(followed_at__isnull=True, created_at__lt=end)
        )
        counts = residents.aggregate(
            friends=Count("pk", filter=Q(is_following=True) | Q(unfollowed_at__gte=end)),
            blocks=Count("pk", filter=Q(unfollowed_at__lt=end)),
        )
        followers = counts["friends"] + counts["blocks"]  # LINE: everyone who added the account
        return InsightFollowers(
            ready=True, followers=followers, targeted_reaches=counts["friends"], blocks=counts["blocks"]
        )

    def insight_message_deliveries(self, day: dt.date) -> InsightDeliveries:
        start, end = day_bounds(day)
        if end > _now():
            return InsightDeliveries(ready=False)
        counts = dict.fromkeys(_SIMULATED_KINDS.values(), 0)
        for endpoint, messages in SimulatedDelivery.objects.filter(
            municipality=self.municipality, created_at__gte=start, created_at__lt=end
        ).values_list("endpoint", "messages"):
            if endpoint in _SIMULATED_KINDS:
                counts[_SIMULATED_KINDS[endpoint]] += len(messages) if isinstance(messages, list) else 1
        return InsightDeliveries(ready=True, counts=counts)

    def insight_demographics(self) -> InsightDemographics:
        now = _now()
        friends = list(
            Resident.objects.filter(municipality=self.municipality, is_following=True).values_list(
                "followed_at", "created_at"
            )
        )
        if len(friends) < DEMOGRAPHICS_MIN_FRIENDS:
            return InsightDemographics(available=False)
        bands = (
            (7, "within7days"),
            (30, "within30days"),
            (90, "within90days"),
            (180, "within180days"),
            (365, "within365days"),
        )
        counts: dict[str, int] = {}
        for followed_at, created_at in friends:
            days = (now - (followed_at or created_at)).days
            key = next((name for limit, name in bands if days < limit), "over365days")
            counts[key] = counts.get(key, 0) + 1
        periods = [(k, round(100 * n / len(friends), 1)) for k, n in counts.items()]
        return InsightDemographics(
            available=True,
            tiles={
                "genders": [("unknown", 100.0)],
                "ages": [("unknown", 100.0)],
                "areas": [("unknown", 100.0)],
                "appTypes": [("others", 100.0)],
                "subscriptionPeriods": periods,
            },
        )


def _now() -> dt.datetime:
    return timezone.now()
