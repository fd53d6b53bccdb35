"""Talk-log retention: the beat task deletes rows older than each town's retention."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from municipalities.line.talklog import talk_log_inbound, talk_log_purge
from municipalities.models import TalkMessage, WebhookEvent
from municipalities.tasks import talk_log_retention_task


def _aged(resident, days: int, text: str) -> TalkMessage:
    row = talk_log_inbound(resident=resident, kind="text", text=text, payload={})
    TalkMessage.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


def test_rows_older_than_each_towns_retention_are_deleted(town, other_town, resident):
    # given: みどり町 keeps 30 days, あおば市 the default 365
    from municipalities.services import resident_follow

    town.talk_log_retention_days = 30
    town.save(update_fields=["talk_log_retention_days"])
    aoba_resident, _ = resident_follow(municipality=other_town, line_user_id="U" + "c" * 32)
    old = _aged(resident, 31, "古い")
    kept = _aged(resident, 29, "新しい")
    aoba_kept = _aged(aoba_resident, 100, "あおばの記録")
    aoba_old = _aged(aoba_resident, 400, "あおばの古い記録")
    # when
    deleted = talk_log_retention_task()
    # then
    assert deleted == 2
    remaining = set(TalkMessage.objects.values_list("pk", flat=True))
    assert remaining == {kept.pk, aoba_kept.pk}
    assert old.pk not in remaining and aoba_old.pk not in remaining


def test_purge_works_in_batches_and_can_run_again(town, resident):
    for i in range(7):
        _aged(resident, 400, f"古い{i}")
    assert talk_log_purge(batch_size=3) == 7
    assert talk_log_purge(batch_size=3) == 0
    assert TalkMessage.objects.count() == 0


def test_stored_webhook_events_follow_the_same_retention(town, resident):
    # given: みどり町 keeps 30 days; two stored events, one of them older than that
    town.talk_log_retention_days = 30
    town.save(update_fields=["talk_log_retention_days"])
    old, kept = (
        WebhookEvent.objects.create(
            municipality=town,
            webhook_event_id=event_id,
            event_type="message",
            line_user_id=resident.line_user_id,
            payload={"message": {"type": "text", "text": "住所は…"}},
            status=WebhookEvent.Status.PROCESSED,
        )
        for event_id in ("OLD", "KEPT")
    )
    WebhookEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    # when
    deleted = talk_log_retention_task()
    # then
    assert deleted == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [kept.pk]
