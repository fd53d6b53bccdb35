"""Demo data of the chatbot: kyotango's 5374 garbage data (shipped in demo_data/, so the demo
does not depend on anything outside the repository), a few FAQ entries and keyword rules.

Idempotent: the garbage data is imported once (when the town has none); FAQ and keyword rules
are created when missing.
"""

from __future__ import annotations

from pathlib import Path

from chatbot.garbage_import import files_from_directory
from chatbot.models import Faq, GarbageItem, HandoffRoute, KeywordRule
from chatbot.services import faq_save, garbage_import, handoff_route_save, keyword_rule_save
from municipalities.files import decode_text
from municipalities.models import Area, Department, Municipality

DEMO_5374 = Path(__file__).resolve().parent / "demo_data" / "5374" / "kyotango"

FAQS = {
    "kenko": [
        (
            "特定健診の申し込み方法",
            "健診の予約\n健康診断を受けたい\n特定健診はどこで申し込む",
            "特定健診は健康福祉課（内線 123）または LINE の「予約」メニューから申し込めます。",
            "予約のしかた",
            "https://example.jp/kenshin",
        ),
        (
            "予防接種の持ち物",
            "予防接種に何を持っていく\n接種の持ち物",
            "母子健康手帳、予診票、保険証をお持ちください。",
            "",
            "",
        ),
    ],
    "somu": [
        (
            "住民票の写しの取り方",
            "住民票が欲しい\n住民票はどこでとれる\n住民票の写し",
            "LINE の「申請」メニューの「住民票の写しの請求」から申し込めます（手数料 300 円、郵送でお届けします）。"
            "役場 1 階の総務課窓口（平日 8:30〜17:15）でも請求できます。窓口では本人確認書類をお見せください。",
            "",
            "",
        ),
        (
            "粗大ごみの申し込み",
            "粗大ごみを出したい\n大きなごみの出し方",
            "粗大ごみは事前の申し込みが必要です。LINE の「申請」メニューから申し込めます。",
            "",
            "",
        ),
    ],
}
KEYWORDS = {
    "somu": [
        ("開庁時間", "役場の開庁時間は平日 8:30〜17:15 です（土日祝・年末年始はお休み）。"),
        (
            "ごみカレンダー",
            "「今日のごみは？」「明日のごみ」「次の燃やせるごみはいつ？」と送ると、お住まいの地区の収集日をお答えします。",
        ),
    ],
    "kenko": [("休日当番医", "今週の休日当番医は町のホームページでご確認ください。急病のときは #7119 へ。")],
}


def _with_town_areas(area_days: bytes, municipality: Municipality) -> bytes:
    """kyotango's area_days.csv plus one row per area of the demo town (本町, 東区 …) that the
    file does not name, with the collection days of a kyotango row: the areas residents choose
    in 受信設定 are garbage areas too, so the bot never asks for an area it cannot answer for."""
    lines = decode_text(area_days).replace("\r\n", "\n").strip("\ufeff\n").split("\n")
    named = {line.split(",", 1)[0] for line in lines[1:]}
    rows = lines[1:]
    extra = [
        ",".join([area.name, *rows[i % len(rows)].split(",")[1:]])
        for i, area in enumerate(
            Area.objects.filter(municipality=municipality).order_by("sort_order", "name")
        )
        if area.name not in named
    ]
    return "\n".join([*lines, *extra]).encode("utf-8") + b"\n"


# 問い合わせの振り分け: which 課 receives the hand-offs about a topic (話題, words, 優先順).
ROUTES = {
    "somu": [("住民票・戸籍・証明書", "住民票\n戸籍\n印鑑\n証明書\nマイナンバー", 1)],
    "kenko": [("健診・予防接種", "健診\n検診\n予防接種\nワクチン\n母子手帳", 2)],
}


def seed(municipality: Municipality) -> None:
    if not GarbageItem.objects.filter(municipality=municipality).exists():
        files = files_from_directory(DEMO_5374)
        files["area_days.csv"] = _with_town_areas(files["area_days.csv"], municipality)
        garbage_import(municipality=municipality, files=files)
    for code, entries in FAQS.items():
        department = Department.objects.filter(municipality=municipality, code=code).first()
        if department is None:
            continue
        for question, variants, answer, link_label, link_url in entries:
            if not Faq.objects.filter(department=department, question=question).exists():
                faq_save(
                    faq=Faq(
                        department=department,
                        question=question,
                        variants=variants,
                        answer=answer,
                        link_label=link_label,
                        link_url=link_url,
                    ),
                    actor=None,
                    created=True,
                )
    for code, rules in KEYWORDS.items():
        department = Department.objects.filter(municipality=municipality, code=code).first()
        if department is None:
            continue
        for keyword, reply in rules:
            if not KeywordRule.objects.filter(department=department, keyword=keyword).exists():
                keyword_rule_save(
                    rule=KeywordRule(department=department, keyword=keyword, reply=reply),
                    actor=None,
                    created=True,
                )
    for code, routes in ROUTES.items():
        department = Department.objects.filter(municipality=municipality, code=code).first()
        if department is None:
            continue
        for topic, keywords, order in routes:
            if not HandoffRoute.objects.filter(department=department, topic=topic).exists():
                handoff_route_save(
                    route=HandoffRoute(
                        department=department, topic=topic, keywords=keywords, sort_order=order
                    ),
                    actor=None,
                    created=True,
                )
