"""A 429 from LINE as a signal for the shared rate limiter: a lone one changes nothing, a burst
pauses every caller's turns; and the gateway reports each 429 it meets."""

from __future__ import annotations

import time
import uuid
from unittest import mock

import pytest

from municipalities.line import ratelimit
from municipalities.line.api import ApiClient
from municipalities.line.errors import LineRateLimited
from tests.fakeline import FakeLine


@pytest.fixture
def limits(settings):
    settings.LINE_RATE_LIMITS = {"multicast": 200}
    ratelimit.reset_local()
    ratelimit._redis_script.cache_clear()
    ratelimit._redis_throttled_script.cache_clear()
    ratelimit._redis_client.cache_clear()
    return settings


def test_a_burst_is_a_tenth_of_the_limit_and_at_least_three():
    assert (ratelimit.burst_for(200), ratelimit.burst_for(2000), ratelimit.burst_for(1)) == (20, 200, 3)


@pytest.mark.parametrize("shared", [False, pytest.param(True, marks=pytest.mark.redis)])
def test_a_lone_429_changes_nothing_and_a_burst_pauses_every_caller(limits, shared):
    # given: the limiter in this process, or shared through Redis
    limits.HAS_REDIS = shared
    channel = f"chan-429-{uuid.uuid4().hex}"
    burst = ratelimit.burst_for(200)
    # when: LINE answers 429 a few times (fewer than a burst)
    assert not any(ratelimit.throttled(channel, "multicast") for _ in range(burst - 1))
    # then: the next turn is now
    started = time.monotonic()
    ratelimit.acquire(channel, "multicast")
    assert time.monotonic() - started < 0.2
    # when: one more within the second makes a burst
    assert ratelimit.throttled(channel, "multicast")
    # then: every caller's next turn is a pause away, and another channel is not paused
    started = time.monotonic()
    ratelimit.acquire(channel, "multicast")
    assert time.monotonic() - started == pytest.approx(ratelimit.THROTTLE_PAUSE_SECONDS, abs=0.25)
    started = time.monotonic()
    ratelimit.acquire(f"{channel}-other", "multicast")
    assert time.monotonic() - started < 0.2


def test_the_gateway_reports_every_429_to_the_limiter(limits, town):
    # given: the api backend against a fake LINE that answers 429 once
    limits.HAS_REDIS = False
    with FakeLine(validate=False) as fake:
        limits.LINE_API_BASE_URL = fake.base_url
        fake.fail("multicast", 429)
        client = ApiClient(town)
        # when
        with mock.patch.object(ratelimit, "throttled", wraps=ratelimit.throttled) as throttled:
            with pytest.raises(LineRateLimited):
                client.multicast(["U" + "1" * 32], [{"type": "text", "text": "x"}], retry_key=uuid.uuid4())
            client.multicast(["U" + "1" * 32], [{"type": "text", "text": "x"}], retry_key=uuid.uuid4())
    # then: the 429 was reported once, for the town's channel and the endpoint
    throttled.assert_called_once_with(client.channel, "multicast")
