"""What the chatbot answers in the talk: keyword rules, garbage sorting, collection days, FAQ.

Registered in ``ChatbotConfig.ready()``: ``keyword_reply`` as an early text handler, ``answer``
as the text fallback, ``on_postback`` for the ``cb:`` postbacks of candidate quick replies.
Handlers parse, call services, and build the reply; they never write models themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot import selectors, services
from chatbot.collection import format_day
from chatbot.matching import Entry, Index, find_category, get_index, today
from chatbot.models import ChatState
from chatbot.normalize import fold, key
from municipalities.errors import ServiceError
from municipalities.line import dispatch
from municipalities.line import messages as m
from municipalities.line.dispatch import InboundContext
from municipalities.line.liff import resident_link
from municipalities.models import Area, Department, Resident
from municipalities.services import resident_update_preferences

Messages = list[dict[str, Any]]
POSTBACK_PREFIX = "cb"
MAX_AREA_CHOICES = 12
# The chat state read with the sender (dispatch.register_resident_preload in ChatbotConfig.ready).
STATE_RELATION = "chat_state"
PRELOADED_STATE = dispatch.preloaded_key(STATE_RELATION)

_TODAY = re.compile(r"(今日|きょう|本日|ほんじつ)(の|は)?(ごみ|収集|しゅうしゅう|何の|なんの|なにの|なに|何)")
_TOMORROW = re.compile(
    r"(明日|あした|あす|みょうにち)(の|は)?(ごみ|収集|しゅうしゅう|何の|なんの|なにの|なに|何)"
)
_WHEN = re.compile(r"(いつ|次の|つぎの|収集日|しゅうしゅうび|の日|のひ|曜日|ようび)")
_SCHEDULE = re.compile(
    r"(ごみの日|ごみのひ|収集日|しゅうしゅうび|ごみかれんだー|収集かれんだー|ごみ出しの日|今週のごみ)"
)
_REMINDER_ON = {key("ごみ通知オン"), key("ごみ通知on"), key("ゴミ通知オン")}
_REMINDER_OFF = {key("ごみ通知オフ"), key("ごみ通知off"), key("ゴミ通知オフ")}
STAFF_LABEL = "職員と話す"
_STAFF_KEYS = {
    key(w)
    for w in (
        STAFF_LABEL,
        "職員と話したい",
        "担当者と話す",
        "担当者と話したい",
        "人と話したい",
        "職員につないで",
    )
}
# The collection-day questions, as the reports name them.
COLLECTION_KINDS = {"today": "今日", "tomorrow": "明日", "next": "品目の次回", "schedule": "一覧"}
# A question asked this recently is the topic of a hand-off requested after it.
HANDOFF_TOPIC_WINDOW = dt.timedelta(minutes=30)


# --- entry points -------------------------------------------------------------------------------


def keyword_reply(ctx: InboundContext) -> Messages | None:
    """「職員と話す」 (at any time), staff keyword rules (exact, after normalisation) and the
    reminder switches, first. While staff paused the bot it says once that staff are on it."""
    resident = ctx.resident
    if resident is None or not ctx.text.strip():
        return None
    state = _state(ctx, resident)
    normalized = key(ctx.text)
    if normalized in _STAFF_KEYS:
        return _handoff_reply(ctx, resident)
    if services.is_silenced(state):
        return _busy_reply(resident)  # a member of staff is talking with this resident
    if normalized in _REMINDER_ON:
        return _reminder_on(resident, state)
    if normalized in _REMINDER_OFF:
        services.chat_state_update(resident=resident, garbage_reminder=False)
        return [
            m.text(_("ごみ収集日の前夜通知を停止しました。再開するときは「ごみ通知オン」と送ってください。"))
        ]
    reply = get_index(ctx.municipality.pk).keyword_reply(ctx.text)
    if not reply:
        return None
    services.chat_outcome_record(
        resident=resident, outcome=services.Outcome.ANSWERED, topic="keyword", label=_("キーワード応答")
    )
    return [m.text(reply)]


def answer(ctx: InboundContext) -> Messages | None:
    """The text fallback: pending area, collection days, then garbage items and FAQ."""
    resident = ctx.resident
    text = ctx.text.strip()
    if resident is None or not text:
        return None
    state = _state(ctx, resident)
    if services.is_silenced(state):
        return _busy_reply(resident)
    index = get_index(ctx.municipality.pk)
    if state.pending == ChatState.Pending.AREA:
        reply = _area_answer(resident, index, state, text)
        if reply is not None:
            return reply
    reply = _collection_answer(resident, index, text)
    if reply is not None:
        return reply
    return _match_answer(resident, index, text)


def on_postback(ctx: InboundContext) -> Messages | None:
    """``cb:item:<id>``, ``cb:faq:<id>``, ``cb:area:<id>``, ``cb:askarea``."""
    resident = ctx.resident
    if resident is None:
        return None
    parts = ctx.postback_data.split(":")
    index = get_index(ctx.municipality.pk)
    if len(parts) == 3 and parts[1] in {"item", "faq"} and parts[2].isdigit():
        entry = index.entry(parts[1], int(parts[2]))
        if entry is None:
            return [m.text(_("この情報は更新されたため表示できません。もう一度お尋ねください。"))]
        _record(resident, services.Outcome.CHOSEN, entry)
        return _entries_reply(resident, index, [entry])
    if len(parts) == 3 and parts[1] == "area" and parts[2].isdigit():
        area = Area.objects.filter(municipality_id=resident.municipality_id, pk=int(parts[2])).first()
        if area is None:
            return [m.text(_("この地区は選べません。"))]
        state = selectors.chat_state_get(resident=resident)
        return _set_area(resident, index, area, state.pending_text)
    if parts[1:] == ["askarea"]:
        return _ask_area(resident, "")
    if parts[1:] == ["staff"]:
        return _handoff_reply(ctx, resident)
    return [m.text(_("この操作は現在ご利用いただけません。"))]


def _state(ctx: InboundContext, resident: Resident) -> ChatState:
    # Read once per message: the keyword handler and the fallback both need it. The webhook's
    # processing reads it with the resident (ChatbotConfig registers the preload).
    state = ctx.extras.get("chatbot.state")
    if state is None:
        preloaded = ctx.extras.pop(PRELOADED_STATE, False)
        if preloaded is False:
            state = selectors.chat_state_get(resident=resident)
        else:
            state = selectors.chat_state_or_default(resident=resident, state=preloaded)
        ctx.extras["chatbot.state"] = state
    return state


# --- replies ----------------------------------------------------------------------------------


def settings_link(resident: Resident) -> str:
    """A signed link to the receive-settings page (where the area is changed)."""
    return resident_link(resident, reverse("line:receive_settings"))


def _settings_item(resident: Resident) -> list[dict[str, Any]]:
    return [m.quick_reply_item(m.uri_action(_("地区・受信設定"), settings_link(resident)))]


def _entries_reply(resident: Resident, index: Index, entries: list[Entry]) -> Messages:
    faqs = [e for e in entries if e.kind == "faq"]
    if faqs:
        faq = faqs[0]
        if not faq.link_url:
            return [m.text(faq.answer)]
        # The link is a button that stays in the talk (a quick reply would vanish).
        button = m.uri_action(faq.link_label or _("詳しくはこちら"), faq.link_url)
        if len(faq.answer) <= m.MAX_BUTTONS_TEXT:
            return [m.buttons(faq.answer, [button], alt_text=faq.answer)]
        return [
            m.text(faq.answer),
            m.buttons(_("詳しくはこちらをご覧ください。"), [button], alt_text=faq.link_label or faq.question),
        ]
    calendar = index.calendars.get(resident.area_id) if resident.area_id else None
    lines: list[str] = []
    need_area = False
    for entry in entries[:3]:
        category = index.categories.get(entry.category_id or 0)
        label = category.label if category else _("不明")
        lines.append(_("「%(name)s」は【%(label)s】です。") % {"name": entry.title, "label": label})
        if entry.notice:
            lines.append(_("※ %(notice)s") % {"notice": entry.notice})
        if category is None or not category.has_calendar:
            lines.append(_("決まった収集日はありません。出し方は市町村の案内をご確認ください。"))
        elif calendar is not None:
            day = calendar.next_day(category.pk, first_day_to_answer(resident.municipality))
            lines.append(
                _("次の収集日: %(day)s") % {"day": format_day(day, today=today())}
                if day
                else _("この 1 年、お住まいの地区では収集予定がありません。")
            )
        else:
            need_area = True
    items: list[dict[str, Any]] = []
    if need_area and resident.area_id is not None:
        # The 受信設定 area has no calendar: say so and offer the nearest areas that have one.
        no_calendar = _area_without_calendar(resident, index)[0]
        lines.append(no_calendar["text"])
        items = no_calendar.get("quickReply", {}).get("items", [])
        need_area = False
    if need_area:
        lines.append(_("お住まいの地区を教えていただくと、次の収集日もお知らせします。"))
        items.append(
            m.quick_reply_item(
                m.postback_action(
                    _("地区を設定する"), f"{POSTBACK_PREFIX}:askarea", display_text=_("地区を設定する")
                )
            )
        )
    return [m.text("\n".join(lines), quick_reply=items or None)]


def _candidate_items(entries: list[Entry]) -> list[dict[str, Any]]:
    return [
        m.quick_reply_item(
            m.postback_action(e.title[:20], f"{POSTBACK_PREFIX}:{e.kind}:{e.pk}", display_text=e.title[:300])
        )
        for e in entries[:3]
    ]


def _staff_item() -> dict[str, Any]:
    return m.quick_reply_item(
        m.postback_action(_(STAFF_LABEL), f"{POSTBACK_PREFIX}:staff", display_text=_(STAFF_LABEL))
    )


def _record(resident: Resident, outcome: services.Outcome, entry: Entry) -> None:
    services.chat_outcome_record(
        resident=resident, outcome=outcome, topic=f"{entry.kind}:{entry.pk}", label=entry.title
    )


def _match_answer(resident: Resident, index: Index, text: str) -> Messages:
    match = index.match(text)
    if match.confident:
        _record(resident, services.Outcome.ANSWERED, match.answer[0])
        return _entries_reply(resident, index, match.answer)
    if services.handoff_open_get(resident=resident) is not None:
        # Staff are handling this resident: what the bot is unsure of is theirs to answer.
        return _busy_reply(resident)
    if match.candidates and match.score >= 65:
        _record(resident, services.Outcome.SUGGESTED, match.candidates[0])
        return [
            m.text(
                _("もしかして、次のどれかですか？下から選んでください。"),
                quick_reply=[*_candidate_items(match.candidates), _staff_item()],
            )
        ]
    question = services.unanswered_record(resident=resident, text=text)
    services.chat_outcome_record(
        resident=resident,
        outcome=services.Outcome.NOT_UNDERSTOOD,
        topic=f"unanswered:{question.pk}" if question else "",
        label=question.text if question else "",
    )
    body = _(
        "ごめんなさい、「%(q)s」にはまだお答えできません。いただいた質問は職員が確認し、回答を増やしていきます。"
    ) % {"q": text[:60]}
    if match.candidates:
        body += "\n" + _("近いものがあれば下から選んでください。")
    body += "\n" + _("職員に直接聞きたいときは「職員と話す」を押してください。")
    return [m.text(body, quick_reply=[*_candidate_items(match.candidates), _staff_item()])]


# --- the hand-off to a person -------------------------------------------------------------------


def _handoff_reply(ctx: InboundContext, resident: Resident) -> Messages:
    """Open (or keep) the resident's hand-off in the inbox of the department that owns the topic
    and tell them when someone will answer."""
    already = services.handoff_open_get(resident=resident) is not None
    topic = selectors.recent_question_of(
        resident=resident, since=timezone.now() - HANDOFF_TOPIC_WINDOW, skip=_STAFF_KEYS
    )
    department = None
    route = (
        selectors.handoff_route_for(municipality_id=resident.municipality_id, text=topic) if topic else None
    )
    if route is not None:  # the town's 話題 → 課 table first
        department = route.department
    elif topic:
        match = get_index(ctx.municipality.pk).match(topic)
        owner = next((e.department_id for e in [*match.answer, *match.candidates] if e.department_id), None)
        if owner is not None:
            department = Department.objects.filter(pk=owner, municipality_id=resident.municipality_id).first()
    try:
        handoff = services.handoff_request(resident=resident, topic=topic, department=department)
    except ServiceError as exc:
        return [m.text(exc.message)]
    hours = ctx.municipality.office_hours
    inbox = handoff.department.name if handoff.department_id else _("担当の職員")
    if not already:
        services.chat_outcome_record(
            resident=resident,
            outcome=services.Outcome.HANDED_OFF,
            topic=f"department:{handoff.department_id}" if handoff.department_id else "department:",
            label=handoff.department.name if handoff.department_id else _("担当課なし"),
        )
    if already:
        body = _("すでに%(inbox)sにおつなぎしています。ご用件はこのトークにそのまま送ってください。") % {
            "inbox": inbox
        }
    else:
        body = _("%(inbox)sにおつなぎします。ご用件をこのトークに送ってください。") % {"inbox": inbox}
    if hours:
        body += "\n" + _(
            "職員が対応する時間は %(hours)s です。時間外のメッセージには、次の対応時間にお返事します。"
        ) % {"hours": hours}
    body += "\n" + _("ごみや よくある質問には、これまでどおりチャットボットもお答えします。")
    return [m.text(body)]


def _busy_reply(resident: Resident) -> Messages:
    """「担当者が対応中です」, once per hand-off; afterwards the bot stays quiet (staff read it)."""
    if services.handoff_note_message(resident=resident):
        return [m.text(_("担当者が対応中です。お返事まで少しお待ちください。"))]
    return []


# --- collection days --------------------------------------------------------------------------


def _collection_answer(resident: Resident, index: Index, text: str) -> Messages | None:
    folded = fold(text)
    if not index.calendars:
        return None
    kind: str | None = None
    category = None
    if _TODAY.search(folded):
        kind = "today"
    elif _TOMORROW.search(folded):
        kind = "tomorrow"
    elif (
        _WHEN.search(folded)
        and (category := find_category(index, text)) is not None
        and category.has_calendar
    ):
        kind = "next"
    elif _SCHEDULE.search(key(text)):
        kind = "schedule"
    if kind is None:
        return None
    if resident.area_id is not None and resident.area_id not in index.calendars:
        return _area_without_calendar(resident, index)
    if resident.area_id is None:
        return _ask_area(resident, text)
    return _collection_reply(resident, index, text, kind, category)


def _area_without_calendar(resident: Resident, index: Index) -> Messages:
    """The area chosen in 受信設定 has no collection calendar: say so, offer the nearest areas that
    have one (by name and reading), and the settings page."""
    area = Area.objects.filter(pk=resident.area_id).only("name", "kana").first()
    name = area.name if area else ""
    nearest = selectors.areas_nearest_with_calendar(
        municipality_id=resident.municipality_id, name=name, kana=area.kana if area else "", limit=3
    )
    body = _("受信設定の地区「%(area)s」には、ごみの収集日がまだ登録されていません。") % {"area": name}
    items = []
    if nearest:
        body += "\n" + _("近い地区を選ぶと、その地区の収集日でお答えします。")
        items = [
            m.quick_reply_item(
                m.postback_action(a.name[:20], f"{POSTBACK_PREFIX}:area:{a.pk}", display_text=a.name)
            )
            for a in nearest
        ]
    return [m.text(body, quick_reply=[*items, *_settings_item(resident)])]


def _clock(value: dt.time) -> str:
    return f"{value.hour}:{value.minute:02d}"


def first_day_to_answer(municipality: Any, *, now: dt.datetime | None = None) -> dt.date:
    """Today before the town's collection time (default 8:30), tomorrow after it: a collection
    that is over is not 「次の収集日」."""
    local = timezone.localtime(now or timezone.now())
    cutoff = municipality.garbage_collection_time
    return local.date() + dt.timedelta(days=1) if cutoff and local.time() >= cutoff else local.date()


def _collection_reply(
    resident: Resident, index: Index, text: str, kind: str, category: Any = None
) -> Messages:
    calendar = index.calendars[resident.area_id]
    now = today()
    area_name = index.area_names.get(resident.area_id, "")
    if kind in {"today", "tomorrow"}:
        day = now if kind == "today" else now + dt.timedelta(days=1)
        labels = [index.categories[c].label for c in calendar.categories_on(day) if c in index.categories]
        if labels:
            body = _("%(day)s（%(area)s）の収集は\n%(items)s\nです。") % {
                "day": format_day(day, today=now),
                "area": area_name,
                "items": "\n".join(f"・{label}" for label in labels),
            }
            if day == now and first_day_to_answer(resident.municipality) > now:
                body += "\n" + _("今日の収集時刻（%(time)s）は過ぎています。") % {
                    "time": _clock(resident.municipality.garbage_collection_time)
                }
                upcoming = _upcoming(index, calendar, day + dt.timedelta(days=1))
                if upcoming:
                    body += "\n" + _("次の収集: %(next)s") % {"next": upcoming}
        else:
            body = _("%(day)s（%(area)s）はごみの収集がありません。") % {
                "day": format_day(day, today=now),
                "area": area_name,
            }
            upcoming = _upcoming(index, calendar, day + dt.timedelta(days=1))
            if upcoming:
                body += "\n" + _("次の収集: %(next)s") % {"next": upcoming}
    elif kind == "next":
        day = calendar.next_day(category.pk, first_day_to_answer(resident.municipality))
        rule = calendar.rules.get(category.pk)
        if day is None:
            body = _("%(area)sでは、この 1 年【%(label)s】の収集予定がありません。") % {
                "area": area_name,
                "label": category.label,
            }
        else:
            body = _("%(area)sの次の【%(label)s】は %(day)s です。") % {
                "area": area_name,
                "label": category.label,
                "day": format_day(day, today=now),
            }
            if rule is not None and rule.describe():
                body += "\n" + _("（収集日: %(rule)s）") % {"rule": rule.describe()}
            for number in rule.remarks if rule else ():
                if number in index.remarks:
                    body += "\n※ " + index.remarks[number]
    else:
        lines = []
        for category_id in calendar.rules:
            if category_id not in index.categories:
                continue
            day = calendar.next_day(category_id, first_day_to_answer(resident.municipality))
            if day:
                lines.append(f"・{index.categories[category_id].label}: {format_day(day, today=now)}")
        body = _("%(area)sの次の収集日です。\n%(lines)s") % {"area": area_name, "lines": "\n".join(lines)}
    body += "\n" + _("前の晩 20 時にお知らせが欲しいときは「ごみ通知オン」と送ってください。")
    services.chat_outcome_record(
        resident=resident,
        outcome=services.Outcome.ANSWERED,
        topic=f"collection:{kind}",
        label=_("収集日（%(kind)s）") % {"kind": COLLECTION_KINDS.get(kind, kind)},
    )
    return [m.text(body, quick_reply=_settings_item(resident) or None)]


def _upcoming(index: Index, calendar: Any, start: dt.date) -> str:
    for offset in range(14):
        day = start + dt.timedelta(days=offset)
        labels = [index.categories[c].label for c in calendar.categories_on(day) if c in index.categories]
        if labels:
            return f"{format_day(day, today=today())} {'・'.join(labels)}"
    return ""


# --- the area conversation --------------------------------------------------------------------


def _ask_area(resident: Resident, question: str) -> Messages:
    services.chat_state_update(resident=resident, pending=ChatState.Pending.AREA, pending_text=question)
    examples = selectors.area_names_with_calendar(municipality_id=resident.municipality_id, limit=2)
    body = _("お住まいの地区名を送ってください。")
    if examples:
        body += _("（例: %(examples)s）") % {"examples": "、".join(examples)}
    return [m.text(body, quick_reply=_settings_item(resident) or None)]


def _area_answer(resident: Resident, index: Index, state: ChatState, text: str) -> Messages | None:
    areas = selectors.areas_for_text(municipality_id=resident.municipality_id, text=text)
    if index.calendars and any(a.pk in index.calendars for a in areas):
        areas = [a for a in areas if a.pk in index.calendars]  # only areas the bot can answer for
    if len(areas) == 1 and index.calendars and areas[0].pk not in index.calendars:
        return [
            m.text(
                _("「%(area)s」の収集日はまだ登録されていません。収集日の一覧にある地区名を送ってください。")
                % {"area": areas[0].name},
                quick_reply=_settings_item(resident) or None,
            )
        ]
    if len(areas) == 1:
        return _set_area(resident, index, areas[0], state.pending_text)
    if len(areas) > 1:
        items = [
            m.quick_reply_item(
                m.postback_action(a.name[:20], f"{POSTBACK_PREFIX}:area:{a.pk}", display_text=a.name)
            )
            for a in areas[:MAX_AREA_CHOICES]
        ]
        more = (
            _("（ほかにもあります。もう少し詳しく送ってください）") if len(areas) > MAX_AREA_CHOICES else ""
        )
        return [m.text(_("どの地区ですか？下から選んでください。") + more, quick_reply=items)]
    # Not an area name: the resident moved on; forget the question and answer this one.
    services.chat_state_update(resident=resident, pending="")
    return None


def _set_area(resident: Resident, index: Index, area: Area, question: str) -> Messages:
    try:
        resident = resident_update_preferences(resident=resident, area=area)
    except ServiceError as exc:
        return [m.text(exc.message)]
    resident.area = area
    services.chat_state_update(resident=resident, pending="")
    reply = [
        m.text(
            _("お住まいの地区を「%(area)s」に設定しました。変更は「地区・受信設定」からできます。")
            % {"area": area.name}
        )
    ]
    if question and area.pk in index.calendars:
        follow = _collection_answer(resident, index, question)
        if follow is None:
            follow = _match_answer(resident, index, question)
        reply += follow
    elif area.pk in index.calendars:
        reply += _collection_reply(resident, index, "", "schedule")
    return reply[:5]


def _reminder_on(resident: Resident, state: ChatState) -> Messages:
    services.chat_state_update(resident=resident, garbage_reminder=True)
    body = _(
        "ごみ収集日の前の晩 20 時に、翌日のごみをお知らせします。やめるときは「ごみ通知オフ」と送ってください。"
    )
    if resident.area_id is None:
        return [m.text(body), *_ask_area(resident, "")]
    return [m.text(body, quick_reply=_settings_item(resident) or None)]
