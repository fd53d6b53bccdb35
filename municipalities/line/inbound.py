"""Processing stored webhook events: the resident lifecycle and the dispatch to apps.

``webhook_events_process(municipality_id=, webhook_event_ids=)`` is what the Celery task runs.
Each event is **claimed** first with a conditional UPDATE (``received`` → ``processed``), so a
redelivery, a second identical post or a task that runs twice does nothing. The handlers call
durable services (each its own transaction), so processing cannot be one transaction: an event
is processed at most once, and a failure is recorded on the row (``failed`` + the error) for
staff to see, rather than retried into a double answer.

Replies go out after the handlers' services have committed, with the event's reply token
(valid once, for a short time); a reply that fails is recorded, never retried.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.errors import ServiceError
from municipalities.line import dispatch
from municipalities.line import messages as m
from municipalities.line.client import LineClient, get_line_client, retry_key_for
from municipalities.line.errors import LineError, LineReplyTokenExpired
from municipalities.line.liff import resident_link
from municipalities.line.talklog import talk_log_inbound
from municipalities.models import Municipality, Resident, WebhookEvent
from municipalities.services import resident_follow, resident_unfollow

logger = logging.getLogger(__name__)


def default_greeting(municipality: Municipality) -> str:
    return _(
        "{name}の公式アカウントを友だち追加していただき、ありがとうございます。\n"
        "子育て・健康・防災・ごみなど、受け取りたいお知らせとお住まいの地区を選べます。"
        "下の「受信設定」から設定してください。\n"
        "ご質問はこのトークにメッセージでどうぞ。"
    ).format(name=municipality.name)


def greeting_messages(resident: Resident) -> list[dict[str, Any]]:
    """What a new (or returning) friend receives: the town's greeting and the settings link."""
    municipality = resident.municipality
    body = (municipality.follow_greeting or "").strip() or default_greeting(municipality)
    link = resident_link(resident, reverse("line:receive_settings"))
    return [
        m.text(body[: m.MAX_TEXT_UTF16 // 2]),
        m.buttons(
            _("受け取るお知らせと地区を選んでください。"),
            [m.uri_action(_("受信設定"), link)],
            alt_text=_("受信設定のご案内"),
            title=_("受信設定"),
        ),
    ]


def help_messages(resident: Resident | None) -> list[dict[str, Any]]:
    """The reply when no app answers: short, friendly, with a way forward."""
    items = []
    if resident is not None:
        items.append(
            m.quick_reply_item(
                m.uri_action(_("受信設定"), resident_link(resident, reverse("line:receive_settings")))
            )
        )
    return [
        m.text(
            _(
                "メッセージありがとうございます。\n"
                "申し訳ありませんが、このご質問にはお答えできませんでした。"
                "メニューから各種サービスをご利用いただくか、役場の窓口までお問い合わせください。"
            ),
            quick_reply=items or None,
        )
    ]


def sorry_messages() -> list[dict[str, Any]]:
    return [m.text(_("申し訳ありません。ただいま処理できませんでした。時間をおいてもう一度お試しください。"))]


def _profile(client: LineClient, municipality: Municipality, user_id: str) -> tuple[str, str]:
    # A simulated resident exists before their follow event (the simulator creates them with
    # their name), and the simulator backend's profile is read from that row.
    try:
        profile = client.get_profile(user_id)
    except LineError as exc:  # the greeting matters more than the name
        logger.warning("profile of %s not available: %s", user_id, exc)
        return "", ""
    if profile is None:
        return "", ""
    return profile.display_name, profile.picture_url


def _claim(event: WebhookEvent) -> bool:
    return bool(
        WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.RECEIVED).update(
            status=WebhookEvent.Status.PROCESSED, processed_at=timezone.now()
        )
    )


def _record_failure(event: WebhookEvent, error: str) -> None:
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.FAILED, error=error[:2000])


def _reply(
    client: LineClient, event: WebhookEvent, messages: list[dict[str, Any]] | None, talk_log_text: str = ""
) -> None:
    """Answer with the event's reply token; when LINE no longer takes it (a backlog after a
    rush or a worker outage outlived it), push the same answer instead, so the resident still
    gets it (a push counts against the town's message quota; the retry key makes a second
    run of this event's processing a 409, not a second message)."""
    if not messages or not event.reply_token:
        return
    try:
        try:
            client.reply(event.reply_token, messages, talk_log_text=talk_log_text)
        except LineReplyTokenExpired:
            logger.info("reply token of %s expired: pushing the answer", event.webhook_event_id)
            client.push(
                event.line_user_id,
                messages,
                retry_key=retry_key_for("reply-as-push", event.municipality_id, event.webhook_event_id),
                talk_log_text=talk_log_text,
            )
    except LineError as exc:
        logger.warning("reply to %s failed: %s", event.webhook_event_id, exc)
        _record_failure(event, f"reply: {type(exc).__name__}: {exc.message}")


def _resident_for(client: LineClient, municipality: Municipality, user_id: str) -> Resident:
    """The sender, with ``municipality`` (already loaded) attached for the handlers."""
    resident = Resident.objects.filter(municipality=municipality, line_user_id=user_id).first()
    if resident is None or not resident.is_following:
        # A message from someone we have no (active) record of: they are a friend, or LINE would
        # not deliver their message (e.g. they followed before this system, or a follow was lost).
        display_name, picture_url = _profile(client, municipality, user_id)
        resident, _created = resident_follow(
            municipality=municipality,
            line_user_id=user_id,
            display_name=display_name,
            picture_url=picture_url,
        )
    resident.municipality = municipality
    return resident


def _handle_follow(
    client: LineClient, municipality: Municipality, event: WebhookEvent
) -> list[dict[str, Any]]:
    display_name, picture_url = _profile(client, municipality, event.line_user_id)
    resident, _created = resident_follow(
        municipality=municipality,
        line_user_id=event.line_user_id,
        display_name=display_name,
        picture_url=picture_url,
    )
    resident.municipality = municipality
    talk_log_inbound(resident=resident, kind="follow", text=_("友だち追加"), payload=event.payload)
    return greeting_messages(resident)


def _handle_message(
    client: LineClient, municipality: Municipality, event: WebhookEvent
) -> tuple[list[dict[str, Any]] | None, str]:
    """The answer to a message, and what the talk log keeps of it instead ("" = the answer)."""
    resident = _resident_for(client, municipality, event.line_user_id)
    message = dispatch.as_dict(dispatch.as_dict(event.payload).get("message"))
    kind = dispatch.as_str(message.get("type"))
    text = dispatch.as_str(message.get("text")) if kind == "text" else ""
    talk_log_inbound(resident=resident, kind=kind or "message", text=text or f"[{kind}]", payload=message)
    context = dispatch.InboundContext(municipality=municipality, resident=resident, event=event.payload)
    if kind == "text" and text.strip():
        for handler in dispatch.text_handlers():
            answer = handler(context)
            if answer is not None:  # [] = handled, answer nothing (e.g. staff have taken over)
                return answer, context.talk_log_text
    return help_messages(resident), ""


def _handle_postback(
    client: LineClient, municipality: Municipality, event: WebhookEvent
) -> tuple[list[dict[str, Any]] | None, str]:
    """The answer to a postback, and what the talk log keeps of it instead ("" = the answer)."""
    resident = _resident_for(client, municipality, event.line_user_id)
    postback = dispatch.as_dict(dispatch.as_dict(event.payload).get("postback"))
    data = dispatch.as_str(postback.get("data"))
    talk_log_inbound(resident=resident, kind="postback", text=data, payload=postback)
    handler = dispatch.postback_handler(data)
    if handler is None:
        logger.info("no postback handler for %r", data.split(":", 1)[0])
        return [m.text(_("この操作は現在ご利用いただけません。メニューからもう一度お試しください。"))], ""
    context = dispatch.InboundContext(municipality=municipality, resident=resident, event=event.payload)
    return handler(context), context.talk_log_text


def webhook_event_process(*, event: WebhookEvent, municipality: Municipality, client: LineClient) -> bool:
    """Process one stored event once. Returns False when it was already claimed (a no-op)."""
    if not _claim(event):
        return False
    source_type = dispatch.as_dict(dispatch.as_dict(event.payload).get("source")).get("type")
    if source_type != "user" or not event.line_user_id:
        # Group and room talk is not a resident conversation: stored, not answered.
        WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.SKIPPED)
        return True
    talk_log_text = ""
    try:
        if event.event_type == "follow":
            answer = _handle_follow(client, municipality, event)
        elif event.event_type == "unfollow":
            resident_unfollow(municipality=municipality, line_user_id=event.line_user_id)
            answer = None
        elif event.event_type == "message":
            answer, talk_log_text = _handle_message(client, municipality, event)
        elif event.event_type == "postback":
            answer, talk_log_text = _handle_postback(client, municipality, event)
        else:  # join, leave, beacon, accountLink, …: nothing to do yet
            answer = None
    except ServiceError as exc:  # a handler's service refused: tell the resident why
        _record_failure(event, f"{exc.code}: {exc.message}" if exc.code else str(exc.message))
        answer = [m.text(str(exc.message))]
    except Exception as exc:  # a bug in a handler must not lose the answer or the record
        logger.exception("webhook event %s failed", event.webhook_event_id)
        _record_failure(event, f"{type(exc).__name__}: {exc}")
        answer = sorry_messages()
    _reply(client, event, answer, talk_log_text)
    return True


def webhook_events_process(
    *, municipality_id: int, webhook_event_ids: list[str], deadline: float | None = None
) -> int:
    """Process the stored events of one webhook body, in order; with a ``deadline`` (a
    ``time.monotonic()`` value), stop before the next event once it has passed. Returns how
    many were processed."""
    municipality = Municipality.objects.filter(pk=municipality_id).first()
    if municipality is None:
        return 0
    events = WebhookEvent.objects.filter(
        municipality_id=municipality_id,
        webhook_event_id__in=webhook_event_ids,
        status=WebhookEvent.Status.RECEIVED,
    ).order_by("occurred_at", "pk")
    events = list(events)
    if not events:
        return 0
    client = get_line_client(municipality)
    processed = 0
    for event in events:
        if deadline is not None and time.monotonic() >= deadline:
            break
        processed += webhook_event_process(event=event, municipality=municipality, client=client)
    return processed


SWEEP_AFTER = timedelta(minutes=1)
# An event older than this is not answered any more: a greeting or an answer that late would
# confuse more than help (it stays visible to staff, ``received``).
ANSWER_WITHIN = timedelta(hours=6)


def webhook_lanes_pending(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """The (municipality id, lane) pairs with an event still ``received`` a minute after it
    arrived: its wake-up or drain task was lost (e.g. the broker was down)."""
    now = now or timezone.now()
    return list(
        WebhookEvent.objects.filter(
            status=WebhookEvent.Status.RECEIVED,
            created_at__lt=now - SWEEP_AFTER,
            created_at__gte=now - ANSWER_WITHIN,
        )
        .order_by("municipality_id", "lane")
        .values_list("municipality_id", "lane")
        .distinct()
    )


DRAIN_BATCH = 100


def webhook_events_drain(
    *, municipality_id: int, lane: int, budget_seconds: float = 50.0
) -> tuple[int, bool]:
    """Process the stored events of one lane of a town (those of the last ``ANSWER_WITHIN``)
    in arrival order until none is left or the time budget is spent (checked before each
    event, so a run lasts the budget plus one event's LINE calls at most). Returns (processed,
    finished); ``finished`` is False when events may remain."""
    deadline = time.monotonic() + budget_seconds
    processed = 0
    while time.monotonic() < deadline:
        event_ids = list(
            WebhookEvent.objects.filter(
                municipality_id=municipality_id,
                lane=lane,
                status=WebhookEvent.Status.RECEIVED,
                created_at__gte=timezone.now() - ANSWER_WITHIN,
            )
            .order_by("created_at", "pk")
            .values_list("webhook_event_id", flat=True)[:DRAIN_BATCH]
        )
        if not event_ids:
            return processed, True
        processed += webhook_events_process(
            municipality_id=municipality_id, webhook_event_ids=event_ids, deadline=deadline
        )
    return processed, False
