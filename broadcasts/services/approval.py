"""Approving broadcasts: 承認待ち → 承認済み/予約済み, 緊急配信, 差し戻し, 取消.

Every function here is one durable transaction, checks the policy when ``actor`` is given,
writes an audit row, and enqueues any LINE traffic on commit (STYLE R3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from broadcasts.errors import BroadcastError
from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, SendMode
from broadcasts.selectors import recipients_for_broadcast
from broadcasts.services.compose import (
    _count,
    _locked,
    _raise_problems,
    _render,
    _require,
    _schedule_problems,
    _status_error,
    broadcast_problems,
)
from municipalities.audit import audit_log
from municipalities.models import StaffUser
from municipalities.tasks_queue import enqueue_on_commit

_CANCELLABLE = {
    BroadcastStatus.DRAFT,
    BroadcastStatus.PENDING,
    BroadcastStatus.APPROVED,
    BroadcastStatus.SCHEDULED,
    BroadcastStatus.SENDING,
}


def _approve(broadcast: Broadcast, actor: StaffUser | None, now: datetime) -> None:
    _raise_problems(_schedule_problems(broadcast, now))
    if not recipients_for_broadcast(broadcast=broadcast).exists():
        _raise_problems([_("この条件に当てはまる住民がいません。分野・地区・年代を見直してください。")])
    broadcast.approved_by = actor
    broadcast.approved_at = now
    if broadcast.send_mode == SendMode.AT:
        broadcast.status = BroadcastStatus.SCHEDULED
    else:
        broadcast.status = BroadcastStatus.APPROVED
        broadcast.scheduled_at = now


def _self_approval(broadcast: Broadcast, actor: StaffUser | None) -> dict[str, Any]:
    """The two-person rule (``Municipality.broadcast_needs_second_approver``, on by default):
    whoever submitted a broadcast may not approve it. A 緊急 broadcast is the exception (its
    approver, a head or the town's administrator, may be its author: there is no time for a
    second person), and that approval is flagged in the audit row. Returns the audit data to
    add; raises BroadcastError when the rule refuses."""
    if actor is None or broadcast.submitted_by_id != actor.pk:
        return {}
    if not broadcast.department.municipality.broadcast_needs_second_approver:
        return {"self_approved": True, "reason": "allowed_by_town"}
    if broadcast.is_emergency:
        return {"self_approved": True, "reason": "emergency"}
    raise BroadcastError(_("申請した本人は承認できません。別の職員が承認してください。"), code="same_person")


def _start_on_commit(broadcast: Broadcast) -> None:
    if broadcast.status == BroadcastStatus.APPROVED:
        enqueue_on_commit("broadcasts.tasks.broadcast_start_task", broadcast.pk)


@transaction.atomic(durable=True)
def broadcast_approve(*, broadcast: Broadcast, actor: StaffUser | None) -> Broadcast:
    """承認待ち → 承認済み (sent at once) or 予約済み (sent at ``scheduled_at`` by the beat task).

    Needs the approve right in the broadcast's department (所属長, 自治体管理者), and, where the
    town keeps the two-person rule, an approver who is not the submitter (緊急 excepted, and
    flagged in the audit row). Re-checks the schedule and that someone will receive it.
    Enqueues the start on commit when it is to go out now. Raises BroadcastError. Audited.
    """
    broadcast = _locked(broadcast)
    _require(
        actor,
        "approve",
        broadcast,
        _("この配信を承認する権限がありません（所属長または自治体管理者が承認します）。"),
    )
    if broadcast.status != BroadcastStatus.PENDING:
        raise _status_error(broadcast, _("承認"))
    flag = _self_approval(broadcast, actor)
    now = timezone.now()
    _approve(broadcast, actor, now)
    broadcast.save(update_fields=["status", "approved_by", "approved_at", "scheduled_at", "updated_at"])
    audit_log(
        actor=actor,
        action="broadcasts.broadcast.approved",
        obj=broadcast,
        data={"status": broadcast.status, "scheduled_at": broadcast.scheduled_at, **flag},
    )
    _start_on_commit(broadcast)
    return broadcast


@transaction.atomic(durable=True)
def broadcast_emergency_send(*, broadcast: Broadcast, actor: StaffUser | None) -> Broadcast:
    """A head approves and sends an emergency broadcast at once, from 下書き or 承認待ち.

    Needs the approve right; the broadcast must be marked 緊急 (it goes to every follower).
    One person may write and send it (the exception to the two-person rule): the audit row
    says so (``self_approved``). Raises BroadcastError. Audited; the start is enqueued on commit.
    """
    broadcast = _locked(broadcast)
    _require(
        actor,
        "approve",
        broadcast,
        _("緊急配信を送る権限がありません（所属長または自治体管理者が送ります）。"),
    )
    if not broadcast.is_emergency:
        raise BroadcastError(_("「緊急」にした配信だけをすぐに送れます。"), code="invalid")
    if broadcast.status not in {BroadcastStatus.DRAFT, BroadcastStatus.PENDING}:
        raise _status_error(broadcast, _("緊急配信"))
    broadcast.send_mode = SendMode.NOW
    broadcast.recurrence = ""
    broadcast.recurrence_until = None
    _raise_problems(broadcast_problems(broadcast))
    now = timezone.now()
    if broadcast.status == BroadcastStatus.DRAFT:
        broadcast.rendered_messages = _render(broadcast)
        broadcast.submitted_by = actor
        broadcast.submitted_at = now
    flag = _self_approval(broadcast, actor)
    _approve(broadcast, actor, now)
    broadcast.save()
    audit_log(
        actor=actor,
        action="broadcasts.broadcast.emergency_sent",
        obj=broadcast,
        data={"recipients": _count(broadcast), **flag},
    )
    _start_on_commit(broadcast)
    return broadcast


@transaction.atomic(durable=True)
def broadcast_return_to_draft(
    *, broadcast: Broadcast, actor: StaffUser | None, comment: str = ""
) -> Broadcast:
    """承認待ち → 下書き: the head sends it back with a comment, or the author withdraws it.

    A head (approve right) may return anything pending; an editor may withdraw. Audited.
    """
    broadcast = _locked(broadcast)
    _require(actor, "change", broadcast, _("この配信を差し戻す権限がありません。"))
    if broadcast.status != BroadcastStatus.PENDING:
        raise _status_error(broadcast, _("差し戻し"))
    broadcast.status = BroadcastStatus.DRAFT
    broadcast.review_comment = comment
    broadcast.rendered_messages = []
    broadcast.save(update_fields=["status", "review_comment", "rendered_messages", "updated_at"])
    audit_log(actor=actor, action="broadcasts.broadcast.returned", obj=broadcast, data={"comment": comment})
    return broadcast


@transaction.atomic(durable=True)
def broadcast_cancel(*, broadcast: Broadcast, actor: StaffUser | None) -> Broadcast:
    """取消: possible until the last batch has gone out.

    Batches not yet claimed by a worker are cancelled in the same transaction, so no worker
    sends them afterwards (a worker claims a batch only while its broadcast is 配信中); batches
    already in flight finish and are counted. Cancelling once approved needs the approve right.
    Raises BroadcastError. Audited.
    """
    broadcast = _locked(broadcast)
    needs = (
        "approve" if broadcast.status not in {BroadcastStatus.DRAFT, BroadcastStatus.PENDING} else "change"
    )
    _require(actor, needs, broadcast, _("この配信を取り消す権限がありません。"))
    if broadcast.status not in _CANCELLABLE:
        raise _status_error(broadcast, _("取消"))
    cancelled_batches = 0
    if broadcast.status == BroadcastStatus.SENDING:
        cancelled_batches = broadcast.batches.filter(status=BatchStatus.PENDING).update(
            status=BatchStatus.CANCELLED, updated_at=timezone.now()
        )
        if not broadcast.batches.filter(status__in=[BatchStatus.PENDING, BatchStatus.SENDING]).exists():
            broadcast.finished_at = timezone.now()
    previous = broadcast.status
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.cancelled_by = actor
    broadcast.cancelled_at = timezone.now()
    broadcast.save(update_fields=["status", "cancelled_by", "cancelled_at", "finished_at", "updated_at"])
    audit_log(
        actor=actor,
        action="broadcasts.broadcast.cancelled",
        obj=broadcast,
        data={"from": previous, "cancelled_batches": cancelled_batches},
    )
    if previous == BroadcastStatus.SENDING:
        enqueue_on_commit("broadcasts.tasks.broadcast_finish_task", broadcast.pk)
    return broadcast
