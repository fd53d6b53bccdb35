"""Services of the broadcasts app (STYLE R15: split by topic, re-exported here)."""

from broadcasts.services.approval import (
    broadcast_approve,
    broadcast_cancel,
    broadcast_emergency_send,
    broadcast_return_to_draft,
)
from broadcasts.services.batch_send import delivery_batch_send
from broadcasts.services.compose import (
    broadcast_problems,
    broadcast_save,
    broadcast_submit,
    broadcast_test_send,
)
from broadcasts.services.delivery import (
    broadcast_fan_out,
    broadcast_finish_if_done,
    broadcast_start,
    delivery_batches_requeue_stuck,
)
from broadcasts.services.preferences import receive_settings_update
from broadcasts.services.unfollows import broadcast_unfollows_count

__all__ = [
    "broadcast_approve",
    "broadcast_cancel",
    "broadcast_emergency_send",
    "broadcast_fan_out",
    "broadcast_finish_if_done",
    "broadcast_problems",
    "broadcast_return_to_draft",
    "broadcast_save",
    "broadcast_start",
    "broadcast_submit",
    "broadcast_test_send",
    "broadcast_unfollows_count",
    "delivery_batch_send",
    "delivery_batches_requeue_stuck",
    "receive_settings_update",
]
