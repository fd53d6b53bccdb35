"""Who may book a menu (対象者): age at the slot date and area. Pure functions of a menu and a person.

The calendar uses them to offer only eligible people and to say in Japanese why someone is not;
``reservation_book`` calls ``eligibility_problem`` again inside its transaction, so a stale page
or a crafted POST cannot book someone the rule excludes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from municipalities.models import HouseholdMember, Resident
from municipalities.models.households import age_on, format_age

from .models import Menu, Reservation


def _months_label(months: int) -> str:
    return format_age(months // 12, months % 12)


def age_rule_text(menu: Menu) -> str:
    """「1歳6か月〜2歳未満」「65歳以上」, or "" when the menu has no age rule."""
    low, high = menu.eligible_age_from_months, menu.eligible_age_until_months
    if low is not None and high is not None:
        return f"{_months_label(low)}〜{_months_label(high)}未満"
    if low is not None:
        return f"{_months_label(low)}以上"
    if high is not None:
        return f"{_months_label(high)}未満"
    return ""


def has_age_rule(menu: Menu) -> bool:
    return menu.eligible_age_from_months is not None or menu.eligible_age_until_months is not None


def area_ids(menu: Menu) -> set[int]:
    """The menu's areas (prefetch ``eligible_areas`` to avoid a query per menu)."""
    return {a.pk for a in menu.eligible_areas.all()}


def rule_text(menu: Menu) -> str:
    """The whole rule for the calendar header: 「対象: 1歳6か月〜2歳未満・東地区」."""
    parts = [p for p in (age_rule_text(menu), "・".join(a.name for a in menu.eligible_areas.all())) if p]
    return "対象: " + "・".join(parts) if parts else ""


def _age_problem(menu: Menu, on: dt.date, birth_date: dt.date, person: str) -> str:
    years, rest = age_on(birth_date, on)
    months = years * 12 + rest
    age = _months_label(months)
    low, high = menu.eligible_age_from_months, menu.eligible_age_until_months
    if low is not None and months < low:
        return f"{person}さんは {on.month}月{on.day}日に {age} で、対象（{age_rule_text(menu)}）に達していません。"
    if high is not None and months >= high:
        return (
            f"{person}さんは {on.month}月{on.day}日に {age} で、対象（{age_rule_text(menu)}）を過ぎています。"
        )
    return ""


def eligibility_problem(
    *, menu: Menu, on: dt.date, resident: Resident, member: HouseholdMember | None
) -> str:
    """Why this person may not book ``menu`` for a slot on ``on`` (Japanese), or "" when they may.

    ``member`` is the household member booked for; None books for the resident, whose age is
    unknown unless they registered themselves (本人) as a member.
    """
    allowed_areas = area_ids(menu)
    if allowed_areas and resident.area_id not in allowed_areas:
        names = "・".join(a.name for a in menu.eligible_areas.all())
        return f"「{menu.name}」は {names} にお住まいの方が対象です（受信設定の地区をご確認ください）。"
    return age_problem(menu=menu, on=on, member=member)


def age_problem(*, menu: Menu, on: dt.date, member: HouseholdMember | None) -> str:
    """The age part of ``eligibility_problem`` (no query): "" when the menu has no age rule."""
    if not has_age_rule(menu):
        return ""
    if member is None:
        return (
            f"「{menu.name}」は対象年齢（{age_rule_text(menu)}）があるため、予約する方の生年月日が必要です。"
            "「家族の登録」でご本人（本人）またはご家族を登録してください。"
        )
    return _age_problem(menu, on, member.birth_date, member.name)


def caller_eligibility_problem(
    *, menu: Menu, on: dt.date, birth_date: dt.date | None, area_id: int | None, name: str
) -> str:
    """The same rule for a person staff book on the phone (代理予約), in words for the clerk.

    ``birth_date`` and ``area_id`` are what the caller said (or, for a LINE user, their 地区);
    the clerk is told which one is missing or why the person is outside the rule.
    """
    allowed_areas = area_ids(menu)
    if allowed_areas and area_id not in allowed_areas:
        names = "・".join(a.name for a in menu.eligible_areas.all())
        if area_id is None:
            return f"「{menu.name}」は {names} にお住まいの方が対象です。お住まいの地区を選んでください。"
        return f"「{menu.name}」は {names} にお住まいの方が対象です。この方の地区は対象外です。"
    if not has_age_rule(menu):
        return ""
    if birth_date is None:
        return (
            f"「{menu.name}」には対象年齢（{age_rule_text(menu)}）があります。"
            "来る方の生年月日を入力してください（LINE 利用者なら、登録済みの家族を選べます）。"
        )
    return _age_problem(menu, on, birth_date, name or "この方")


def booking_problem(
    *,
    menu: Menu,
    on: dt.date,
    resident: Resident | None,
    member: HouseholdMember | None,
    staff: bool,
    birth_date: dt.date | None = None,
    area_id: int | None = None,
    name: str = "",
) -> str:
    """The rule as the booking and waitlist services check it, for whoever books.

    A household member, or a resident booking in LINE: ``eligibility_problem``. Staff booking
    on the phone for a caller, or for a LINE user themselves (no member): the birth date the
    caller gave and their 地区 (a LINE user's own, else the one staff picked), in the clerk's words.
    """
    if member is not None or (resident is not None and not staff):
        return eligibility_problem(menu=menu, on=on, resident=resident, member=member)
    return caller_eligibility_problem(
        menu=menu,
        on=on,
        birth_date=birth_date,
        area_id=resident.area_id if resident is not None and resident.area_id else area_id,
        name=resident.display_name if resident is not None else name,
    )


@dataclass(frozen=True)
class Candidate:
    """One person the resident could book for, and whether the rule lets them."""

    member: HouseholdMember | None
    label: str
    problem: str

    @property
    def value(self) -> str:
        return str(self.member.pk) if self.member is not None else "self"


def candidates_for(
    *, menu: Menu, on: dt.date, resident: Resident, members: list[HouseholdMember]
) -> list[Candidate]:
    """The resident (when no 本人 entry exists) and each member, each with the reason they cannot book."""
    out: list[Candidate] = []
    if not any(m.relationship == "self" for m in members):
        out.append(
            Candidate(
                member=None,
                label="ご本人",
                problem=eligibility_problem(menu=menu, on=on, resident=resident, member=None),
            )
        )
    for m in members:
        y, mo = age_on(m.birth_date, on)
        out.append(
            Candidate(
                member=m,
                label=f"{m.name}（{m.get_relationship_display()}・当日 {format_age(y, mo)}）",
                problem=eligibility_problem(menu=menu, on=on, resident=resident, member=m),
            )
        )
    return out


def member_age_text(reservation: Reservation) -> str:
    """The age on the slot's day (「1歳7か月」) of the household member, or of a phone booking's
    person whose birth date staff took, for rosters and exports; "" for others."""
    if reservation.member_id is not None:
        return format_age(*age_on(reservation.member.birth_date, reservation.slot_date))
    if reservation.birth_date is not None:
        return format_age(*age_on(reservation.birth_date, reservation.slot_date))
    return ""
