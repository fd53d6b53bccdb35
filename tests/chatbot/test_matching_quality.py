"""Matching quality over kyotango's target.csv: every item in hiragana, katakana, half-width
katakana and with the usual question tails must give the item's category in ≥ 95% of cases."""

from __future__ import annotations

import csv

import jaconv
import pykakasi

from chatbot.matching import get_index

from .conftest import KYOTANGO

SUFFIXES = ["", "は？", "の捨て方", "はどうやって捨てる"]


def _variants(name: str, hira: str) -> list[str]:
    kata = jaconv.hira2kata(hira)
    half = jaconv.z2h(kata, kana=True, ascii=False, digit=False)
    return [form + suffix for form in (name, hira, kata, half) for suffix in SUFFIXES]


def test_every_item_in_every_spelling_finds_its_category(kyotango_town):
    # given the items as the file lists them, and readings from an independent converter
    with open(KYOTANGO / "target.csv", encoding="utf-8-sig", newline="") as f:
        rows = [(row["type"].strip(), row["name"].strip()) for row in csv.DictReader(f)]
    kakasi = pykakasi.kakasi()
    index = get_index(kyotango_town.pk)
    labels = {c.pk: c.label for c in index.categories.values()}
    # when
    total = hits = 0
    misses: list[str] = []
    for label, name in rows:
        hira = "".join(part["hira"] for part in kakasi.convert(name))
        for question in _variants(name, hira):
            total += 1
            match = index.match(question)
            answered = {labels[e.category_id] for e in match.answer if e.kind == "item"}
            if label in answered:
                hits += 1
            else:
                misses.append(question)
    # then
    assert total == len(rows) * 16
    rate = hits / total
    assert rate >= 0.95, f"{rate:.1%}; e.g. {misses[:20]}"


def test_the_issue_examples(kyotango_town):
    index = get_index(kyotango_town.pk)
    for question in ["乾電池", "乾電池はどうやって捨てる？", "かんでんち", "カンデンチ", "ｶﾝﾃﾞﾝﾁの捨て方"]:
        match = index.match(question)
        assert match.confident, question
        assert {index.categories[e.category_id].label for e in match.answer} == {"有害ごみ"}, question
