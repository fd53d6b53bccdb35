"""World fixtures shared by every app's tests.

Two towns: みどり町 (departments 健康福祉課 ``kenko`` and 総務課 ``somu``) and あおば市 (one
department). Staff with each role, residents. Tests build the rest through the services.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.client import ClientHandler
from django.urls import resolve

from config.stacks import MiddlewareStack, stack_for_path, stack_handlers
from municipalities.line.liff import read_resident_token, resident_session_start
from municipalities.models import Area, Department, Interest, Municipality, Resident, Role, StaffUser
from municipalities.services import (
    municipality_create_or_update,
    resident_follow,
    staff_role_grant,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "test-pass-2026"


def _redis_reachable() -> bool:
    from django.conf import settings

    if not settings.HAS_REDIS:
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but the suite is not running on it")
        pytest.skip("needs PostgreSQL")
    if item.get_closest_marker("redis") and not _redis_reachable():
        if IN_CI:
            pytest.fail("Redis is required in CI but is not reachable")
        pytest.skip("needs Redis")


@pytest.fixture(autouse=True)
def _forget_ids_that_come_back():
    """On SQLite the ids of a rolled-back test's rows are handed out again: what a process memo
    or the cache keeps by id (a menu's calendar page and availability version, a town's answer
    index) would answer for the next test's row of the same id. Forgotten after each test
    there; PostgreSQL never hands an id out twice."""
    yield
    if connection.vendor != "sqlite":
        return
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCache

    from municipalities.line import towncache
    from municipalities.memo import memos_clear

    memos_clear()
    towncache.clear_all_local()
    if isinstance(cache, RedisCache):  # only this run's keys (its own KEY_PREFIX)
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=cache.make_key("*"), count=1000):
            client.unlink(key)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Many staff users per test; PBKDF2's deliberate slowness is not what the tests measure.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shown_text(message: dict[str, Any]) -> str:
    """What a text message, or a flex card (title and body), says."""
    if message["type"] == "text":
        return message["text"]
    return "\n".join(c["text"] for c in message["contents"]["body"]["contents"] if c["type"] == "text")


def link_button(message: dict[str, Any]) -> tuple[str, str]:
    """A card's one button, as staff can read it (talk log, simulator record): its label and the
    page it opens. The URL is the plain page (the resident signs in through LIFF or a one-time
    link only LINE was given), never a sign-in link."""
    [button] = message["contents"]["footer"]["contents"]
    action = button["action"]
    assert action["type"] == "uri"
    path = urlsplit(action["uri"]).path
    assert resolve(path).view_name != "line:resident_link", "a usable sign-in link in a staff-visible copy"
    return action["label"], path


def sent_link_button(message: dict[str, Any]) -> tuple[str, int, str]:
    """A card's one button as LINE is given it (a handler's answer before it is sent): its label,
    and the resident and the path its one-time sign-in link opens."""
    [button] = message["contents"]["footer"]["contents"]
    action = button["action"]
    assert action["type"] == "uri"
    match = resolve(urlsplit(action["uri"]).path)
    assert match.view_name == "line:resident_link"
    claims = read_resident_token(match.kwargs["token"])
    assert claims is not None, "the link's signature does not verify"
    return action["label"], claims["r"], claims["n"]


def make_town(slug: str, name: str) -> Municipality:
    municipality, _ = municipality_create_or_update(
        slug=slug,
        name=name,
        channel_secret=f"{slug}-secret",
        channel_access_token=f"{slug}-token",
        channel_id="1234567890",
    )
    return municipality


class _StackClientHandler(MiddlewareStack, ClientHandler):
    pass


class StackedClient(Client):
    """The test browser, with each request run through the middleware stack its path gets in
    production (``config.stacks``, as ``config.wsgi`` does): resident pages on the resident
    stack, LINE's webhook on none, the rest on the whole ``settings.MIDDLEWARE``."""

    def __init__(self, enforce_csrf_checks: bool = False, **defaults: Any) -> None:
        super().__init__(enforce_csrf_checks, **defaults)
        stacks = stack_handlers(
            self.handler, lambda middleware: _StackClientHandler(middleware, enforce_csrf_checks)
        )
        self.handler = lambda environ: stacks[stack_for_path(environ["PATH_INFO"])](environ)


@pytest.fixture
def client() -> Client:
    return StackedClient()


def resident_client(resident: Resident) -> Client:
    """A browser signed in as ``resident`` (what the LIFF sign-in leaves in the session)."""
    client = StackedClient()
    session = client.session
    resident_session_start(session, resident)
    session.save()
    return client


def make_staff(
    username: str,
    municipality: Municipality | None,
    role: str | None = None,
    department: Department | None = None,
) -> StaffUser:
    user = StaffUser.objects.create_user(
        username, f"{username}@example.jp", PASSWORD, municipality=municipality, is_staff=True
    )
    if role:
        staff_role_grant(user=user, role=role, department=department, actor=None)
    return user


@pytest.fixture
def town(db) -> Municipality:
    return make_town("midori", "みどり町")


@pytest.fixture
def other_town(db) -> Municipality:
    return make_town("aoba", "あおば市")


@pytest.fixture
def kenko(town) -> Department:
    return Department.objects.create(municipality=town, code="kenko", name="健康福祉課")


@pytest.fixture
def somu(town) -> Department:
    return Department.objects.create(municipality=town, code="somu", name="総務課")


@pytest.fixture
def other_department(other_town) -> Department:
    return Department.objects.create(municipality=other_town, code="kenko", name="あおば健康課")


@pytest.fixture
def interests(town) -> dict[str, Interest]:
    return {
        code: Interest.objects.create(municipality=town, code=code, name=name, sort_order=i)
        for i, (code, name) in enumerate(
            [("kosodate", "子育て"), ("kenko", "健康"), ("bosai", "防災"), ("gomi", "ごみ")]
        )
    }


@pytest.fixture
def areas(town) -> dict[str, Area]:
    return {
        name: Area.objects.create(municipality=town, name=name, sort_order=i)
        for i, name in enumerate(["本町", "東区", "西区"])
    }


@pytest.fixture
def superuser(db) -> StaffUser:
    return StaffUser.objects.create_superuser("root", "root@example.jp", PASSWORD)


@pytest.fixture
def town_admin(town) -> StaffUser:
    return make_staff("joho", town, Role.MUNICIPALITY_ADMIN)


@pytest.fixture
def kenko_head(town, kenko) -> StaffUser:
    return make_staff("kenko_head", town, Role.HEAD, kenko)


@pytest.fixture
def kenko_editor(town, kenko) -> StaffUser:
    return make_staff("kenko_staff", town, Role.EDITOR, kenko)


@pytest.fixture
def kenko_viewer(town, kenko) -> StaffUser:
    return make_staff("kenko_viewer", town, Role.VIEWER, kenko)


@pytest.fixture
def somu_editor(town, somu) -> StaffUser:
    return make_staff("somu_staff", town, Role.EDITOR, somu)


@pytest.fixture
def resident(town) -> Resident:
    resident, _ = resident_follow(municipality=town, line_user_id="U" + "a" * 32, display_name="山田 花子")
    return resident


@pytest.fixture
def other_resident(town) -> Resident:
    resident, _ = resident_follow(municipality=town, line_user_id="U" + "b" * 32, display_name="佐藤 一郎")
    return resident
