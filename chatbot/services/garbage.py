"""Replacing a town's garbage data with its 5374 files."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from chatbot.errors import ChatbotError, GarbageImportError
from chatbot.garbage_import import parse_5374
from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    CollectionRule,
    GarbageCategory,
    GarbageItem,
    GarbageRemark,
)
from chatbot.normalize import key, reading
from chatbot.services.faq import invalidate_on_commit
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.models import Area, Municipality, StaffUser

# --- Garbage data (5374) ------------------------------------------------------------------------


@dataclass
class ImportResult:
    categories: int
    items: int
    areas: int
    areas_created: int
    holidays: int
    remarks: int
    holiday_policy: str
    notes: list[str]
    skipped: list[str] = field(default_factory=list)  # 「<file> <n>行目: <reason>」, with skip_invalid


@transaction.atomic(durable=True)
def garbage_import(
    *,
    municipality: Municipality,
    files: dict[str, bytes],
    actor: StaffUser | None = None,
    skip_invalid: bool = False,
    holiday_policy: str | None = None,
) -> ImportResult:
    """Replace ``municipality``'s garbage data with the 5374 files (by file name).

    All or nothing by default: on any problem raises GarbageImportError listing every problem by
    file and row, and nothing is written. With ``skip_invalid`` everything readable is imported
    and each row or cell left out is listed in ``ImportResult.skipped`` (file, row, reason); a
    missing or unreadable file, or no item or area left, still refuses. ``holiday_policy`` (休止,
    振替, 1 週ずらし) is how center holidays move collections; without it, ``setting.js``'s
    ``WeekShift`` decides, else 休止. The areas of ``area_days.csv`` become the town's Areas (missing
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
    policy = holiday_policy or parsed.holiday_policy or CenterHoliday.Policy.CANCEL
    if policy not in CenterHoliday.Policy.values:
        raise ChatbotError(_("休止期間の扱い「%(p)s」は選べません。") % {"p": policy})
    if parsed.problems:
        # A missing or unreadable file, or nothing left to import, refuses even with skip_invalid:
        # "everything readable" must still be a town's garbage data.
        fatal = any(p.row == 0 for p in parsed.problems) or not parsed.items or not parsed.areas
        if not skip_invalid or fatal:
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
        if area is not None and not area.kana and parsed.area_kana.get(name):
            # A reading staff have not set yet comes from the data; one they set is kept.
            Area.objects.filter(pk=area.pk).update(kana=parsed.area_kana[name])
        if area is None:
            # The reading the town published, else a machine reading staff can correct on 地区.
            kana = parsed.area_kana.get(name) or reading(name)[:200]
            area = Area.objects.create(
                municipality=municipality, name=name, kana=kana, sort_order=next_order + i
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
        CenterHoliday(municipality=municipality, center=center, starts_on=start, ends_on=end, policy=policy)
        for center, start, end in parsed.holidays
    )
    result = ImportResult(
        categories=len(categories),
        items=len(parsed.items),
        areas=len(parsed.areas),
        areas_created=created,
        holidays=len(parsed.holidays),
        holiday_policy=policy,
        remarks=len(dict(parsed.remarks)),
        notes=parsed.notes,
        skipped=[str(p) for p in parsed.problems],
    )
    audit_log(
        actor=actor,
        action="chatbot.garbage.imported",
        obj=municipality,
        data={
            **{k: v for k, v in result.__dict__.items() if k not in {"notes", "skipped"}},
            "skipped": len(result.skipped),
        },
    )
    invalidate_on_commit(municipality.pk)
    return result
