"""The questions a menu asks when booking (予約時の質問): their kinds, and how answers are read.

A menu writes one question a line (see ``Menu.questions``). A question declares its kind with a
tag at the end, ``[かな]`` ``[数字]`` ``[日付]`` (full-width brackets and 「カナ」「数値」 work too);
「質問: 選択肢1/選択肢2」 is a choice. A question without a tag whose label says ふりがな/フリガナ/
よみがな is read as kana, and one that says 生年月日 as a date, so the menus written before the tags
existed are checked too. Answers are normalised with the kernel (``municipalities.jp``) exactly as
the application form does: kana to katakana, numbers to half-width digits, dates in 和暦 or 西暦 to
「令和8年4月1日」.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from municipalities import jp

from .errors import ReservationError

KIND_TEXT, KIND_KANA, KIND_NUMBER, KIND_DATE, KIND_CHOICE = "text", "kana", "number", "date", "choice"

_TAGS = {
    "かな": KIND_KANA,
    "カナ": KIND_KANA,
    "ふりがな": KIND_KANA,
    "フリガナ": KIND_KANA,
    "数字": KIND_NUMBER,
    "数値": KIND_NUMBER,
    "日付": KIND_DATE,
}
_TAG_RE = re.compile(r"\s*[\[［【]\s*([^\]］】]+?)\s*[\]］】]\s*$")
_KANA_WORDS = ("ふりがな", "フリガナ", "よみがな", "ヨミガナ")
_DATE_WORDS = ("生年月日",)


def parse_question_line(label: str, choices: list[str]) -> tuple[str, str]:
    """(label without its tag, kind) of one question line."""
    kind = ""
    m = _TAG_RE.search(label)
    if m and jp.nfkc(m.group(1)) in {jp.nfkc(t) for t in _TAGS}:
        kind = next(v for t, v in _TAGS.items() if jp.nfkc(t) == jp.nfkc(m.group(1)))
        label = label[: m.start()].strip()
    if choices:
        return label, KIND_CHOICE
    if not kind:
        if any(w in label for w in _KANA_WORDS):
            kind = KIND_KANA
        elif any(w in label for w in _DATE_WORDS):
            kind = KIND_DATE
    return label, kind or KIND_TEXT


def clean_answer(question: dict[str, Any], raw: str) -> str:
    """The stored answer to one question, or ReservationError (code "answers") naming the question."""
    label = question["label"]
    value = jp.normalise_text(raw or "")[:500]
    if not value:
        if question["required"]:
            raise ReservationError(_("「%(q)s」に答えてください。") % {"q": label}, code="answers")
        return ""
    kind = question.get("kind", KIND_TEXT)
    try:
        if kind == KIND_CHOICE and value not in question["choices"]:
            raise ReservationError(_("「%(q)s」は選択肢から選んでください。") % {"q": label}, code="answers")
        if kind == KIND_KANA:
            return jp.normalise_furigana(value)
        if kind == KIND_NUMBER:
            return jp.normalise_number(value)
        if kind == KIND_DATE:
            return jp.format_wareki(jp.parse_date(value))
    except jp.InputError as exc:
        raise ReservationError(
            _("「%(q)s」: %(why)s") % {"q": label, "why": exc.message}, code="answers"
        ) from None
    return value


def validate_answers(questions: list[dict[str, Any]], answers: dict[str, Any] | None) -> dict[str, str]:
    """Answers keyed by question label, each read by its kind; the first bad one raises."""
    answers = answers or {}
    cleaned: dict[str, str] = {}
    for question in questions:
        value = clean_answer(question, str(answers.get(question["key"], "") or ""))
        if value:
            cleaned[str(question["label"])] = value
    return cleaned
