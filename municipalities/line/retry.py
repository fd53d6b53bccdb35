"""The one retry policy for sending to LINE (STYLE R10).

Only transient failures are retried: 429 (``LineRateLimited``) and 5xx, timeouts and lost
connections (``LineRetryableError``). The wait is exponential with full jitter (AWS architecture
blog: U(0, min(cap, base·2^n))), so a burst of 429s spreads out, and the attempts are bounded.
LINE sends no Retry-After header, so there is none to honour.

The same faults met outside a LINE call are transient too (``is_transient``): Redis unreachable,
a database connection cut or refused. Work that meets one is done again later, with the same
waits; only a fault that stays after the last attempt is treated as permanent.

Celery tasks get the policy from ``municipalities.line.tasks.LineSendTask`` (Celery's
``retry_backoff`` / ``retry_backoff_max`` / ``retry_jitter`` compute the same wait); the
broadcast batches, whose attempts are counted on their row, call ``line_backoff_seconds``.
"""

from __future__ import annotations

import random

import redis
from django.db import InterfaceError, OperationalError

from municipalities.line.errors import LineRateLimited, LineRetryableError

LINE_RETRYABLE = (LineRateLimited, LineRetryableError)
# Faults that pass by themselves: LINE's 429/5xx/timeouts, Redis down or restarting, a database
# connection cut (``pg_terminate_backend``, a restart, a failover) or a deadlock.
TRANSIENT_ERRORS = (
    *LINE_RETRYABLE,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,
    InterfaceError,
)
LINE_MAX_ATTEMPTS = 8  # the first try and seven retries; then the failure is recorded
LINE_BACKOFF_BASE_SECONDS = 2
LINE_BACKOFF_MAX_SECONDS = 300


def line_backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """The wait after failed attempt ``attempt`` (1 = the first try): U(0, min(cap, base·2^(n-1))),
    never below one second."""
    ceiling = min(LINE_BACKOFF_MAX_SECONDS, LINE_BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0)))
    return max(1.0, (rng or random).uniform(0, ceiling))


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or the error it was raised from) is a fault worth trying again."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TRANSIENT_ERRORS):
            return True
        cause = cause.__cause__
    return False
