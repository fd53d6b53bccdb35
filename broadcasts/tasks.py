"""Celery entry points of the broadcasts app. Each takes ids, calls one service, and can run
twice (STYLE R10). Beat entries are in config/celery.py."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from broadcasts import rendering
from broadcasts.models import Broadcast
from broadcasts.selectors import broadcasts_due, broadcasts_for_unfollow_count
from broadcasts.services import batch_send, delivery, unfollows
from broadcasts.services.preferences import confirm_cache_key, settings_summary
from municipalities.line import messages as line_messages
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.errors import LineError
from municipalities.line.liff import resident_link
from municipalities.line.tasks import LineSendTask
from municipalities.models import Resident, StaffUser

logger = logging.getLogger(__name__)


@worker_init.connect
def _preload_line_sdk(**kwargs: object) -> None:
    """Import line-bot-sdk (seconds of pydantic model building) once in the worker's parent
    process, before the pool forks, instead of in every child on its first batch."""
    if not settings.LINE_USES_SIMULATOR:
        import municipalities.line.api  # noqa: F401 - the import is the point (see the docstring)


@shared_task(acks_late=True)
def broadcast_start_task(broadcast_id: int) -> None:
    delivery.broadcast_start(broadcast_id=broadcast_id)


@shared_task(acks_late=True)
def broadcast_fan_out_task(broadcast_id: int) -> None:
    """Resume a fan-out that stopped half-way (enqueued by the stuck-batches beat)."""
    delivery.broadcast_fan_out(broadcast_id=broadcast_id)


@shared_task
def broadcasts_start_due_task() -> int:
    """Beat, every minute: start every broadcast whose time has come (each claims itself)."""
    ids = list(broadcasts_due().values_list("pk", flat=True)[:100])
    for broadcast_id in ids:
        broadcast_start_task.delay(broadcast_id)
    return len(ids)


@shared_task(base=LineSendTask, failure_model="broadcasts.DeliveryBatch")
def delivery_batch_send_task(batch_id: int) -> str:
    """Send one batch. Its tries and claims are counted on its row (a batch re-queued by the
    sweep keeps its counts): the service tries a 5xx or 429 again at once, records LINE's
    errors there and, when LINE keeps failing, returns the wait before the next claim (the
    LINE retry policy's back-off), and the batch is enqueued again."""
    outcome = batch_send.delivery_batch_send(batch_id=batch_id)
    if outcome.retry_in is not None:
        delivery_batch_send_task.apply_async((batch_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(acks_late=True)
def broadcast_finish_task(broadcast_id: int) -> None:
    delivery.broadcast_finish_if_done(broadcast_id=broadcast_id)


@shared_task
def delivery_batches_requeue_stuck_task() -> int:
    """Beat, every 5 seconds: batches of dead workers and lost tasks go back to the queue, and
    stopped fan-outs go on."""
    return delivery.delivery_batches_requeue_stuck()


@shared_task
def broadcast_unfollows_count_task() -> int:
    """Beat, hourly: the blocks in the 24 hours after each recent broadcast."""
    now = timezone.now()
    ids = list(broadcasts_for_unfollow_count(now=now).values_list("pk", flat=True)[:200])
    for broadcast_id in ids:
        unfollows.broadcast_unfollows_count(broadcast_id=broadcast_id, now=now)
    return len(ids)


@shared_task(base=LineSendTask, failure_model="broadcasts.Broadcast")
def broadcast_test_send_task(broadcast_id: int, staff_id: int, nonce: str) -> None:
    broadcast = Broadcast.objects.select_related("department__municipality").get(pk=broadcast_id)
    staff = StaffUser.objects.get(pk=staff_id)
    messages = broadcast.rendered_messages or [rendering.render_message(m) for m in broadcast.messages.all()]
    header = line_messages.text(f"【テスト送信】{broadcast.title}")
    # The label fits in front unless the broadcast already uses LINE's five messages.
    payload = [header, *messages] if len(messages) < line_messages.MAX_MESSAGES_PER_REQUEST else messages
    get_line_client(broadcast.department.municipality).push(
        staff.line_user_id, payload, retry_key=retry_key_for("broadcast-test", broadcast_id, staff_id, nonce)
    )


@shared_task(base=LineSendTask, failure_model="municipalities.Resident")
def receive_settings_confirm_task(resident_id: int, nonce: str) -> None:
    """Confirm a change of receive settings in LINE, once for several taps in a row."""
    if cache.get(confirm_cache_key(resident_id)) not in (None, nonce):
        return  # a later change will confirm the final state
    resident = (
        Resident.objects.select_related("municipality", "area")
        .filter(pk=resident_id, is_following=True)
        .first()
    )
    if resident is None:
        return
    link = resident_link(resident, reverse("broadcasts:receive_settings"))
    body = "受信設定を変更しました。\n\n" + settings_summary(resident) + "\n\n変更はこちら:"
    message = line_messages.text_with_button(
        body, "受信設定を開く", link, alt_text="受信設定を変更しました。"
    )
    try:
        get_line_client(resident.municipality).push(
            resident.line_user_id, [message], retry_key=retry_key_for("receive-settings", resident_id, nonce)
        )
    except LineError as exc:  # a confirmation is a courtesy: log, do not retry forever
        logger.warning("receive settings confirmation to resident %s failed: %s", resident_id, exc.message)
