"""The project's Redis cache backend (config/cache.py): Django's, with one client per pool."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.redis


def test_the_cache_reuses_one_redis_client_for_its_calls(settings):
    # given
    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    cache = caches["default"]
    cache.delete("cache-test:probe")
    # when
    added = cache.add("cache-test:probe", {"値": 1}, 30)
    again = cache.add("cache-test:probe", {"値": 2}, 30)
    # then: Django's semantics (SET NX, pickled values) with the same client every time
    assert (added, again, cache.get("cache-test:probe")) == (True, False, {"値": 1})
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)
    cache.delete("cache-test:probe")


def test_threads_share_the_client_safely():
    # given: the same backend instance used from several threads at once
    cache = caches["default"]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"cache-test:t{n}:{i}", i, 30)
                assert cache.get(f"cache-test:t{n}:{i}") == i
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # when
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then
    assert errors == []
    cache.delete_many([f"cache-test:t{n}:{i}" for n in range(8) for i in range(50)])


def test_incr_keeps_djangos_contract_in_one_round_trip():
    # given
    cache = caches["default"]
    cache.delete("cache-test:counter")
    client = cache._cache.get_client(write=True)
    sent: list[str] = []
    execute = client.execute_command

    def counting(*args, **kwargs):
        sent.append(args[0])
        return execute(*args, **kwargs)

    client.execute_command = counting
    try:
        # when / then: a missing key is refused, as Django's backends refuse it; a stored
        # number goes up by the delta, readable as the number it is
        with pytest.raises(ValueError, match="not found"):
            cache.incr("cache-test:counter")
        cache.set("cache-test:counter", 5, 30)
        assert cache.incr("cache-test:counter") == 6
        assert cache.incr("cache-test:counter", 10) == 16
        assert cache.get("cache-test:counter") == 16
    finally:
        del client.execute_command
    assert sent == ["EVAL", "SET", "EVAL", "EVAL", "GET"]
    cache.delete("cache-test:counter")
