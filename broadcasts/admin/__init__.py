"""The broadcast console, by topic (STYLE R15): composing, the workflow, delivery progress.
Importing the modules registers their admin classes."""

from broadcasts.admin.broadcast import BroadcastAdmin, TransitionPage
from broadcasts.admin.compose import (
    BroadcastForm,
    BroadcastMessageForm,
    BroadcastMessageFormSet,
    BroadcastMessageInline,
    RecipientCountPage,
)
from broadcasts.admin.delivery import STATUS_COLOURS, FailedBatchInline, ProgressPage

__all__ = [
    "STATUS_COLOURS",
    "BroadcastAdmin",
    "BroadcastForm",
    "BroadcastMessageForm",
    "BroadcastMessageFormSet",
    "BroadcastMessageInline",
    "FailedBatchInline",
    "ProgressPage",
    "RecipientCountPage",
    "TransitionPage",
]
