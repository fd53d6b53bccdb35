"""The one retry policy for sending to LINE (STYLE R10).

Only transient failures are retried: 429 (``LineRateLimited``) and 5xx, timeouts and lost
connections (``LineRetryableError``). The wait is exponential with full jitter (AWS architecture
blog: U(0, min(cap, base·2^n))), so a burst of 429s spreads out, and the attempts are bounded.
LINE sends no Retry-After header, so there is none to honour.

Celery tasks get the policy from ``municipalities.line.tasks.LineSendTask`` (Celery's
``retry_backoff`` / ``retry_backoff_max`` / ``retry_jitter`` compute the same wait); the
broadcast batches, whose attempts are counted on their row, call ``line_backoff_seconds``.
"""

from __future__ import annotations

import random

from municipalities.line.errors import LineRateLimited, LineRetryableError

LINE_RETRYABLE = (LineRateLimited, LineRetryableError)
LINE_MAX_ATTEMPTS = 8  # the first try and seven retries; then the failure is recorded
LINE_BACKOFF_BASE_SECONDS = 2
LINE_BACKOFF_MAX_SECONDS = 300


def line_backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """The wait after failed attempt ``attempt`` (1 = the first try): U(0, min(cap, base·2^(n-1))),
    never below one second."""
    ceiling = min(LINE_BACKOFF_MAX_SECONDS, LINE_BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0)))
    return max(1.0, (rng or random).uniform(0, ceiling))
