"""Done-when: with LINE_BACKEND=api, a signed follow sent to the webhook produces a reply
request at whatever server speaks LINE's API at LINE_API_BASE_URL (here the fake one)."""

from __future__ import annotations

from municipalities.line import ratelimit
from municipalities.line.api import ApiClient
from municipalities.line.client import get_line_client
from municipalities.models import Resident
from tests.fakeline import FakeLine, post_webhook, webhook_event


def test_a_signed_follow_produces_a_reply_request_at_the_line_server(
    client, town, settings, django_capture_on_commit_callbacks
):
    with FakeLine() as fake:
        # given
        ratelimit.reset_local()
        settings.LINE_BACKEND = "api"
        settings.LINE_USES_SIMULATOR = False
        settings.LINE_API_BASE_URL = fake.base_url
        settings.HAS_REDIS = False
        settings.SITE_URL = "https://cms.example.jp"
        assert isinstance(get_line_client(town), ApiClient)
        user_id = "U" + "5" * 32
        fake.add_profile(user_id, "鈴木 次郎")
        event = webhook_event("follow", user_id, reply_token="reply-token-1")
        # when
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, town, event)
        # then
        assert response.status_code == 200
        [profile] = fake.requests_to("profile")
        assert profile.path == f"/v2/bot/profile/{user_id}"
        [reply] = fake.requests_to("reply")
        assert reply.status == 200
        assert reply.headers["Authorization"] == "Bearer midori-token"
        assert reply.body["replyToken"] == "reply-token-1"
        assert reply.body["messages"][0]["type"] == "text"
        assert reply.body["messages"][1]["template"]["actions"][0]["uri"].startswith(
            "https://cms.example.jp/r/"
        )
        assert fake.schema_errors == []
        assert Resident.objects.get(line_user_id=user_id).display_name == "鈴木 次郎"
