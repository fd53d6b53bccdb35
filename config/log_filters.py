"""Logging filters of the settings' ``LOGGING``."""

from __future__ import annotations

import logging


def not_a_conflict(record: logging.LogRecord) -> bool:
    """Drop Django's request warning for a 409: the answer a resident gets when the place they
    chose was taken meanwhile (a full slot, a changed booking). It is an expected outcome, and
    in a booking rush most requests end so: one WARNING each would bury the warnings that
    matter. Other 4xx and every 5xx are logged as Django logs them."""
    return getattr(record, "status_code", None) != 409
