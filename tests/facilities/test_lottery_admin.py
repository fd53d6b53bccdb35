"""The lottery's staff pages: marking frames, the result page, 公開 and 抽選実行, and their scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import facilities.admin_lottery  # noqa: F401 - registers the lottery's admin (also imported by facilities.admin)
from facilities.models import LotteryApplication, LotteryRound, LotteryRoundStatus
from facilities.services import GroupDetails
from facilities.services.lottery import lottery_apply, lottery_frames_mark, lottery_round_open
from municipalities.services import resident_follow
from tests.facilities.factories import facility_world
from tests.facilities.test_models import make_round

BACKEND = "municipalities.auth.RoleBackend"
SAT, SUN = 5, 6


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def round_(world) -> LotteryRound:
    return make_round(world.facility, max_applications_per_group=3)


def test_staff_mark_weekend_evenings_from_the_page(world, kenko_editor, round_):
    # when
    response = client_for(kenko_editor).post(
        reverse("admin:facilities_lotteryround_frames", args=[round_.pk]),
        {"room": world.arena.pk, "frames": [world.evening.pk], "weekdays": [str(SAT), str(SUN)]},
    )
    # then
    assert response.status_code == 200
    frames = list(round_.frames.all())
    assert frames and {f.use_date.weekday() for f in frames} == {SAT, SUN}
    assert "枠を抽選の対象にしました" in response.content.decode()


def test_the_form_asks_for_a_weekday(world, kenko_editor, round_):
    response = client_for(kenko_editor).post(
        reverse("admin:facilities_lotteryround_frames", args=[round_.pk]),
        {"room": world.arena.pk, "frames": [world.evening.pk]},
    )
    assert "曜日を選ぶか、祝日を対象にしてください。" in response.content.decode()
    assert not round_.frames.exists()


def _applied_round(world, kenko_editor, round_, town, n: int = 3) -> LotteryRound:
    lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
    )
    lottery_round_open(round=round_, actor=kenko_editor)
    frame = round_.frames.order_by("use_date").first()
    for i in range(n):
        resident, _ = resident_follow(
            municipality=town, line_user_id=f"U{i + 500:032x}", display_name=f"住民{i}"
        )
        lottery_apply(
            lottery_frame=frame,
            group=GroupDetails(group_name=f"チーム{i}", representative=f"代表{i}", purpose="練習"),
            resident=resident,
        )
    return round_


def test_draw_from_the_result_page_and_see_who_won(world, town, kenko_editor, round_):
    # given: a round whose window has closed
    _applied_round(world, kenko_editor, round_, town)
    LotteryRound.objects.filter(pk=round_.pk).update(
        applications_open_at=timezone.now() - dt.timedelta(days=2),
        applications_close_at=timezone.now() - dt.timedelta(minutes=1),
    )
    client = client_for(kenko_editor)
    # when
    response = client.post(reverse("admin:facilities_lotteryround_step", args=[round_.pk, "draw"]))
    # then
    assert response.status_code == 302
    round_.refresh_from_db()
    assert round_.status == LotteryRoundStatus.DRAWN and round_.drawn_by == kenko_editor
    page = client.get(reverse("admin:facilities_lotteryround_result", args=[round_.pk])).content.decode()
    won = LotteryApplication.objects.get(round=round_, status="won")
    assert round_.seed in page
    assert won.booking.code in page and "未払い" in page
    assert "記録された種と申込から同じ結果になります" in page
    # a second press is refused with the reason, nothing changes
    response = client.post(
        reverse("admin:facilities_lotteryround_step", args=[round_.pk, "draw"]), follow=True
    )
    assert "実施済みです" in response.content.decode()


def test_staff_cannot_draw_before_the_close(world, town, kenko_editor, round_):
    _applied_round(world, kenko_editor, round_, town)
    response = client_for(kenko_editor).post(
        reverse("admin:facilities_lotteryround_step", args=[round_.pk, "draw"]), follow=True
    )
    assert "抽選は申込締切" in response.content.decode()
    round_.refresh_from_db()
    assert round_.status == LotteryRoundStatus.OPEN


def test_the_draw_action_in_the_list(world, town, kenko_editor, round_):
    _applied_round(world, kenko_editor, round_, town)
    LotteryRound.objects.filter(pk=round_.pk).update(
        applications_open_at=timezone.now() - dt.timedelta(days=2),
        applications_close_at=timezone.now() - dt.timedelta(minutes=1),
    )
    response = client_for(kenko_editor).post(
        reverse("admin:facilities_lotteryround_changelist"),
        {"action": "draw_action", "_selected_action": [round_.pk], "index": "0"},
        follow=True,
    )
    assert "1 件の抽選を実行しました" in response.content.decode()


def test_a_viewer_sees_the_result_but_cannot_draw(world, town, kenko_editor, kenko_viewer, round_):
    _applied_round(world, kenko_editor, round_, town)
    client = client_for(kenko_viewer)
    page = client.get(reverse("admin:facilities_lotteryround_result", args=[round_.pk]))
    assert page.status_code == 200 and "チーム0" in page.content.decode()
    assert "抽選実行" not in page.content.decode()
    response = client.post(reverse("admin:facilities_lotteryround_step", args=[round_.pk, "draw"]))
    assert response.status_code == 403
    assert client.get(reverse("admin:facilities_lotteryround_frames", args=[round_.pk])).status_code == 403


def test_another_departments_round_is_not_found(world, somu, somu_editor):
    theirs = make_round(facility_world(somu, name="公民館").facility)
    ours_client = client_for(somu_editor)
    assert (
        ours_client.get(reverse("admin:facilities_lotteryround_result", args=[theirs.pk])).status_code == 200
    )
    mine = make_round(world.facility)
    assert ours_client.get(reverse("admin:facilities_lotteryround_result", args=[mine.pk])).status_code == 404


def test_the_result_page_queries_do_not_grow_with_applications(world, town, kenko_editor, round_):
    _applied_round(world, kenko_editor, round_, town, n=2)
    client = client_for(kenko_editor)
    url = reverse("admin:facilities_lotteryround_result", args=[round_.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    frame = round_.frames.order_by("use_date").first()
    for i in range(5):
        lottery_apply(
            lottery_frame=frame,
            group=GroupDetails(group_name=f"追加{i}", representative="代表", purpose="練習"),
            actor=kenko_editor,
        )
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


@pytest.mark.parametrize("model", ["lotteryround", "lotteryframe", "lotteryapplication"])
def test_changelists_open_with_constant_queries(world, town, kenko_editor, round_, model):
    _applied_round(world, kenko_editor, round_, town, n=2)
    client = client_for(kenko_editor)
    url = reverse(f"admin:facilities_{model}_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _applied_round(
        world,
        kenko_editor,
        make_round(world.facility, month=round_.month.replace(year=round_.month.year + 1)),
        town,
        n=4,
    )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_staff_enter_a_callers_application_at_the_counter(world, kenko_editor, round_):
    # given: an open round
    lottery_frames_mark(
        round=round_, room=world.arena, frames=[world.evening], weekdays=[SAT], actor=kenko_editor
    )
    lottery_round_open(round=round_, actor=kenko_editor)
    frame = round_.frames.order_by("use_date").first()
    client = client_for(kenko_editor)
    url = reverse("admin:facilities_lotteryround_apply", args=[round_.pk])
    data = {
        "lottery_frame": frame.pk,
        "group_name": "",
        "representative": "鈴木 一郎",
        "phone": "0263-12-3456",
        "headcount": "8",
        "purpose": "卓球",
        "is_resident_rate": "on",
    }
    # when
    response = client.post(url, data)
    # then
    assert response.status_code == 302
    application = LotteryApplication.objects.get(round=round_)
    assert (application.group_name, application.phone, application.entered_by) == (
        "鈴木 一郎",
        "0263123456",
        kenko_editor,
    )
    # the same caller again: the reason on the page, the input kept
    page = client.post(url, data).content.decode()
    assert "この団体はこの枠にすでに申し込んでいます。" in page
    assert "鈴木 一郎" in page
