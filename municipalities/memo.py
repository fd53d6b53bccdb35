"""Process memos: what a process keeps of what it read lately, for the hot paths.

A memo is a dict keyed so that an entry is either never out of date (``ProcessMemo``: a
calendar page by the cache key naming one version of it) or trusted for a stated time
(``TrustedMemo``: a session's town, an availability version, the slots offered beside a full
one). It is only bounded: when full it is emptied, which costs the next few requests one read
each.

Every memo is registered, so that ``memos_clear`` empties them all: the test suite does so
where ids come back (SQLite hands out the ids of rolled-back rows again, and a memo keyed by
a menu id would answer for another test's menu).
"""

from __future__ import annotations

import time
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

_memos: list[ProcessMemo] = []


class ProcessMemo(dict[K, V]):
    """A dict emptied when it holds ``limit`` entries and another is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        _memos.append(self)

    def keep(self, key: K, value: V) -> V:
        if len(self) >= self.limit and key not in self:
            self.clear()
        self[key] = value
        return value


class TrustedMemo(ProcessMemo[K, tuple[float, V]]):
    """A ``ProcessMemo`` whose entries are trusted for the seconds they were kept for."""

    def trusted(self, key: K) -> V | None:
        """The value kept for ``key`` if it is still trusted, else None."""
        entry = self.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def trust(self, key: K, value: V, seconds: float) -> V:
        """Keep ``value`` for ``key``, trusted for ``seconds`` from now."""
        self.keep(key, (time.monotonic() + seconds, value))
        return value


def memos_clear() -> None:
    """Empty every process memo."""
    for memo in _memos:
        memo.clear()
