"""Fixtures of the chatbot tests: the shared 5374 datasets and a clean answer index per test."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django.core.cache import cache

from municipalities.line import towncache
from municipalities.models import SimulatedDelivery
from tests.fakeline import post_webhook, webhook_event

# The shared data sits beside the repository (../shared/data/5374), read-only.
SHARED_5374 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "5374"
KYOTANGO = SHARED_5374 / "kyotango"
KANAZAWA = SHARED_5374 / "kanazawa"


@pytest.fixture(autouse=True)
def _fresh_index():
    # Ids can be reused between tests (SQLite rolls back sequences): never keep an index (nor
    # the other per-process copies of a town's data: 災害モード, hand-off routes).
    towncache.clear_all_local()
    cache.clear()
    yield
    towncache.clear_all_local()


@pytest.fixture
def kyotango_town(town):
    from chatbot.garbage_import import files_from_directory
    from chatbot.services import garbage_import

    garbage_import(municipality=town, files=files_from_directory(KYOTANGO))
    return town


_ids = itertools.count()


@pytest.fixture
def say(client, django_capture_on_commit_callbacks):
    """Send a text as the resident through the real webhook; return the bot's reply texts."""

    def send(town, resident, text: str) -> list[str]:
        n = next(_ids)
        event = webhook_event(
            "message", resident.line_user_id, text=text, event_id=f"EV{n:024d}", reply_token=f"rt{n}"
        )
        before = SimulatedDelivery.objects.filter(endpoint="reply").count()
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, town, event)
        assert response.status_code == 200
        sent = SimulatedDelivery.objects.filter(
            endpoint="reply", line_user_id=resident.line_user_id
        ).order_by("pk")[before:]
        return [
            message.get("text", message.get("altText", ""))
            for delivery in sent
            for message in delivery.messages
        ]

    return send


@pytest.fixture
def tap(client, django_capture_on_commit_callbacks):
    """Send a postback as the resident through the real webhook; return the bot's reply texts."""

    def send(town, resident, data: str) -> list[str]:
        n = next(_ids)
        event = webhook_event(
            "postback", resident.line_user_id, data=data, event_id=f"EP{n:024d}", reply_token=f"rp{n}"
        )
        before = SimulatedDelivery.objects.filter(endpoint="reply").count()
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, town, event)
        assert response.status_code == 200
        sent = SimulatedDelivery.objects.filter(
            endpoint="reply", line_user_id=resident.line_user_id
        ).order_by("pk")[before:]
        return [m.get("text", m.get("altText", "")) for d in sent for m in d.messages]

    return send
