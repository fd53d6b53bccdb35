"""Demo broadcasts for 「みどり町」: some sent (they appear on the simulator page), one
scheduled weekly, one scheduled once, one waiting for approval, one draft. Idempotent: a
broadcast whose title exists is left alone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastMessage, BroadcastStatus, Recurrence, SendMode
from broadcasts.services import (
    broadcast_approve,
    broadcast_emergency_send,
    broadcast_submit,
    broadcast_unfollows_count,
)
from municipalities.models import Area, Department, Interest, Municipality, StaffUser


def _next_weekday_at(weekday: int, hour: int) -> datetime:
    today = timezone.localdate()
    days = (weekday - today.weekday()) % 7 or 7
    return timezone.make_aware(datetime.combine(today + timedelta(days=days), time(hour, 0)))


def _create(
    *,
    department: Department,
    title: str,
    messages: list[dict[str, Any]],
    category: Interest | None = None,
    emergency: bool = False,
    areas: list[Area] | None = None,
    age_bands: list[str] | None = None,
    author: StaffUser,
    **fields: Any,
) -> Broadcast | None:
    if Broadcast.objects.filter(department=department, title=title).exists():
        return None
    broadcast = Broadcast.objects.create(
        department=department,
        title=title,
        category=category,
        is_emergency=emergency,
        age_bands=age_bands or [],
        created_by=author,
        **fields,
    )
    if areas:
        broadcast.areas.set(areas)
    BroadcastMessage.objects.bulk_create(
        BroadcastMessage(broadcast=broadcast, position=n, **message) for n, message in enumerate(messages)
    )
    return broadcast


def seed(municipality: Municipality) -> None:
    kenko = Department.objects.get(municipality=municipality, code="kenko")
    somu = Department.objects.get(municipality=municipality, code="somu")
    interests = {i.code: i for i in Interest.objects.filter(municipality=municipality)}
    areas = {a.name: a for a in Area.objects.filter(municipality=municipality)}
    staff = {
        u.username: u
        for u in StaffUser.objects.filter(username__in=["joho", "kenko_head", "kenko_staff", "somu_staff"])
    }

    # Sent: the health check-ups (text + card), approved by the head.
    checkup = _create(
        department=kenko,
        title="特定健診の受付開始",
        category=interests["kenko"],
        author=staff["kenko_staff"],
        messages=[
            {
                "kind": "text",
                "text": "【健康福祉課】令和8年度の特定健診・がん検診の受付を開始しました。\n40歳以上の方は年に一度、健診を受けましょう。",
            },
            {
                "kind": "card",
                "card_title": "特定健診のご案内",
                "text": "会場: みどり町保健センター\n期間: 6月1日〜11月30日\n持ち物: 受診券・保険証",
                "link_label": "予約する",
                "link_url": "https://www.town.midori.example.jp/kenshin/",
            },
        ],
    )
    if checkup:
        broadcast_approve(
            broadcast=broadcast_submit(broadcast=checkup, actor=staff["kenko_staff"]),
            actor=staff["kenko_head"],
        )

    # Sent: an emergency notice, approved and sent at once by the town's administrator.
    shelter = _create(
        department=somu,
        title="避難所開設（大雨警報）",
        emergency=True,
        author=staff["somu_staff"],
        messages=[
            {
                "kind": "text",
                "text": "【緊急・みどり町】大雨警報の発表に伴い、本日17時に次の避難所を開設しました。\n"
                "・みどり町公民館\n・北川小学校体育館\n川の近くや崖のそばにお住まいの方は、早めに避難してください。",
            }
        ],
    )
    if shelter:
        broadcast_emergency_send(broadcast=shelter, actor=staff["joho"])

    # Scheduled weekly: the parenting salon, every Monday morning for three months.
    first = _next_weekday_at(0, 9)
    salon = _create(
        department=kenko,
        title="今週の子育てひろば",
        category=interests["kosodate"],
        age_bands=["20s", "30s", "40s"],
        author=staff["kenko_staff"],
        send_mode=SendMode.AT,
        scheduled_at=first,
        recurrence=Recurrence.WEEKLY,
        recurrence_until=timezone.localdate(first) + timedelta(days=90),
        messages=[
            {
                "kind": "text",
                "text": "【子育てひろば】今週も水曜・金曜の10時から保健センター2階で開いています。お気軽にどうぞ。",
            }
        ],
    )
    if salon:
        broadcast_approve(
            broadcast=broadcast_submit(broadcast=salon, actor=staff["kenko_staff"]), actor=staff["kenko_head"]
        )

    # Scheduled once: a change of garbage collection in two districts.
    garbage = _create(
        department=somu,
        title="ごみ収集日の変更（東区・西区）",
        category=interests["gomi"],
        areas=[areas["東区"], areas["西区"]],
        author=staff["somu_staff"],
        send_mode=SendMode.AT,
        scheduled_at=_next_weekday_at(4, 18),
        messages=[
            {
                "kind": "text",
                "text": "【ごみ】来週月曜日の燃やせるごみの収集は、祝日のため火曜日に変更します（東区・西区）。",
            }
        ],
    )
    if garbage:
        broadcast_approve(
            broadcast=broadcast_submit(broadcast=garbage, actor=staff["somu_staff"]), actor=staff["joho"]
        )

    # Waiting for approval, and a draft.
    festival = _create(
        department=somu,
        title="みどり町夏まつりのお知らせ",
        category=interests["kanko"],
        author=staff["somu_staff"],
        messages=[
            {
                "kind": "text",
                "text": "【みどり町夏まつり】8月第1土曜日、中央公園で開催します。花火は20時から！",
            },
            {"kind": "image", "image_url": "https://www.town.midori.example.jp/matsuri/poster.jpg"},
        ],
    )
    if festival:
        broadcast_submit(broadcast=festival, actor=staff["somu_staff"])
    _create(
        department=kenko,
        title="インフルエンザ予防接種の助成",
        category=interests["kenko"],
        age_bands=["60s", "70p"],
        author=staff["kenko_staff"],
        messages=[
            {
                "kind": "text",
                "text": "【健康福祉課】65歳以上の方のインフルエンザ予防接種に助成があります。（下書き）",
            }
        ],
    )
    # The block rate so far (the hourly task keeps it up to date for 24 hours).
    for broadcast_id in Broadcast.objects.filter(
        department__municipality=municipality, status=BroadcastStatus.SENT, unfollow_count__isnull=True
    ).values_list("pk", flat=True):
        broadcast_unfollows_count(broadcast_id=broadcast_id)
