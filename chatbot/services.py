"""Writes of the chatbot: FAQ and keyword rules, unanswered questions, chat state, the nightly
garbage reminder, the staff hand-off, and the garbage data import (parsed by garbage_import.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.collection import format_day
from chatbot.errors import ChatbotError, GarbageImportError
from chatbot.garbage_import import parse_5374
from chatbot.matching import get_index, invalidate
from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    ChatState,
    CollectionRule,
    Faq,
    GarbageCategory,
    GarbageItem,
    GarbageRemark,
    GarbageReminder,
    KeywordRule,
    StaffReply,
    UnansweredQuestion,
)
from chatbot.normalize import key, query_key, reading
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.line import messages as line_messages
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.talklog import talk_log_outbound
from municipalities.models import Area, Department, Municipality, Resident, StaffUser, TalkMessage
from municipalities.tasks_queue import enqueue_on_commit

HANDOFF_SILENCE = dt.timedelta(minutes=30)


def _invalidate_on_commit(municipality_id: int) -> None:
    transaction.on_commit(lambda: invalidate(municipality_id))


# --- FAQ and keyword rules --------------------------------------------------------------------


def faq_write(*, faq: Faq, actor: StaffUser | None, created: bool, changed: list[str] | None = None) -> Faq:
    """Validate and save an FAQ inside the caller's transaction (admin save, import rows).

    Checks the policy in the FAQ's department, audits, and rebuilds the answer index on commit
    (an import dry run rolls back, so nothing is invalidated then).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("faq_write() runs inside a transaction")
    if actor is not None:
        permissions.require_save(
            actor,
            faq,
            created=created,
            error=ChatbotError,
            message=_("この課の FAQ を変更する権限がありません。"),
        )
    full_clean_or(faq, error=ChatbotError)
    faq.save()
    audit_log(
        actor=actor,
        action="chatbot.faq." + ("created" if created else "changed"),
        obj=faq,
        data={"question": faq.question, "fields": changed or []},
    )
    _invalidate_on_commit(faq.department.municipality_id)
    return faq


@transaction.atomic(durable=True)
def faq_save(*, faq: Faq, actor: StaffUser | None, created: bool, changed: list[str] | None = None) -> Faq:
    """Create or change an FAQ entry (see ``faq_write``). Raises ChatbotError on bad data or
    without the permission."""
    return faq_write(faq=faq, actor=actor, created=created, changed=changed)


@transaction.atomic(durable=True)
def faq_delete(*, faq: Faq, actor: StaffUser | None) -> None:
    """Delete an FAQ entry. Audited; the index is rebuilt on commit."""
    if actor is not None:
        permissions.require(
            actor, "delete", faq, error=ChatbotError, message=_("この課の FAQ を削除する権限がありません。")
        )
    municipality_id = faq.department.municipality_id
    audit_log(actor=actor, action="chatbot.faq.deleted", obj=faq, data={"question": faq.question})
    faq.delete()
    _invalidate_on_commit(municipality_id)


@transaction.atomic(durable=True)
def keyword_rule_save(*, rule: KeywordRule, actor: StaffUser | None, created: bool) -> KeywordRule:
    """Create or change a keyword rule. Audited; the index is rebuilt on commit."""
    if actor is not None:
        permissions.require_save(
            actor,
            rule,
            created=created,
            error=ChatbotError,
            message=_("この課のキーワード応答を変更する権限がありません。"),
        )
    full_clean_or(rule, error=ChatbotError)
    rule.save()
    audit_log(
        actor=actor,
        action="chatbot.keywordrule." + ("created" if created else "changed"),
        obj=rule,
        data={"keyword": rule.keyword, "is_active": rule.is_active},
    )
    _invalidate_on_commit(rule.department.municipality_id)
    return rule


@transaction.atomic(durable=True)
def keyword_rule_delete(*, rule: KeywordRule, actor: StaffUser | None) -> None:
    if actor is not None:
        permissions.require(
            actor,
            "delete",
            rule,
            error=ChatbotError,
            message=_("この課のキーワード応答を削除する権限がありません。"),
        )
    municipality_id = rule.department.municipality_id
    audit_log(actor=actor, action="chatbot.keywordrule.deleted", obj=rule, data={"keyword": rule.keyword})
    rule.delete()
    _invalidate_on_commit(municipality_id)


# --- Unanswered questions ---------------------------------------------------------------------


@transaction.atomic(durable=True)
def unanswered_record(*, resident: Resident, text: str) -> None:
    """Count a question the bot could not answer (one row per normalised text and town)."""
    normalized = query_key(text)[:300]
    if not normalized:
        return
    now = timezone.now()
    updated = UnansweredQuestion.objects.filter(
        municipality_id=resident.municipality_id, normalized=normalized
    ).update(count=F("count") + 1, last_asked_at=now, text=text[:300], status=UnansweredQuestion.Status.OPEN)
    if not updated:
        try:
            with transaction.atomic():
                UnansweredQuestion.objects.create(
                    municipality_id=resident.municipality_id,
                    normalized=normalized,
                    text=text[:300],
                    last_asked_at=now,
                )
        except IntegrityError:  # the same question arrived twice at once: count it on the winner
            UnansweredQuestion.objects.filter(
                municipality_id=resident.municipality_id, normalized=normalized
            ).update(count=F("count") + 1, last_asked_at=now)


@transaction.atomic(durable=True)
def unanswered_resolve(
    *,
    question: UnansweredQuestion,
    actor: StaffUser | None,
    faq: Faq | None = None,
    department: Department | None = None,
    answer: str = "",
) -> Faq:
    """Turn an unanswered question into a variant of ``faq`` or a new FAQ of ``department``.

    The question is marked resolved and linked to the FAQ. Raises ChatbotError when neither
    target is given or it belongs to another town. Audited; the index is rebuilt on commit.
    """
    question = UnansweredQuestion.objects.select_for_update().get(pk=question.pk)
    if actor is not None:
        permissions.require(
            actor, "change", question, error=ChatbotError, message=_("この質問を整理する権限がありません。")
        )
    if faq is not None:
        faq = Faq.objects.select_for_update().select_related("department").get(pk=faq.pk)
        if faq.department.municipality_id != question.municipality_id:
            raise ChatbotError(_("別の自治体の FAQ には追加できません。"))
        if query_key(question.text) not in {query_key(v) for v in [faq.question, *faq.variant_list()]}:
            faq.variants = "\n".join([*faq.variant_list(), question.text])
        faq = faq_write(faq=faq, actor=actor, created=False, changed=["variants"])
    elif department is not None:
        if department.municipality_id != question.municipality_id:
            raise ChatbotError(_("別の自治体の課は選べません。"))
        if not answer.strip():
            raise ChatbotError(_("回答を入力してください。"))
        faq = faq_write(
            faq=Faq(department=department, question=question.text, answer=answer.strip()),
            actor=actor,
            created=True,
        )
    else:
        raise ChatbotError(_("追加先の FAQ か、新しい FAQ の課を選んでください。"))
    question.status = UnansweredQuestion.Status.RESOLVED
    question.faq = faq
    question.save(update_fields=["status", "faq", "updated_at"])
    audit_log(actor=actor, action="chatbot.unansweredquestion.resolved", obj=question, data={"faq": faq.pk})
    return faq


# --- Chat state -------------------------------------------------------------------------------


def _state_for_update(resident: Resident) -> ChatState:
    state, _created = ChatState.objects.select_for_update().get_or_create(
        resident=resident, defaults={"municipality_id": resident.municipality_id}
    )
    return state


@transaction.atomic(durable=True)
def chat_state_update(
    *,
    resident: Resident,
    garbage_reminder: bool | None = None,
    pending: str | None = None,
    pending_text: str | None = None,
) -> ChatState:
    """Change what the bot remembers about a resident; only the given arguments change."""
    state = _state_for_update(resident)
    fields = ["updated_at"]
    if garbage_reminder is not None:
        state.garbage_reminder = garbage_reminder
        fields.append("garbage_reminder")
    if pending is not None:
        state.pending = pending
        state.pending_text = (pending_text or "")[:300]
        fields += ["pending", "pending_text"]
    full_clean_or(state, error=ChatbotError, exclude=["resident", "municipality"])
    state.save(update_fields=fields)
    return state


# --- Staff hand-off ---------------------------------------------------------------------------


def _require_reply(actor: StaffUser, resident: Resident) -> None:
    """The actor may reply to this resident: ``reply`` on the talk log (municipalities.TalkMessage)."""
    permissions.require(
        actor,
        "reply",
        TalkMessage(municipality_id=resident.municipality_id, resident=resident),
        error=ChatbotError,
        message=_("この住民に返信する権限がありません。"),
    )


@transaction.atomic(durable=True)
def talk_reply_send(*, resident: Resident, text: str, actor: StaffUser) -> StaffReply:
    """A member of staff answers a resident from the talk log (push).

    Checks the ``reply`` permission, records the reply, silences the bot for this resident for
    30 minutes (so it does not talk over staff), audits, and pushes on commit.
    """
    text = (text or "").strip()
    if not text:
        raise ChatbotError(_("返信の内容を入力してください。"))
    if len(text) > 4000:
        raise ChatbotError(_("返信は 4000 文字以内にしてください。"))
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _require_reply(actor, resident)
    if not resident.is_following:
        raise ChatbotError(_("この住民はブロック中のため送信できません。"))
    reply = StaffReply.objects.create(
        municipality_id=resident.municipality_id, resident=resident, text=text, sent_by=actor
    )
    state = _state_for_update(resident)
    state.silenced_until = timezone.now() + HANDOFF_SILENCE
    state.pending = ""
    state.save(update_fields=["silenced_until", "pending", "updated_at"])
    audit_log(
        actor=actor,
        action="chatbot.staffreply.sent",
        obj=reply,
        data={"resident": resident.pk, "length": len(text)},
    )
    enqueue_on_commit("chatbot.tasks.talk_reply_push_task", reply.pk)
    return reply


@transaction.atomic(durable=True)
def talk_handoff_end(*, resident: Resident, actor: StaffUser) -> ChatState:
    """Staff hand the conversation back to the bot before the 30 minutes are over. Audited."""
    resident = Resident.objects.get(pk=resident.pk)
    _require_reply(actor, resident)
    state = _state_for_update(resident)
    state.silenced_until = None
    state.save(update_fields=["silenced_until", "updated_at"])
    audit_log(
        actor=actor, action="chatbot.chatstate.handoff_ended", obj=state, data={"resident": resident.pk}
    )
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


def is_silenced(state: ChatState, *, now: dt.datetime | None = None) -> bool:
    return state.silenced_until is not None and state.silenced_until > (now or timezone.now())


# --- Nightly reminder -------------------------------------------------------------------------


@transaction.atomic(durable=True)
def garbage_reminders_claim(*, collection_on: dt.date, municipality_id: int | None = None) -> list[int]:
    """Claim one reminder row per resident who wants it and has a collection on ``collection_on``.

    The unique (resident, day) row is the claim: running this twice claims nothing new. Returns
    the ids of rows not yet sent (new ones and ones a crashed run left), for the send tasks,
    which the caller enqueues on commit.
    """
    states = (
        ChatState.objects.filter(
            garbage_reminder=True, resident__is_following=True, resident__area__isnull=False
        )
        .select_related("resident")
        .order_by("municipality_id", "resident_id")
    )
    if municipality_id is not None:
        states = states.filter(municipality_id=municipality_id)
    rows: list[GarbageReminder] = []
    indexes: dict[int, Any] = {}
    for state in states:
        resident = state.resident
        index = indexes.get(resident.municipality_id) or indexes.setdefault(
            resident.municipality_id, get_index(resident.municipality_id)
        )
        calendar = index.calendars.get(resident.area_id)
        if calendar is None:
            continue
        labels = [
            index.categories[c].label for c in calendar.categories_on(collection_on) if c in index.categories
        ]
        if labels:
            rows.append(
                GarbageReminder(
                    municipality_id=resident.municipality_id,
                    resident=resident,
                    collection_on=collection_on,
                    categories=labels,
                )
            )
    GarbageReminder.objects.bulk_create(rows, ignore_conflicts=True)
    pending = GarbageReminder.objects.filter(collection_on=collection_on, sent_at__isnull=True)
    if municipality_id is not None:
        pending = pending.filter(municipality_id=municipality_id)
    return list(pending.values_list("pk", flat=True))


def garbage_reminder_message(reminder: GarbageReminder) -> dict[str, Any]:
    body = _(
        "明日 %(day)s は\n%(items)s\nの収集日です。朝 8 時までに出しましょう。\n（通知をやめるときは「ごみ通知オフ」と送ってください）"
    ) % {
        "day": format_day(reminder.collection_on),
        "items": "\n".join(f"・{label}" for label in reminder.categories),
    }
    return line_messages.text(body)


def garbage_reminder_send(*, reminder_id: int) -> GarbageReminder:
    """Push one claimed reminder (task body; outside any transaction).

    Skips rows already sent and residents who turned the reminder off or blocked the account
    since the claim. The retry key is per resident and day, so a retry after a crash between
    the push and ``sent_at`` is accepted by LINE once.
    """
    reminder = GarbageReminder.objects.select_related("resident", "municipality").get(pk=reminder_id)
    if reminder.sent_at is not None:
        return reminder
    resident = reminder.resident
    wants = ChatState.objects.filter(resident=resident, garbage_reminder=True).exists()
    if resident.is_following and wants:
        get_line_client(reminder.municipality).push(
            resident.line_user_id,
            [garbage_reminder_message(reminder)],
            retry_key=retry_key_for(
                "chatbot-garbage-reminder", resident.pk, reminder.collection_on.isoformat()
            ),
        )
    GarbageReminder.objects.filter(pk=reminder.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    reminder.refresh_from_db()
    return reminder


# --- Garbage data (5374) ------------------------------------------------------------------------


@dataclass
class ImportResult:
    categories: int
    items: int
    areas: int
    areas_created: int
    holidays: int
    remarks: int
    notes: list[str]


@transaction.atomic(durable=True)
def garbage_import(
    *, municipality: Municipality, files: dict[str, bytes], actor: StaffUser | None = None
) -> ImportResult:
    """Replace ``municipality``'s garbage data with the 5374 files (by file name).

    All or nothing: on any problem raises GarbageImportError listing every problem by file and
    row, and nothing is written. The areas of ``area_days.csv`` become the town's Areas (missing
    ones are created; others are kept, since residents may have chosen them). Audited.
    Invalidates the answer index on commit.
    """
    if actor is not None:
        permissions.require(
            actor,
            "import",
            GarbageItem(municipality=municipality),
            error=ChatbotError,
            message=_("この自治体のごみ分別データを取り込む権限がありません。"),
        )
    parsed = parse_5374(files)
    if parsed.problems:
        raise GarbageImportError(parsed.problems)
    # Lock the town so two imports of the same town run one after the other.
    Municipality.objects.select_for_update().filter(pk=municipality.pk).first()

    GarbageCategory.objects.filter(municipality=municipality).delete()  # cascades to items and rules
    AreaCalendar.objects.filter(municipality=municipality).delete()
    GarbageRemark.objects.filter(municipality=municipality).delete()
    CenterHoliday.objects.filter(municipality=municipality).delete()

    categories = GarbageCategory.objects.bulk_create(
        GarbageCategory(municipality=municipality, sort_order=i, **c) for i, c in enumerate(parsed.categories)
    )
    by_label = {c.label: c for c in categories}
    GarbageItem.objects.bulk_create(
        GarbageItem(
            municipality=municipality,
            category=by_label[label],
            name=name,
            notice=notice,
            index_letter=furigana[:8],
            kana=reading(name)[:400],
        )
        for label, name, notice, furigana in parsed.items
    )
    # The core has no service for Area (staff edit areas in the admin through the generic
    # audited save); the import is the one place that creates them in bulk, by name, and it
    # never deletes one because residents may have chosen it.
    existing = {key(a.name): a for a in Area.objects.filter(municipality=municipality)}
    created = 0
    next_order = max((a.sort_order for a in existing.values()), default=0) + 1
    calendars = []
    for i, (name, center, _cells) in enumerate(parsed.areas):
        area = existing.get(key(name))
        if area is None:
            area = Area.objects.create(
                municipality=municipality, name=name, kana=reading(name)[:200], sort_order=next_order + i
            )
            existing[key(name)] = area
            created += 1
        calendars.append(AreaCalendar(municipality=municipality, area=area, center=center))
    calendars = AreaCalendar.objects.bulk_create(calendars)
    CollectionRule.objects.bulk_create(
        CollectionRule(municipality=municipality, calendar=calendar, category=by_label[label], rule=cell)
        for calendar, (_name, _center, cells) in zip(calendars, parsed.areas, strict=True)
        for label, cell in cells.items()
        if cell
    )
    GarbageRemark.objects.bulk_create(
        GarbageRemark(municipality=municipality, number=number, text=text)
        for number, text in dict(parsed.remarks).items()
    )
    CenterHoliday.objects.bulk_create(
        CenterHoliday(municipality=municipality, center=center, starts_on=start, ends_on=end)
        for center, start, end in parsed.holidays
    )
    result = ImportResult(
        categories=len(categories),
        items=len(parsed.items),
        areas=len(parsed.areas),
        areas_created=created,
        holidays=len(parsed.holidays),
        remarks=len(dict(parsed.remarks)),
        notes=parsed.notes,
    )
    audit_log(
        actor=actor,
        action="chatbot.garbage.imported",
        obj=municipality,
        data={k: v for k, v in result.__dict__.items() if k != "notes"},
    )
    _invalidate_on_commit(municipality.pk)
    return result
