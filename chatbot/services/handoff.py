"""The hand-off to a person: a resident asks for staff (「職員と話す」), staff reply, may pause the
bot, and mark the conversation done; the bot tells the resident once that staff are on it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.errors import ChatbotError
from chatbot.models import ChatState, Handoff, HandoffRoute, StaffReply
from chatbot.notices import handoffs_changed_on_commit
from chatbot.services.state import state_for_update
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.line import messages as line_messages
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.talklog import talk_log_outbound
from municipalities.models import Department, Resident, StaffUser, TalkMessage
from municipalities.tasks_queue import enqueue_on_commit


def handoff_open_get(*, resident: Resident) -> Handoff | None:
    """The resident's open hand-off (waiting or active), if any."""
    return Handoff.objects.exclude(status=Handoff.Status.DONE).filter(resident=resident).first()


def _open_for_update(resident: Resident) -> Handoff | None:
    return (
        Handoff.objects.select_for_update()
        .exclude(status=Handoff.Status.DONE)
        .filter(resident=resident)
        .first()
    )


@transaction.atomic(durable=True)
def handoff_request(*, resident: Resident, topic: str = "", department: Department | None = None) -> Handoff:
    """A resident asks to talk with a person (「職員と話す」 or the bot's fallback).

    Opens a hand-off in ``department``'s inbox (the department that owns the topic) or, without
    one, the town-wide inbox; a resident who already has one open keeps it (the topic is
    updated). Audited as the resident. Enqueues the e-mail notice on commit when the town set
    an address. One open hand-off per resident is a partial UNIQUE: two requests at once end
    with one row.
    """
    if department is not None and department.municipality_id != resident.municipality_id:
        raise ChatbotError(_("別の自治体の課には引き継げません。"))
    handoff = _open_for_update(resident)
    if handoff is not None:
        if topic:
            handoff.topic = topic[:300]
            handoff.save(update_fields=["topic", "updated_at"])
        return handoff
    try:
        with transaction.atomic():
            handoff = Handoff.objects.create(
                municipality_id=resident.municipality_id,
                resident=resident,
                department=department,
                topic=topic[:300],
                requested_at=timezone.now(),
            )
    except IntegrityError:  # the same resident asked twice at once: keep the first
        return Handoff.objects.exclude(status=Handoff.Status.DONE).get(resident=resident)
    audit_log(
        actor=None,
        actor_resident=resident,
        action="chatbot.handoff.requested",
        obj=handoff,
        data={"department": department.pk if department else None},
    )
    handoffs_changed_on_commit(resident.municipality_id)
    if resident.municipality.handoff_notify_email:
        enqueue_on_commit("chatbot.tasks.handoff_notify_task", handoff.pk)
    return handoff


@transaction.atomic(durable=True)
def handoff_note_message(*, resident: Resident) -> bool:
    """A message the bot cannot answer arrived during an open hand-off: count it for staff.

    Returns True exactly once per hand-off (a conditional UPDATE), when the bot should tell the
    resident 「担当者が対応中です」; False when it already did, or when no hand-off is open.
    """
    handoff = _open_for_update(resident)
    if handoff is None:
        return False
    Handoff.objects.filter(pk=handoff.pk).update(unread=F("unread") + 1, updated_at=timezone.now())
    handoffs_changed_on_commit(resident.municipality_id)
    return bool(Handoff.objects.filter(pk=handoff.pk, busy_notice_sent=False).update(busy_notice_sent=True))


def _require_reply(actor: StaffUser, resident: Resident) -> None:
    """The actor may reply to this resident: ``reply`` on the talk log (municipalities.TalkMessage)."""
    permissions.require(
        actor,
        "reply",
        TalkMessage(municipality_id=resident.municipality_id, resident=resident),
        error=ChatbotError,
        message=_("この住民に返信する権限がありません。"),
    )


def _pause_until(resident: Resident) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=resident.municipality.handoff_pause_minutes)


@transaction.atomic(durable=True)
def talk_reply_send(
    *, resident: Resident, text: str, actor: StaffUser, pause_bot: bool = False
) -> StaffReply:
    """A member of staff answers a resident from the talk page (push).

    Checks the ``reply`` permission, records the reply, makes the resident's hand-off active (one
    is opened in the town-wide inbox when the resident had none, so that their answer reaches
    staff), clears its unread count, and, with ``pause_bot``, pauses the bot for the town's
    pause time. Audited; pushes on commit.
    """
    text = (text or "").strip()
    if not text:
        raise ChatbotError(_("返信の内容を入力してください。"))
    if len(text) > 4000:
        raise ChatbotError(_("返信は 4000 文字以内にしてください。"))
    resident = Resident.objects.select_for_update().select_related("municipality").get(pk=resident.pk)
    _require_reply(actor, resident)
    if not resident.is_following:
        raise ChatbotError(_("この住民はブロック中のため送信できません。"))
    reply = StaffReply.objects.create(
        municipality_id=resident.municipality_id, resident=resident, text=text, sent_by=actor
    )
    handoff = _open_for_update(resident)
    if handoff is None:
        handoff = Handoff.objects.create(
            municipality_id=resident.municipality_id,
            resident=resident,
            status=Handoff.Status.ACTIVE,
            requested_at=timezone.now(),
        )
    else:
        handoff.status = Handoff.Status.ACTIVE
        handoff.unread = 0
        handoff.save(update_fields=["status", "unread", "updated_at"])
    state = state_for_update(resident)
    state.pending = ""
    fields = ["pending", "updated_at"]
    if pause_bot:
        state.silenced_until = _pause_until(resident)
        fields.append("silenced_until")
    state.save(update_fields=fields)
    audit_log(
        actor=actor,
        action="chatbot.staffreply.sent",
        obj=reply,
        data={"resident": resident.pk, "length": len(text), "pause_bot": pause_bot},
    )
    handoffs_changed_on_commit(resident.municipality_id)
    enqueue_on_commit("chatbot.tasks.talk_reply_push_task", reply.pk)
    return reply


@transaction.atomic(durable=True)
def talk_bot_pause(*, resident: Resident, actor: StaffUser) -> ChatState:
    """Staff pause the bot for this resident (it then answers nothing, after saying once that
    staff are on it) until the conversation is marked done or the town's pause time passes."""
    resident = Resident.objects.select_related("municipality").get(pk=resident.pk)
    _require_reply(actor, resident)
    if _open_for_update(resident) is None:
        # The bot tells the resident once that staff are on it: that needs an open hand-off.
        Handoff.objects.create(
            municipality_id=resident.municipality_id,
            resident=resident,
            status=Handoff.Status.ACTIVE,
            requested_at=timezone.now(),
        )
    state = state_for_update(resident)
    state.silenced_until = _pause_until(resident)
    state.save(update_fields=["silenced_until", "updated_at"])
    audit_log(actor=actor, action="chatbot.chatstate.bot_paused", obj=state, data={"resident": resident.pk})
    handoffs_changed_on_commit(resident.municipality_id)
    return state


@transaction.atomic(durable=True)
def talk_handoff_end(*, resident: Resident, actor: StaffUser) -> ChatState:
    """Staff mark the conversation done: the open hand-off is closed and the bot answers again
    at once (any pause ends). Audited."""
    resident = Resident.objects.get(pk=resident.pk)
    _require_reply(actor, resident)
    handoff = _open_for_update(resident)
    if handoff is not None:
        handoff.status = Handoff.Status.DONE
        handoff.closed_at = timezone.now()
        handoff.closed_by = actor
        handoff.unread = 0
        handoff.save(update_fields=["status", "closed_at", "closed_by", "unread", "updated_at"])
    state = state_for_update(resident)
    state.silenced_until = None
    state.save(update_fields=["silenced_until", "updated_at"])
    audit_log(
        actor=actor, action="chatbot.chatstate.handoff_ended", obj=state, data={"resident": resident.pk}
    )
    handoffs_changed_on_commit(resident.municipality_id)
    return state


def talk_reply_push(*, reply_id: int) -> StaffReply:
    """Send a staff reply (task body; outside any transaction). Idempotent via the retry key."""
    reply = StaffReply.objects.select_related("resident", "municipality", "sent_by").get(pk=reply_id)
    if reply.sent_at is not None:
        return reply
    started = timezone.now()
    message = line_messages.text(reply.text)
    result = get_line_client(reply.municipality).push(
        reply.resident.line_user_id, [message], retry_key=retry_key_for("chatbot-staff-reply", reply.pk)
    )
    with transaction.atomic():
        # Some backends log outbound talk themselves (without the sender): mark that row as
        # this member of staff's; otherwise log it here.
        logged = (
            TalkMessage.objects.filter(
                resident=reply.resident,
                direction=TalkMessage.Direction.OUTBOUND,
                sent_by__isnull=True,
                text=reply.text,
                created_at__gte=started,
            )
            .order_by("-created_at")
            .first()
        )
        if logged is not None:
            TalkMessage.objects.filter(pk=logged.pk).update(sent_by=reply.sent_by)
        elif not result.already_accepted:
            talk_log_outbound(
                municipality=reply.municipality,
                line_user_ids=[reply.resident.line_user_id],
                messages=[message],
                sent_by=reply.sent_by,
            )
        StaffReply.objects.filter(pk=reply.pk).update(sent_at=timezone.now())
    reply.refresh_from_db()
    return reply


def handoff_notify(*, handoff_id: int) -> bool:
    """E-mail the town's hand-off address that a resident asked for a person (task body; outside
    any transaction). The mail names the inbox and links to the talk page, never what the
    resident wrote (mail leaves the system). Returns whether a mail was sent."""
    handoff = Handoff.objects.select_related("municipality", "department", "resident").get(pk=handoff_id)
    address = handoff.municipality.handoff_notify_email
    if not address or handoff.status == Handoff.Status.DONE:
        return False
    inbox = handoff.department.name if handoff.department else _("自治体全体の窓口")
    link = settings.SITE_URL.rstrip("/") + reverse(
        "admin:chatbot_talkthread_change", args=[handoff.resident_id]
    )
    send_mail(
        subject=_("【%(town)s】住民が職員との会話を希望しています（%(inbox)s）")
        % {"town": handoff.municipality.name, "inbox": inbox},
        message=_("LINE で住民が「職員と話す」を選びました。\n担当: %(inbox)s\nトーク: %(link)s\n")
        % {"inbox": inbox, "link": link},
        from_email=None,
        recipient_list=[address],
    )
    return True


# --- Topic routes (which 課 receives which hand-offs) -------------------------------------------


@transaction.atomic(durable=True)
def handoff_route_save(*, route: HandoffRoute, actor: StaffUser | None, created: bool) -> HandoffRoute:
    """Create or change a topic route (話題 → 課). Checks the policy in the route's department,
    needs at least one word, audited."""
    if actor is not None:
        permissions.require_save(
            actor,
            route,
            created=created,
            error=ChatbotError,
            message=_("この課の問い合わせの振り分けを変更する権限がありません。"),
        )
    route.keywords = "\n".join(dict.fromkeys(route.keyword_list()))
    if not route.keywords:
        raise ChatbotError(_("振り分けに使う言葉を 1 つ以上入力してください。"))
    full_clean_or(route, error=ChatbotError)
    route.save()
    audit_log(
        actor=actor,
        action="chatbot.handoffroute." + ("created" if created else "changed"),
        obj=route,
        data={"topic": route.topic, "keywords": route.keyword_list(), "is_active": route.is_active},
    )
    return route


@transaction.atomic(durable=True)
def handoff_route_delete(*, route: HandoffRoute, actor: StaffUser | None) -> None:
    """Delete a topic route; its hand-offs go to the FAQ's department or the town-wide inbox. Audited."""
    if actor is not None:
        permissions.require(
            actor,
            "delete",
            route,
            error=ChatbotError,
            message=_("この課の問い合わせの振り分けを削除する権限がありません。"),
        )
    audit_log(actor=actor, action="chatbot.handoffroute.deleted", obj=route, data={"topic": route.topic})
    route.delete()
