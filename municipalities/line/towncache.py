"""Per-process copies of what a town's answers read on every message and staff change rarely:
the chatbot's answer index (garbage items, FAQ, keyword rules, calendars), 災害モード, the
hand-off routes.

Each ``TownCache`` keeps, per town, the value it built and the version token it built it under.
The token lives in Django's cache (Redis in production, shared by every web and worker
process); a writer replaces it on commit (``invalidate_on_commit``), and every process builds
its copy again at its next use. A process whose build raced a change keeps the token it read
*before* building, so the next use sees the new token and builds again: a copy is never kept
under a token newer than its data. A token missing from the cache (Redis flushed or evicted)
is set anew, so every process builds again.

Processing one webhook event reads a town's tokens at most once, all of them in one cache round
trip (``tokens_pinned``, entered by ``inbound.webhook_event_process``): the chatbot's keyword
rules, its fallback and the 災害モード note of one message see the same versions, for the price
of one Redis GET. Outside that block (admin pages, tasks, tests calling a handler) each use
reads its own token.

Values are shared by the threads of a process: build them immutable (or never change them).
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

_caches: dict[str, TownCache] = {}


class TownCache(Generic[T]):
    """``build(municipality_id)`` once per process and version; ``version_key`` formats the cache
    key of a town's version token (``"chatbot:index-version:{}"``)."""

    def __init__(self, name: str, build: Callable[[int], T], *, version_key: str) -> None:
        if name in _caches:
            raise ValueError(f"a town cache named {name!r} exists already")
        self.name = name
        self._build = build
        self._version_key = version_key
        self._local: dict[int, tuple[str, T]] = {}
        self._lock = threading.Lock()
        _caches[name] = self

    def token_key(self, municipality_id: int) -> str:
        return self._version_key.format(municipality_id)

    def get(self, municipality_id: int) -> T:
        """The town's value, built again when its token changed since this process built it."""
        token = _token(self, municipality_id)
        current = self._local.get(municipality_id)
        if current is not None and current[0] == token:
            return current[1]
        value = self._build(municipality_id)
        with self._lock:
            self._local[municipality_id] = (token, value)
        return value

    def invalidate(self, municipality_id: int) -> None:
        """Make every process build the town's value again at its next use (now: after a
        commit, see ``invalidate_on_commit``)."""
        token = uuid.uuid4().hex
        cache.set(self.token_key(municipality_id), token, None)
        with self._lock:
            self._local.pop(municipality_id, None)
        pin = _pin.get()
        if pin is not None and pin.municipality_id == municipality_id and pin.tokens is not None:
            pin.tokens[self.name] = token

    def invalidate_on_commit(self, municipality_id: int) -> None:
        """``invalidate`` once the current transaction commits (at once outside one); a rollback
        (an import's dry run) invalidates nothing."""
        transaction.on_commit(lambda: self.invalidate(municipality_id))

    def invalidate_now_and_on_commit(self, municipality_id: int) -> None:
        """For a row saved or deleted (a signal): ``invalidate`` at once, so that the writer's own
        transaction (a test's, a service that answers after the write) reads the change, and
        again on commit, so that a copy another process built meanwhile from the rows before
        the commit is not kept. A rollback leaves one needless build per process."""
        self.invalidate(municipality_id)
        self.invalidate_on_commit(municipality_id)

    def clear_local(self) -> None:
        """Forget this process's copies (tests: ids are reused between tests)."""
        with self._lock:
            self._local.clear()


@dataclass
class _Pin:
    municipality_id: int
    tokens: dict[str, str] | None = field(default=None)


_pin: contextvars.ContextVar[_Pin | None] = contextvars.ContextVar("towncache_pin", default=None)


@contextmanager
def tokens_pinned(municipality_id: int) -> Iterator[None]:
    """Within the block, the town's tokens are read once, all together, at the first use of any
    town cache for it (one event's processing: its handlers see one version of each value)."""
    reset = _pin.set(_Pin(municipality_id))
    try:
        yield
    finally:
        _pin.reset(reset)


def _token(town_cache: TownCache, municipality_id: int) -> str:
    pin = _pin.get()
    if pin is None or pin.municipality_id != municipality_id:
        return _read_tokens(municipality_id, [town_cache])[town_cache.name]
    if pin.tokens is None:
        pin.tokens = _read_tokens(municipality_id, list(_caches.values()))
    token = pin.tokens.get(town_cache.name)
    if token is None:  # a cache created after the tokens were read
        token = pin.tokens[town_cache.name] = _read_tokens(municipality_id, [town_cache])[town_cache.name]
    return token


def _read_tokens(municipality_id: int, town_caches: list[TownCache]) -> dict[str, str]:
    """The caches' tokens for the town (one GET for all); a missing one is set first-writer-wins."""
    keys = {town_cache.token_key(municipality_id): town_cache.name for town_cache in town_caches}
    found = cache.get_many(list(keys))
    tokens = {}
    for key, name in keys.items():
        token = found.get(key)
        if token is None:
            cache.add(key, uuid.uuid4().hex, None)
            token = cache.get(key) or uuid.uuid4().hex  # a cache that lost it at once: build now
        tokens[name] = token
    return tokens


def clear_all_local() -> None:
    """Forget every town cache's copies in this process (tests: ids are reused on SQLite)."""
    for town_cache in list(_caches.values()):
        town_cache.clear_local()
