"""Composing broadcasts: the draft, its checks, submitting it for approval (下書き → 承認待ち), test sends.

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
from broadcasts.models import Broadcast, BroadcastMessage, BroadcastStatus, SendMode
from broadcasts.selectors import recipients_for_broadcast
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.models import StaffUser
from municipalities.tasks_queue import enqueue_on_commit


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


def _count(broadcast: Broadcast) -> int:
    return recipients_for_broadcast(broadcast=broadcast).count()


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
