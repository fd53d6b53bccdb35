"""LINE Insight in the fake LINE server (``fake.insight``): GET /v2/bot/insight/followers,
/v2/bot/insight/message/delivery and /v2/bot/insight/demographic, as shared/line-openapi/insight.yml
describes them.

A test sets what LINE has counted: ``fake.insight.followers[date(2026, 11, 10)] = {"followers":
120, "targetedReaches": 100, "blocks": 20}``, ``fake.insight.deliveries[day] = {"apiPush": 3}``,
``fake.insight.demographics = {...}``. A day without figures answers ``{"status": "unready"}``,
as LINE does before it has counted the day; a date that is not ``yyyyMMdd`` answers 400.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs

PATHS = {
    "/v2/bot/insight/followers": "insight_followers",
    "/v2/bot/insight/message/delivery": "insight_delivery",
    "/v2/bot/insight/demographic": "insight_demographic",
}
_DATE = re.compile(r"^[0-9]{8}$")


def paths(path: str) -> bool:
    return path in PATHS


class InsightFake:
    def __init__(self) -> None:
        self.followers: dict[dt.date, dict[str, int]] = {}
        self.deliveries: dict[dt.date, dict[str, int]] = {}
        self.demographics: dict[str, Any] = {"available": False}

    def handle(self, path: str, query: str) -> tuple[str, int, dict[str, Any]]:
        """(endpoint name, status, body) for a GET of ``path?query``."""
        endpoint = PATHS[path]
        params = {k: v[0] for k, v in parse_qs(query).items()}
        if endpoint == "insight_demographic":
            return endpoint, 200, dict(self.demographics)
        raw = params.get("date", "")
        if not _DATE.match(raw):
            return endpoint, 400, {"message": "The request parameter 'date' is invalid"}
        day = dt.datetime.strptime(raw, "%Y%m%d").date()  # noqa: DTZ007 (a calendar date, UTC+9)
        figures = (self.followers if endpoint == "insight_followers" else self.deliveries).get(day)
        if figures is None:
            return endpoint, 200, {"status": "unready"}
        return endpoint, 200, {"status": "ready", **figures}
