"""Processing stored webhook events: the resident lifecycle and the dispatch to apps.

``webhook_events_process(municipality_id=, webhook_event_ids=)`` is what the Celery task runs.
Each event is **claimed** first with a conditional UPDATE (``received`` → ``processing``), so a
redelivery, a second identical post or a task that runs twice does nothing; it is ``processed``
once its answer went out. The handlers call durable services (each its own transaction), so
processing cannot be one transaction. An event a dead run left ``processing`` (a worker killed)
is offered again by the lane's next run (``webhook_events_reoffer_interrupted``); its reply may
have gone out, so it is not pushed after LINE refuses the token.

Faults (``retry.is_transient``: Redis down, a database connection cut, LINE's 429/5xx):

- a handler that meets one gives the event back (``received`` again, its ``attempts`` counted,
  written on a fresh connection) and stops its lane's drain with ``EventDeferred``: the drain
  task runs again after the retry policy's wait, and the resident's later events wait behind
  it, in order. Only after ``LINE_MAX_ATTEMPTS`` is it treated as permanent;
- a permanent failure (a bug, a fault that does not pass) is recorded on the row (``failed`` +
  the error, on a fresh connection) and the resident gets the apology; a handler's
  ``ServiceError`` is recorded and its message is the answer.

Replies go out after the handlers' services have committed, with the event's reply token
(valid once, for a short time). A transient fault of the reply is retried in place with the
policy's waits (``REPLY_RETRY_SECONDS`` at most); once LINE may have taken a reply, a rejected
token is not followed by a push (that could answer twice): the row records it instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.errors import ServiceError
from municipalities.line import dispatch, pgwrites, towncache
from municipalities.line import messages as m
from municipalities.line.client import LineClient, get_line_client, retry_key_for
from municipalities.line.errors import LineError, LineRateLimited, LineReplyTokenExpired
from municipalities.line.liff import resident_link
from municipalities.line.retry import LINE_MAX_ATTEMPTS, LINE_RETRYABLE, is_transient, line_backoff_seconds
from municipalities.line.talklog import talk_log_inbound_row
from municipalities.metrics import metric_events_deferred
from municipalities.models import MetricEvent, Municipality, Resident, TalkMessage, WebhookEvent
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


class EventDeferred(Exception):  # noqa: N818 - not an error: the event is processed later
    """A transient fault stopped an event's processing (now, or earlier and its wait is not
    over): the event is ``received``, and its lane's drain should run again in ``retry_in``
    seconds (the retry policy's wait); the resident's later events wait behind it."""

    def __init__(self, event: WebhookEvent, retry_in: float, why: str) -> None:
        super().__init__(f"{event.webhook_event_id}: {why}; again in {retry_in:.1f} s")
        self.retry_in = retry_in


# A write about an event (its failure, giving it back) is tried this often, each time on a
# fresh connection when the last one failed: the fault being recorded may be a cut connection.
FRESH_WRITE_ATTEMPTS = 5


def _write_fresh(write: Callable[[], object]) -> None:
    """Run ``write`` (one autocommitted statement) on a connection that works: the connection the
    handler used may be the one that was cut. Raises the last error after FRESH_WRITE_ATTEMPTS."""
    for attempt in range(1, FRESH_WRITE_ATTEMPTS + 1):
        if connection.errors_occurred and not connection.in_atomic_block:
            # Only after a database error on it (Django's flag): a healthy connection is kept,
            # not closed for its age (CONN_MAX_AGE) or health-checked with a round trip per event.
            connection.close_if_unusable_or_obsolete()
        try:
            write()
            return
        except (OperationalError, InterfaceError):
            if attempt == FRESH_WRITE_ATTEMPTS or connection.in_atomic_block:
                raise
            logger.warning("webhook event write failed on a dead connection; again on a new one")
            connection.close()
            time.sleep(0.05 * attempt)


def _claim(event: WebhookEvent) -> bool:
    """``received`` → ``processing`` (``processed_at``: when it was taken), once."""
    return bool(
        WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.RECEIVED).update(
            status=WebhookEvent.Status.PROCESSING, processed_at=timezone.now()
        )
    )


def _done(event: WebhookEvent) -> None:
    """``processing`` → ``processed`` once the answer went out (a failure recorded meanwhile stays)."""
    _write_fresh(
        lambda: WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.PROCESSING).update(
            status=WebhookEvent.Status.PROCESSED, processed_at=timezone.now()
        )
    )


# What the row says of an event a dead run left 処理中 and that is offered again; its reply may
# have gone out before the run died, so a token LINE then refuses is not followed by a push.
INTERRUPTED = "処理中に中断されたため、もう一度処理します"


def webhook_events_reoffer_interrupted(*, municipality_id: int, lane: int) -> int:
    """Offer again the events of a lane that a run left ``processing`` (killed, or its
    database connection gone for good). Called by the run that holds the lane's lock, so no
    live run is answering them (a run that lost its lock stops before its next event). Returns
    how many."""
    return WebhookEvent.objects.filter(
        municipality_id=municipality_id, lane=lane, status=WebhookEvent.Status.PROCESSING
    ).update(
        status=WebhookEvent.Status.RECEIVED, attempts=F("attempts") + 1, error=INTERRUPTED, processed_at=None
    )


def _record_failure(event: WebhookEvent, error: str) -> None:
    _write_fresh(
        lambda: WebhookEvent.objects.filter(pk=event.pk).update(
            status=WebhookEvent.Status.FAILED, error=error[:2000]
        )
    )


def _give_back(event: WebhookEvent, exc: BaseException, *, inbound_logged: bool) -> float:
    """Make a claimed event ``received`` again after a transient fault, not to be tried before
    the retry policy's wait for its attempts so far; that wait in seconds. ``inbound_logged``:
    this attempt wrote the resident's message to the talk log."""
    attempts = event.attempts + 1
    wait = line_backoff_seconds(attempts)
    error = _("一時的な障害のため再試行します（{n}回目）: {error}").format(
        n=attempts, error=f"{type(exc).__name__}: {exc}"
    )
    _write_fresh(
        lambda: WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.PROCESSING).update(
            status=WebhookEvent.Status.RECEIVED,
            processed_at=None,
            attempts=attempts,
            error=error[:2000],
            retry_at=timezone.now() + timedelta(seconds=wait),
            inbound_logged=event.inbound_logged or inbound_logged,
        )
    )
    return wait


# How long a reply waits in place, in all, for a transient LINE fault to pass (the lane waits
# with it: the resident's next events are answered after this one).
REPLY_RETRY_SECONDS = 30.0


def _reply(
    client: LineClient,
    event: WebhookEvent,
    messages: list[dict[str, Any]] | None,
    talk_log_text: str = "",
    resident: Resident | None = None,
    unlogged: list[TalkMessage] | None = None,
) -> None:
    """Answer with the event's reply token; when LINE no longer takes it (a backlog after a
    rush or a worker outage outlived it), push the same answer instead, so the resident still
    gets it (a push counts against the town's message quota; the retry key makes a second
    run of this event's processing a 409, not a second message).

    A transient fault (429, 5xx, a timeout, Redis or the database failing around the call) is
    tried again with the retry policy's waits, up to ``REPLY_RETRY_SECONDS`` in all. A 429
    means LINE took nothing; after any other fault the reply may have arrived, so a token LINE
    then refuses is recorded instead of pushed (the resident is not answered twice).
    ``resident`` (the sender, when a handler loaded them) saves the gateway reading them again.
    ``unlogged``: the talk-log rows not yet written (the sender's message): the reply's rows are
    added to it once the reply went through, and the caller writes them all (``_finish``)."""
    if not messages or not event.reply_token:
        return
    may_have_arrived = event.error == INTERRUPTED  # a dead run may have replied
    waited = 0.0
    for attempt in range(1, LINE_MAX_ATTEMPTS + 1):
        try:
            try:
                client.reply(
                    event.reply_token,
                    messages,
                    talk_log_text=talk_log_text,
                    resident=resident,
                    talk_log_into=unlogged,
                )
            except LineReplyTokenExpired:
                if may_have_arrived:
                    _record_failure(
                        event,
                        "reply: "
                        + _("応答が届いたか確認できません（LINE が一時的な障害の後に応答トークンを拒否）"),
                    )
                    return
                logger.info("reply token of %s expired: pushing the answer", event.webhook_event_id)
                client.push(
                    event.line_user_id,
                    messages,
                    retry_key=retry_key_for("reply-as-push", event.municipality_id, event.webhook_event_id),
                    talk_log_text=talk_log_text,
                )
            return
        except Exception as exc:
            transient = isinstance(exc, LINE_RETRYABLE) or (
                not isinstance(exc, LineError) and is_transient(exc)
            )
            if not transient and not isinstance(exc, LineError):
                raise
            wait = line_backoff_seconds(attempt)
            if not transient or attempt == LINE_MAX_ATTEMPTS or waited + wait > REPLY_RETRY_SECONDS:
                logger.warning("reply to %s failed: %s", event.webhook_event_id, exc)
                message = exc.message if isinstance(exc, LineError) else str(exc)
                _record_failure(event, f"reply: {type(exc).__name__}: {message}")
                return
            may_have_arrived = may_have_arrived or not isinstance(exc, LineRateLimited)
            logger.info("reply to %s: %s; again in %.1f s", event.webhook_event_id, exc, wait)
            time.sleep(wait)
            waited += wait


def _resident_for(
    client: LineClient, municipality: Municipality, user_id: str
) -> tuple[Resident, dict[str, Any]]:
    """The sender, with ``municipality`` (already loaded) attached for the handlers, and the
    rows the apps asked to read with them (``dispatch.register_resident_preload``) as the
    context's extras (none for a sender recorded only now)."""
    preloads = dispatch.resident_preloads()
    # One row at most (municipalities_resident_line_user_unique): no ORDER BY to build or run.
    found = Resident.objects.select_related(*preloads).filter(
        municipality_id=municipality.pk, line_user_id=user_id
    )
    resident = next(iter(found.order_by()[:1]), None)
    extras: dict[str, Any] = {}
    if resident is not None:
        for relation in preloads:
            field = Resident._meta.get_field(relation)
            if field.is_cached(resident):
                extras[dispatch.preloaded_key(relation)] = field.get_cached_value(resident)
                # the handlers read it from the context once: the resident does not keep a copy
                field.delete_cached_value(resident)
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
        extras = {}
    resident.municipality = municipality
    return resident, extras


def _log_inbound(event: WebhookEvent, unlogged: list[TalkMessage], **row: Any) -> None:
    """Put the resident's message (``talk_log_inbound_row(**row)``) in ``unlogged``, unless an
    earlier attempt given back after a transient fault wrote it already."""
    if not event.inbound_logged:
        unlogged.append(talk_log_inbound_row(**row))


def _handle_follow(
    client: LineClient, municipality: Municipality, event: WebhookEvent, unlogged: list[TalkMessage]
) -> tuple[list[dict[str, Any]], Resident]:
    display_name, picture_url = _profile(client, municipality, event.line_user_id)
    resident, _created = resident_follow(
        municipality=municipality,
        line_user_id=event.line_user_id,
        display_name=display_name,
        picture_url=picture_url,
    )
    resident.municipality = municipality
    _log_inbound(
        event, unlogged, resident=resident, kind="follow", text=_("友だち追加"), payload=event.payload
    )
    answer = greeting_messages(resident)
    context = dispatch.InboundContext(municipality=municipality, resident=resident, event=event.payload)
    for handler in dispatch.follow_handlers():  # apps add to the greeting (a reply holds 5 messages)
        answer += handler(context) or []
    return answer[:5], resident


def _handle_message(
    client: LineClient, municipality: Municipality, event: WebhookEvent, unlogged: list[TalkMessage]
) -> tuple[list[dict[str, Any]] | None, str, Resident]:
    """The answer to a message, what the talk log keeps of it instead ("" = the answer), and the
    sender. The message's own talk-log row is put in ``unlogged`` (written with the reply's)."""
    resident, extras = _resident_for(client, municipality, event.line_user_id)
    message = dispatch.as_dict(dispatch.as_dict(event.payload).get("message"))
    kind = dispatch.as_str(message.get("type"))
    text = dispatch.as_str(message.get("text")) if kind == "text" else ""
    _log_inbound(
        event, unlogged, resident=resident, kind=kind or "message", text=text or f"[{kind}]", payload=message
    )
    context = dispatch.InboundContext(
        municipality=municipality, resident=resident, event=event.payload, extras=extras
    )
    if kind == "text" and text.strip():
        for handler in dispatch.text_handlers():
            answer = handler(context)
            if answer is not None:  # [] = handled, answer nothing (e.g. staff have taken over)
                return answer, context.talk_log_text, resident
    elif (message_handler := dispatch.message_handler(kind)) is not None:  # location, …
        answer = message_handler(context)
        if answer is not None:
            return answer, context.talk_log_text, resident
    return help_messages(resident), "", resident


def _handle_postback(
    client: LineClient, municipality: Municipality, event: WebhookEvent, unlogged: list[TalkMessage]
) -> tuple[list[dict[str, Any]] | None, str, Resident]:
    """The answer to a postback, what the talk log keeps of it instead ("" = the answer), and the
    sender. The postback's own talk-log row is put in ``unlogged`` (written with the reply's)."""
    resident, extras = _resident_for(client, municipality, event.line_user_id)
    postback = dispatch.as_dict(dispatch.as_dict(event.payload).get("postback"))
    data = dispatch.as_str(postback.get("data"))
    _log_inbound(event, unlogged, resident=resident, kind="postback", text=data, payload=postback)
    handler = dispatch.postback_handler(data)
    if handler is None:
        logger.info("no postback handler for %r", data.split(":", 1)[0])
        return (
            [m.text(_("この操作は現在ご利用いただけません。メニューからもう一度お試しください。"))],
            "",
            resident,
        )
    context = dispatch.InboundContext(
        municipality=municipality, resident=resident, event=event.payload, extras=extras
    )
    return handler(context), context.talk_log_text, resident


def webhook_event_process(*, event: WebhookEvent, municipality: Municipality, client: LineClient) -> bool:
    """Process one stored event once. Returns False when it was already claimed (a no-op).

    The handlers read the town's cached answer data (index, 災害モード, routes) under one version
    of each (``towncache.tokens_pinned``). What is written after the reply (the talk log: the
    sender's message and the reply's rows; the metric events the handlers recorded, such as
    the chatbot's outcome; the event's ``processed``) is written together by ``_finish``: one
    statement on PostgreSQL (``pgwrites``)."""
    with towncache.tokens_pinned(municipality.pk), metric_events_deferred() as metrics:
        return _process(event=event, municipality=municipality, client=client, metrics=metrics)


def _process(
    *, event: WebhookEvent, municipality: Municipality, client: LineClient, metrics: list[MetricEvent]
) -> bool:
    if not _claim(event):
        return False
    source_type = dispatch.as_dict(dispatch.as_dict(event.payload).get("source")).get("type")
    if source_type != "user" or not event.line_user_id:
        # Group and room talk is not a resident conversation: stored, not answered.
        WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.SKIPPED)
        return True
    talk_log_text = ""
    resident: Resident | None = None
    unlogged: list[TalkMessage] = []
    try:
        if event.event_type == "follow":
            answer, resident = _handle_follow(client, municipality, event, unlogged)
        elif event.event_type == "unfollow":
            resident_unfollow(municipality=municipality, line_user_id=event.line_user_id)
            answer = None
        elif event.event_type == "message":
            answer, talk_log_text, resident = _handle_message(client, municipality, event, unlogged)
        elif event.event_type == "postback":
            answer, talk_log_text, resident = _handle_postback(client, municipality, event, unlogged)
        else:  # join, leave, beacon, accountLink, …: nothing to do yet
            answer = None
    except ServiceError as exc:  # a handler's service refused: tell the resident why
        _record_failure(event, f"{exc.code}: {exc.message}" if exc.code else str(exc.message))
        answer = [m.text(str(exc.message))]
    except Exception as exc:
        if is_transient(exc) and event.attempts + 1 < LINE_MAX_ATTEMPTS:
            # Redis, the database or LINE failed for a moment: answer later, not with an apology
            logger.warning("webhook event %s met a transient fault: %r", event.webhook_event_id, exc)
            # The metric events this attempt recorded are dropped: the next attempt's handlers
            # record the outcome again (writing these too would count the question twice).
            logged = _write_unlogged_if_possible(unlogged)
            wait = _give_back(event, exc, inbound_logged=logged)
            raise EventDeferred(event, wait, f"{type(exc).__name__}: {exc}") from exc
        # a bug in a handler (or a fault that did not pass) must not lose the answer or the record
        logger.exception("webhook event %s failed", event.webhook_event_id)
        _record_failure(event, f"{type(exc).__name__}: {exc}")
        answer = sorry_messages()
    _reply(client, event, answer, talk_log_text, resident, unlogged)
    _finish(event, unlogged, metrics)
    return True


def _finish(event: WebhookEvent, unlogged: list[TalkMessage], metrics: list[MetricEvent]) -> None:
    """The talk-log rows, the metric events and ``processed``, together (``pgwrites``), on a
    connection that works. The answer went out: when rows cannot be written (a bug, a resident
    deleted meanwhile), each list is tried on its own and the event is done all the same."""
    try:
        _write_fresh(
            lambda: pgwrites.webhook_event_finish(event_id=event.pk, talk_rows=unlogged, metric_rows=metrics)
        )
        return
    except (OperationalError, InterfaceError):  # the database stayed away: as ``_done`` would
        raise
    except Exception:
        logger.exception("webhook event %s: its rows were refused; written one list at a time", event.pk)
    for rows in (unlogged, metrics):
        try:
            _write_fresh(lambda rows=rows: pgwrites.rows_insert(rows))
        except Exception:
            logger.exception("webhook event %s: %d rows not written", event.pk, len(rows))
    _done(event)


def _write_unlogged_if_possible(unlogged: list[TalkMessage]) -> bool:
    """Before an event is given back: its message is in the talk log from its first attempt, as
    when the row was written before the handlers ran. When the fault is the database's (an error
    on this connection), the next attempt writes it instead of a write that would meet it too.
    Whether it was written (the event then records it, and no later attempt writes it again)."""
    if not unlogged or connection.errors_occurred:
        return False
    try:
        pgwrites.rows_insert(unlogged)
    except Exception as exc:
        logger.warning("talk log of a deferred event not written: %r", exc)
        return False
    unlogged.clear()
    return True


def webhook_events_process(
    *,
    municipality_id: int,
    webhook_event_ids: list[str],
    deadline: float | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> int:
    """Process the stored events of one webhook body, in order; with a ``deadline`` (a
    ``time.monotonic()`` value), stop before the next event once it has passed, and as well
    once ``keep_going()`` is false (the lane's lock was lost). Returns how many were processed.
    Raises ``EventDeferred`` when a transient fault stopped one (the later ones wait)."""
    municipality = Municipality.objects.filter(pk=municipality_id).first()
    if municipality is None:
        return 0
    events = WebhookEvent.objects.filter(
        municipality_id=municipality_id,
        webhook_event_id__in=webhook_event_ids,
        status=WebhookEvent.Status.RECEIVED,
    ).order_by("occurred_at", "pk")
    return _events_answer(
        municipality, get_line_client(municipality), list(events), deadline=deadline, keep_going=keep_going
    )


def _events_answer(
    municipality: Municipality,
    client: LineClient,
    events: list[WebhookEvent],
    *,
    deadline: float | None,
    keep_going: Callable[[], bool] | None,
) -> int:
    """``webhook_events_process`` once its events are read."""
    processed = 0
    for event in events:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if keep_going is not None and not keep_going():
            break
        if event.retry_at is not None and (wait := (event.retry_at - timezone.now()).total_seconds()) > 0:
            # a transient fault's wait is not over: this event, and the lane behind it, wait
            raise EventDeferred(event, wait, "waiting after a transient fault")
        processed += webhook_event_process(event=event, municipality=municipality, client=client)
    return processed


# An event still ``received`` this long after it arrived is woken by the sweep (which runs as
# often): its wake-up or drain task was lost (Redis or the broker away), or its lane's run died.
# A lane that is merely busy costs the sweep's run one look at the lane lock.
SWEEP_AFTER = timedelta(seconds=15)
# An event older than this is not answered any more: a greeting or an answer that late would
# confuse more than help (it stays visible to staff, ``received``).
ANSWER_WITHIN = timedelta(hours=6)


def webhook_lanes_pending(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """The (municipality id, lane) pairs with an event still ``received`` ``SWEEP_AFTER`` after
    it arrived (its wake-up or drain task was lost, e.g. the broker was down), or ``processing``
    for as long (its run may have died)."""
    now = now or timezone.now()
    waiting = WebhookEvent.objects.filter(
        status=WebhookEvent.Status.RECEIVED,
        created_at__lt=now - SWEEP_AFTER,
        created_at__gte=now - ANSWER_WITHIN,
    )
    taken = WebhookEvent.objects.filter(
        status=WebhookEvent.Status.PROCESSING, processed_at__lt=now - SWEEP_AFTER
    )
    lanes = {
        pair
        for queryset in (waiting, taken)
        for pair in queryset.order_by().values_list("municipality_id", "lane").distinct()
    }
    return sorted(lanes)


DRAIN_BATCH = 100


def webhook_events_drain(
    *,
    municipality_id: int,
    lane: int,
    budget_seconds: float = 50.0,
    keep_going: Callable[[], bool] | None = None,
) -> tuple[int, bool]:
    """Process the stored events of one lane of a town (those of the last ``ANSWER_WITHIN``)
    in arrival order until none is left, the time budget is spent (checked before each
    event, so a run lasts the budget plus one event's LINE calls at most) or ``keep_going()``
    is false. Returns (processed, finished); ``finished`` is False when events may remain.
    Raises ``EventDeferred`` (see ``webhook_event_process``)."""
    deadline = time.monotonic() + budget_seconds
    processed = 0
    municipality = Municipality.objects.filter(pk=municipality_id).first()
    if municipality is None:  # the town was removed: nothing of it is answered any more
        return 0, True
    client = get_line_client(municipality)
    if reoffered := webhook_events_reoffer_interrupted(municipality_id=municipality_id, lane=lane):
        logger.warning(
            "lane %s of %s: %d events a dead run had taken are offered again",
            lane,
            municipality_id,
            reoffered,
        )
    while time.monotonic() < deadline and (keep_going is None or keep_going()):
        # the next DRAIN_BATCH in arrival order, answered in the order they occurred (as
        # ``webhook_events_process`` answers a body's): one query
        waiting = WebhookEvent.objects.filter(
            municipality_id=municipality_id,
            lane=lane,
            status=WebhookEvent.Status.RECEIVED,
            created_at__gte=timezone.now() - ANSWER_WITHIN,
        ).order_by("created_at", "pk")
        events = list(
            WebhookEvent.objects.filter(pk__in=waiting.values("pk")[:DRAIN_BATCH]).order_by(
                "occurred_at", "pk"
            )
        )
        if not events:
            return processed, True
        processed += _events_answer(municipality, client, events, deadline=deadline, keep_going=keep_going)
    return processed, False
