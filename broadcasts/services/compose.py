"""Composing and approving broadcasts: draft → 承認待ち → 承認済み/予約済み, or 取消.

Every function here is one durable transaction, checks the policy when ``actor`` is given,
writes an audit row, and enqueues any LINE traffic on commit (STYLE R3).
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from broadcasts import rendering
from broadcasts.errors import BroadcastError
from broadcasts.models import BatchStatus, Broadcast, BroadcastMessage, BroadcastStatus, SendMode
from broadcasts.selectors import recipients_for_broadcast
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.models import StaffUser
from municipalities.tasks_queue import enqueue_on_commit

_CANCELLABLE = {
    BroadcastStatus.DRAFT,
    BroadcastStatus.PENDING,
    BroadcastStatus.APPROVED,
    BroadcastStatus.SCHEDULED,
    BroadcastStatus.SENDING,
}


def _require(actor: StaffUser | None, action: str, broadcast: Broadcast, message: str) -> None:
    if actor is None:
        return
    permissions.require(actor, action, broadcast, error=BroadcastError, message=message)


def _locked(broadcast: Broadcast) -> Broadcast:
    """The broadcast re-read under a row lock (statuses are only changed while holding it)."""
    return (
        Broadcast.objects.select_for_update().select_related("department__municipality").get(pk=broadcast.pk)
    )


def _status_error(broadcast: Broadcast, verb: str) -> BroadcastError:
    return BroadcastError(
        _("「%(title)s」は%(status)sのため%(verb)sできません。")
        % {"title": broadcast.title, "status": broadcast.get_status_display(), "verb": verb},
        code="status",
    )


def _make_preview(message: BroadcastMessage) -> None:
    """A JPEG of at most 1 MB for LINE's previewImageUrl (the original may be up to 10 MB)."""
    if not message.image or message.preview_image:
        return
    if message.image.size <= rendering.MAX_PREVIEW_BYTES:
        return
    from PIL import Image  # Pillow is loaded only when an image needs a preview

    with message.image.open("rb") as fh:
        image = Image.open(fh)
        image.thumbnail((1024, 1024))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=80)
    message.preview_image.save(f"{uuid.uuid4().hex}.jpg", ContentFile(out.getvalue()), save=False)


def _messages_problems(messages: list[BroadcastMessage]) -> list[str]:
    problems: list[str] = []
    if not messages:
        problems.append(_("メッセージを 1 件以上入力してください。"))
    if len(messages) > rendering.MAX_MESSAGES:
        problems.append(_("メッセージは 5 件までです（%(n)s 件あります）。") % {"n": len(messages)})
    for number, message in enumerate(messages, start=1):
        errors = rendering.check_message(
            kind=message.kind,
            text=message.text,
            has_image=bool(message.image),
            image_url=message.image_url,
            card_title=message.card_title,
            link_label=message.link_label,
            link_url=message.link_url,
        )
        problems.extend(_("メッセージ %(n)s: %(error)s") % {"n": number, "error": e} for e in errors.values())
    return problems


def _schedule_problems(broadcast: Broadcast, now: datetime) -> list[str]:
    problems: list[str] = []
    if broadcast.send_mode == SendMode.AT:
        if broadcast.scheduled_at is None:
            problems.append(_("配信日時を入力してください。"))
        elif broadcast.scheduled_at <= now:
            problems.append(
                _("配信日時が過去です（%(at)s）。これから先の日時にしてください。")
                % {"at": timezone.localtime(broadcast.scheduled_at).strftime("%Y/%m/%d %H:%M")}
            )
    if broadcast.recurrence:
        if broadcast.send_mode != SendMode.AT:
            problems.append(_("繰り返し配信は「日時を指定して配信」で最初の配信日時を決めてください。"))
        if broadcast.recurrence_until is None:
            problems.append(_("繰り返しの終了日を入力してください。"))
        elif broadcast.scheduled_at and broadcast.recurrence_until < timezone.localdate(
            broadcast.scheduled_at
        ):
            problems.append(_("繰り返しの終了日が最初の配信日より前です。"))
    return problems


def broadcast_problems(broadcast: Broadcast, *, now: datetime | None = None) -> list[str]:
    """Everything that stops ``broadcast`` from being submitted or approved, for staff."""
    now = now or timezone.now()
    problems: list[str] = []
    if not broadcast.is_emergency and broadcast.category_id is None:
        problems.append(_("分野を選ぶか、緊急にしてください。"))
    if broadcast.is_emergency and broadcast.category_id is not None:
        problems.append(_("緊急のお知らせには分野を指定しません（友だち全員に届きます）。"))
    problems.extend(_messages_problems(list(broadcast.messages.all())))
    problems.extend(_schedule_problems(broadcast, now))
    if not problems and not recipients_for_broadcast(broadcast=broadcast).exists():
        problems.append(_("この条件に当てはまる住民がいません。分野・地区・年代を見直してください。"))
    return problems


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise BroadcastError(" / ".join(problems), code="invalid")


def _render(broadcast: Broadcast) -> list[dict[str, Any]]:
    messages = list(broadcast.messages.all())
    for message in messages:
        if message.kind == "image" and message.image and not message.preview_image:
            _make_preview(message)
            if message.preview_image:
                message.save(update_fields=["preview_image", "updated_at"])
    return [rendering.render_message(m) for m in messages]


@transaction.atomic(durable=True)
def broadcast_save(
    *, broadcast: Broadcast, form: Any, formsets: Any, created: bool, actor: StaffUser
) -> Broadcast:
    """Save a draft and its messages from the admin form, in one transaction.

    Only drafts can be edited (the status is re-read under a row lock). Raises BroadcastError.
    Checks that the messages LINE would refuse are caught here too (more than five, text over
    5,000 UTF-16 units): nothing is saved half-way.
    """
    if created:
        _require(actor, "add", broadcast, _("この課の配信を作成する権限がありません。"))
        broadcast.status = BroadcastStatus.DRAFT
        broadcast.created_by = actor
    else:
        current = _locked(broadcast)
        _require(actor, "change", current, _("この配信を編集する権限がありません。"))
        if not current.is_editable:
            raise _status_error(current, _("編集"))
        _require(actor, "change", broadcast, _("この課の配信にする権限がありません。"))
    if broadcast.is_emergency:
        broadcast.category = None
    if broadcast.send_mode == SendMode.NOW:
        broadcast.scheduled_at = None
        broadcast.recurrence = ""
        broadcast.recurrence_until = None
    full_clean_or(broadcast, error=BroadcastError, exclude=["areas"])
    broadcast.save()
    form.save_m2m()
    for formset in formsets:
        formset.instance = broadcast
        formset.save()
    # The order of the inline forms is the order in LINE.
    ordered = [
        f.instance
        for formset in formsets
        if formset.model is BroadcastMessage
        for f in formset.forms
        if f.instance.pk and f not in formset.deleted_forms
    ]
    ordered_ids = [m.pk for m in ordered]
    rest = list(broadcast.messages.exclude(pk__in=ordered_ids))
    messages = ordered + rest
    if len(messages) > rendering.MAX_MESSAGES:
        raise BroadcastError(
            _("メッセージは 5 件までです（%(n)s 件あります）。") % {"n": len(messages)}, code="invalid"
        )
    for position, message in enumerate(messages):
        if message.position != position:
            BroadcastMessage.objects.filter(pk=message.pk).update(position=position)
    audit_log(
        actor=actor,
        action="broadcasts.broadcast." + ("created" if created else "changed"),
        obj=broadcast,
        data={"changed": list(form.changed_data), "messages": len(messages)},
    )
    return broadcast


@transaction.atomic(durable=True)
def broadcast_submit(*, broadcast: Broadcast, actor: StaffUser | None) -> Broadcast:
    """下書き → 承認待ち. Validates everything LINE and the rules need; freezes the messages.

    Raises BroadcastError (permission, status, invalid content, past schedule, nobody to send
    to). Audited.
    """
    broadcast = _locked(broadcast)
    _require(actor, "change", broadcast, _("この配信を申請する権限がありません。"))
    if broadcast.status != BroadcastStatus.DRAFT:
        raise _status_error(broadcast, _("申請"))
    _raise_problems(broadcast_problems(broadcast))
    broadcast.rendered_messages = _render(broadcast)
    broadcast.status = BroadcastStatus.PENDING
    broadcast.submitted_by = actor
    broadcast.submitted_at = timezone.now()
    broadcast.review_comment = ""
    broadcast.save(
        update_fields=[
            "rendered_messages",
            "status",
            "submitted_by",
            "submitted_at",
            "review_comment",
            "updated_at",
        ]
    )
    audit_log(
        actor=actor,
        action="broadcasts.broadcast.submitted",
        obj=broadcast,
        data={"recipients": _count(broadcast)},
    )
    return broadcast


def _count(broadcast: Broadcast) -> int:
    return recipients_for_broadcast(broadcast=broadcast).count()


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


@transaction.atomic(durable=True)
def broadcast_test_send(*, broadcast: Broadcast, actor: StaffUser) -> Broadcast:
    """Send the broadcast's messages to the staff member's own LINE account (テスト送信).

    Works in any state (a draft is rendered as it is now). Needs the change right and a LINE
    user id on the staff account. The push is enqueued on commit with a retry key of its own.
    Raises BroadcastError. Audited.
    """
    broadcast = _locked(broadcast)
    _require(actor, "change", broadcast, _("この配信をテスト送信する権限がありません。"))
    if not actor.line_user_id:
        raise BroadcastError(
            _(
                "テスト送信先の LINE ユーザーID が登録されていません。職員の設定で自分の LINE ユーザーID を登録してください。"
            ),
            code="no_line_user",
        )
    _raise_problems(_messages_problems(list(broadcast.messages.all())))
    nonce = uuid.uuid4().hex
    audit_log(
        actor=actor,
        action="broadcasts.broadcast.test_sent",
        obj=broadcast,
        data={"to": actor.line_user_id[-6:]},
    )
    enqueue_on_commit("broadcasts.tasks.broadcast_test_send_task", broadcast.pk, actor.pk, nonce)
    return broadcast
