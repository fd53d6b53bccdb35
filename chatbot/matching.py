"""The answer index of one municipality: garbage items, FAQ, keyword rules and calendars.

Built once per municipality and kept in process memory (``municipalities.line.towncache``); a
version token in Django's cache (shared by every process through Redis in production) tells a
process that its copy is stale. Writers call ``invalidate(municipality_id)`` on commit (import,
FAQ or keyword change).

Matching: exact key (name, reading, FAQ question or variant) first, then fuzzy matching with
rapidfuzz's WRatio over every key. A confident hit answers; close hits become up to three
candidates; nothing close is "not answered" (logged for staff).
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone
from rapidfuzz import fuzz, process

from chatbot.collection import Calendar, Holiday, parse_rule
from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    Faq,
    GarbageCategory,
    GarbageItem,
    GarbageRemark,
    KeywordRule,
)
from chatbot.normalize import key, query_key, reading
from municipalities.line.towncache import TownCache

CONFIDENT_SCORE = 90.0
CANDIDATE_SCORE = 65.0
WEAK_SCORE = 50.0
CLEAR_MARGIN = 4.0
# A slightly weaker hit still answers when nothing else comes close (「取りかた」 vs 「取り方」).
LONE_SCORE = 80.0
LONE_MARGIN = 15.0
MAX_CANDIDATES = 3
# Fuzzy scoring runs on at most this many keys: those sharing the most character bigrams with
# the question (WRatio over every key of a big town costs tens of milliseconds per question).
FUZZY_SHORTLIST = 250

_PAREN = re.compile(r"[（(][^（）()]*[)）]")


@dataclass(frozen=True)
class Entry:
    kind: str  # "item" | "faq"
    pk: int
    title: str
    category_id: int | None = None
    notice: str = ""
    answer: str = ""
    link_label: str = ""
    link_url: str = ""
    department_id: int | None = None  # an FAQ's department (the inbox of a hand-off on its topic)


@dataclass(frozen=True)
class Category:
    pk: int
    label: str
    keys: tuple[str, ...]
    has_calendar: bool


@dataclass
class Match:
    """``answer``: entries to answer with; ``candidates``: what the resident may have meant."""

    answer: list[Entry] = field(default_factory=list)
    candidates: list[Entry] = field(default_factory=list)
    score: float = 0.0

    @property
    def confident(self) -> bool:
        return bool(self.answer)


@dataclass
class Index:
    entries: list[Entry]
    exact_full: dict[str, list[int]]
    exact_base: dict[str, list[int]]
    choices: list[str]
    choice_entries: list[list[int]]
    grams: dict[str, list[int]]
    keywords: dict[str, str]
    categories: dict[int, Category]
    calendars: dict[int, Calendar]
    area_names: dict[int, str]
    remarks: dict[int, str]

    def match(self, text: str) -> Match:
        q = query_key(text)
        if not q:
            return Match()
        if hits := self.exact_full.get(q):
            return Match(answer=[self.entries[i] for i in hits], score=100.0)
        if hits := self.exact_base.get(q):
            entries = [self.entries[i] for i in hits]
            if len(entries) == 1:
                return Match(answer=entries, score=100.0)
            return Match(candidates=entries[:MAX_CANDIDATES], score=100.0)
        scored: dict[int, float] = {}
        positions = self._shortlist(q)
        choices = [self.choices[p] for p in positions] if positions is not None else self.choices
        for _choice, score, at in process.extract(
            q, choices, scorer=fuzz.WRatio, limit=12, score_cutoff=WEAK_SCORE
        ):
            position = positions[at] if positions is not None else at
            for i in self.choice_entries[position]:
                if score > scored.get(i, 0.0):
                    scored[i] = score
        ranked = sorted(scored.items(), key=lambda item: (-item[1], self.entries[item[0]].title))
        if not ranked:
            return Match()
        best_i, best = ranked[0]
        candidates = [self.entries[i] for i, s in ranked[:MAX_CANDIDATES]]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if (best >= CONFIDENT_SCORE and best - runner_up >= CLEAR_MARGIN) or (
            best >= LONE_SCORE and best - runner_up >= LONE_MARGIN
        ):
            return Match(answer=[self.entries[best_i]], score=best)
        if best >= CANDIDATE_SCORE:
            return Match(candidates=candidates, score=best)
        return Match(candidates=candidates, score=best)  # weak: still offered, but logged as unanswered

    def _shortlist(self, q: str) -> list[int] | None:
        """Keys sharing the most bigrams with ``q`` (None: score every key, for 1–2 characters)."""
        if len(q) <= 2 or len(self.choices) <= FUZZY_SHORTLIST:
            return None
        counts: dict[int, int] = defaultdict(int)
        for gram in bigrams(q):
            for position in self.grams.get(gram, ()):
                counts[position] += 1
        return heapq.nlargest(FUZZY_SHORTLIST, counts, key=counts.__getitem__)

    def keyword_reply(self, text: str) -> str | None:
        return self.keywords.get(key(text))

    def entry(self, kind: str, pk: int) -> Entry | None:
        for entry in self.entries:
            if entry.kind == kind and entry.pk == pk:
                return entry
        return None


# --- building ---------------------------------------------------------------------------------


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def item_keys(name: str, kana: str) -> tuple[set[str], set[str]]:
    """(full keys, base keys) of an item: its name and reading, with and without (…) parts."""
    full = {k for k in (key(name), key(kana or reading(name))) if k}
    base_name = _PAREN.sub("", name).strip()
    base = set()
    if base_name and base_name != name:
        base = {k for k in (key(base_name), key(reading(base_name))) if k} - full
    return full, base


def build_index(municipality_id: int) -> Index:
    entries: list[Entry] = []
    exact_full: dict[str, list[int]] = defaultdict(list)
    exact_base: dict[str, list[int]] = defaultdict(list)
    fuzzy: dict[str, list[int]] = defaultdict(list)

    def add(entry: Entry, full: set[str], base: set[str]) -> None:
        i = len(entries)
        entries.append(entry)
        for k in full:
            exact_full[k].append(i)
            fuzzy[k].append(i)
        for k in base:
            exact_base[k].append(i)
            fuzzy[k].append(i)

    items = GarbageItem.objects.filter(municipality_id=municipality_id).values_list(
        "pk", "name", "kana", "notice", "category_id"
    )
    for pk, name, kana, notice, category_id in items:
        full, base = item_keys(name, kana)
        add(Entry("item", pk, name, category_id=category_id, notice=notice), full, base)
    faqs = Faq.objects.filter(department__municipality_id=municipality_id, is_published=True).values_list(
        "pk", "question", "variants", "answer", "link_label", "link_url", "department_id"
    )
    for pk, question, variants, answer, link_label, link_url, department_id in faqs:
        keys = {query_key(v) for v in [question, *variants.splitlines()] if v.strip()} - {""}
        add(
            Entry(
                "faq",
                pk,
                question,
                answer=answer,
                link_label=link_label,
                link_url=link_url,
                department_id=department_id,
            ),
            keys,
            set(),
        )
    keywords: dict[str, str] = {}
    for keyword, reply in (
        KeywordRule.objects.filter(department__municipality_id=municipality_id, is_active=True)
        .order_by("department__sort_order", "department_id", "pk")
        .values_list("keyword", "reply")
    ):
        keywords.setdefault(key(keyword), reply)

    calendars: dict[int, Calendar] = {}
    holidays: dict[str, list[Holiday]] = defaultdict(list)
    for center, starts_on, ends_on, policy in CenterHoliday.objects.filter(
        municipality_id=municipality_id
    ).values_list("center", "starts_on", "ends_on", "policy"):
        holidays[key(center)].append(
            Holiday(
                starts_on,
                ends_on,
                shift=policy == CenterHoliday.Policy.SHIFT,
                week=policy == CenterHoliday.Policy.WEEK,
            )
        )
    with_calendar: set[int] = set()
    area_names: dict[int, str] = {}
    for calendar in (
        AreaCalendar.objects.filter(municipality_id=municipality_id)
        .select_related("area")
        .prefetch_related("rules")
    ):
        area_names[calendar.area_id] = calendar.area.name
        rules = {rule.category_id: parse_rule(rule.rule) for rule in calendar.rules.all()}
        with_calendar.update(c for c, r in rules.items() if not r.is_empty)
        calendars[calendar.area_id] = Calendar(
            rules=rules, holidays=holidays.get(key(calendar.center), []) if calendar.center else []
        )
    categories = {
        pk: Category(pk, label, category_keys(label), pk in with_calendar)
        for pk, label in GarbageCategory.objects.filter(municipality_id=municipality_id).values_list(
            "pk", "label"
        )
    }
    remarks = dict(
        GarbageRemark.objects.filter(municipality_id=municipality_id).values_list("number", "text")
    )
    choices = list(fuzzy)
    grams: dict[str, list[int]] = defaultdict(list)
    for position, choice in enumerate(choices):
        for gram in bigrams(choice):
            grams[gram].append(position)
    return Index(
        entries=entries,
        exact_full=dict(exact_full),
        exact_base=dict(exact_base),
        choices=choices,
        choice_entries=[fuzzy[c] for c in choices],
        grams=dict(grams),
        keywords=keywords,
        categories=categories,
        calendars=calendars,
        area_names=area_names,
        remarks=remarks,
    )


# Words residents use for a category, grouped; a group matches a label containing any of its
# words (「燃やせるごみ」 finds 可燃ごみ, 「プラ」 finds 容器包装プラスチック).
CATEGORY_SYNONYMS: list[tuple[str, ...]] = [
    ("可燃", "燃やせる", "もやせる", "燃える", "もえる", "燃やす", "もやす"),
    ("不燃", "燃やせない", "もやせない", "燃えない", "もえない", "燃やさない", "もやさない"),
    ("ぷら", "容器包装"),
    ("ぺっと",),
    ("缶", "かん"),
    ("びん", "瓶"),
    ("古紙", "紙", "新聞", "段ボール", "だんぼーる"),
    ("資源", "しげん"),
    ("有害", "危険", "きけん", "電池", "蛍光灯"),
    ("粗大", "そだい"),
]


def category_keys(label: str) -> tuple[str, ...]:
    folded = key(label)
    words = {folded, key(reading(label))}
    for group in CATEGORY_SYNONYMS:
        if any(key(word) in folded for word in group):
            words.update(key(word) for word in group)
    return tuple(sorted(w for w in words if w))


def find_category(index: Index, text: str) -> Category | None:
    """The category named in ``text`` (「次の燃やせるごみはいつ？」 → 可燃ごみ), calendars first."""
    q = key(text)
    best: tuple[int, int, Category] | None = None
    for category in index.categories.values():
        for word in category.keys:
            if word and word in q:
                rank = (len(word), 1 if category.has_calendar else 0)
                if best is None or rank > best[:2]:
                    best = (*rank, category)
    return best[2] if best else None


# --- the per-process cache --------------------------------------------------------------------

# One index per town and process, built again after ``invalidate`` (FAQ, keyword rule and garbage
# services, on commit). The token key is the one this module has always used.
_indexes: TownCache[Index] = TownCache("chatbot.index", build_index, version_key="chatbot:index-version:{}")


def get_index(municipality_id: int) -> Index:
    return _indexes.get(municipality_id)


def invalidate(municipality_id: int) -> None:
    """Make every process rebuild the index of this municipality at its next question."""
    _indexes.invalidate(municipality_id)


def clear_all() -> None:
    """Forget every cached index of this process (tests)."""
    _indexes.clear_local()


def today() -> dt.date:
    return timezone.localdate()
