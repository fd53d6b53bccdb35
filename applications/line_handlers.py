"""What the applications app answers on LINE: 「申請状況」 and the ``app:`` postbacks."""

from __future__ import annotations

import re

from django.urls import reverse

from applications.selectors import forms_open_for_resident, submissions_for_resident
from applications.workflow import NEXT_STEP
from municipalities.line import messages as m
from municipalities.line.dispatch import InboundContext, Messages
from municipalities.line.liff import resident_link

POSTBACK_PREFIX = "app"
STATUS_WORDS = re.compile(r"^\s*(申請状況|申請の状況|しんせいじょうきょう)\s*[?？]?\s*$")
FORMS_WORDS = re.compile(r"^\s*(電子申請|申請|オンライン申請|しんせい)\s*$")


def status_messages(ctx: InboundContext) -> Messages:
    resident = ctx.resident
    if resident is None:
        return [m.text("友だち追加のうえ、もう一度お試しください。")]
    rows = list(submissions_for_resident(resident=resident)[:5])
    if not rows:
        link = resident_link(resident, reverse("applications:form_list"))
        body = "申請はまだありません。\nLINE で申請できる手続きは、下のボタンから見られます。"
        return [m.text_with_button(body, "手続きを見る", link, alt_text="申請はまだありません。")]
    link = resident_link(resident, reverse("applications:submission_list"))
    lines = [
        f"・{s.form.title}（{s.reference}）: {s.get_status_display()}\n  {NEXT_STEP[s.status]}" for s in rows
    ]
    body = "最近の申請\n" + "\n".join(lines)
    # The list may hold applications of several departments; the town-wide chat log does not.
    ctx.talk_log_text = f"（申請状況: 最近の申請 {len(rows)} 件の一覧を送りました）"
    return [m.text_with_button(body, "申請状況を見る", link, alt_text="最近の申請")]


def forms_messages(ctx: InboundContext) -> Messages:
    resident = ctx.resident
    if resident is None:
        return [m.text("友だち追加のうえ、もう一度お試しください。")]
    forms = forms_open_for_resident(municipality=ctx.municipality)[:10]
    if not forms:
        return [m.text("現在受け付けている電子申請はありません。")]
    lines = [f"・{f.title}" + (f"（手数料 {f.fee}円）" if f.fee else "") for f in forms]
    link = resident_link(resident, reverse("applications:form_list"))
    return [
        m.text_with_button(
            "LINE で申請できる手続き\n" + "\n".join(lines) + "\n\n申請はこちら:",
            "申請する",
            link,
            alt_text="LINE で申請できる手続き",
            quick_reply=[
                m.quick_reply_item(m.postback_action("申請状況", "app:status", display_text="申請状況"))
            ],
        )
    ]


def on_text(ctx: InboundContext) -> Messages | None:
    if STATUS_WORDS.match(ctx.text):
        return status_messages(ctx)
    if FORMS_WORDS.match(ctx.text):
        return forms_messages(ctx)
    return None


def on_postback(ctx: InboundContext) -> Messages | None:
    action = ctx.postback_data.split(":", 1)[1] if ":" in ctx.postback_data else ""
    if action == "status":
        return status_messages(ctx)
    if action == "forms":
        return forms_messages(ctx)
    return [m.text("この操作は使えなくなりました。「申請状況」と送ってください。")]
