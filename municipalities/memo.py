"""Process memos: what a process keeps of what it read lately, for the hot paths.

A memo is a dict keyed so that an entry is either never out of date (a calendar page by the
cache key naming one version of it) or trusted for a stated time the entry carries (a
session's town, an availability version). It is only bounded: when full it is emptied, which
costs the next few requests one read each.

Every memo is registered, so that ``memos_clear`` empties them all: the test suite does so
where ids come back (SQLite hands out the ids of rolled-back rows again, and a memo keyed by
a menu id would answer for another test's menu).
"""

from __future__ import annotations

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


def memos_clear() -> None:
    """Empty every process memo."""
    for memo in _memos:
        memo.clear()
