"""The re-linking job (再紐付け) as a row with its progress: done / total as it goes, one active
job per town (a new request restarts it), resumable at its cursor after a failure or a lost step,
and idempotent (a step run twice, or a resumed job, links nobody twice)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from municipalities.line.errors import LineRetryableError
from municipalities.models import AuditEntry, Resident
from richmenus.errors import RichMenuError
from richmenus.models import ResidentRichMenu, RichMenu, RichMenuLinkJob
from richmenus.services import (
    links,
    menus,
    richmenu_line_sync,
    richmenu_link_job_failed,
    richmenu_link_job_resume,
    richmenu_link_job_start,
    richmenu_link_job_step,
    richmenu_link_jobs_resume_stalled,
)
from tests.richmenus.factories import make_menu

pytestmark = pytest.mark.django_db
Status = RichMenuLinkJob.Status


def _resident(town, n: int, **fields) -> Resident:
    return Resident.objects.create(municipality=town, line_user_id=f"U{n:032x}", is_following=True, **fields)


@pytest.fixture
def elderly(town, line_api, monkeypatch):
    """A published default menu and a published 70+ menu whose re-linking has not run yet."""
    richmenu_line_sync(menu_id=make_menu(town, name="既定", is_default=True).pk)
    menu = make_menu(town, name="高齢", target_age_bands=["70p"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(menus, "enqueue_on_commit", lambda *args, **kwargs: None)
        richmenu_line_sync(menu_id=menu.pk)
    menu.refresh_from_db()
    line_api.reset()
    return menu


def _steps(monkeypatch) -> list[tuple]:
    """Record the steps the services enqueue instead of running them (a worker runs them)."""
    queued: list[tuple] = []
    monkeypatch.setattr(links, "enqueue_on_commit", lambda name, *args, **kw: queued.append(args))
    return queued


def test_publish_runs_a_job_with_its_progress(town, line_api, django_capture_on_commit_callbacks):
    richmenu_line_sync(menu_id=make_menu(town, name="既定", is_default=True).pk)
    menu = make_menu(town, name="高齢", target_age_bands=["70p"])
    residents = [_resident(town, n, age_band="70p" if n % 2 else "40s") for n in range(1, 1202)]
    with django_capture_on_commit_callbacks(execute=True):
        richmenu_line_sync(menu_id=menu.pk)
    job = RichMenuLinkJob.objects.get(municipality=town)
    assert job.status == Status.DONE and job.finished_at is not None
    assert (job.done, job.total, job.percent) == (1201, 1201, 100)
    assert job.changed == 601 and job.calls == 3  # one bulk link per step of 500 residents
    assert "高齢" in job.reason
    menu.refresh_from_db()
    assert {line_api.richmenus.menu_of(r.line_user_id) for r in residents[::2]} == {menu.line_rich_menu_id}
    assert AuditEntry.objects.filter(action="richmenus.link_job.done").count() == 1


def test_progress_moves_step_by_step_and_a_duplicated_step_does_nothing(town, elderly, line_api, monkeypatch):
    queued = _steps(monkeypatch)
    residents = [_resident(town, n, age_band="70p") for n in range(1, 1201)]
    job = richmenu_link_job_start(municipality=town, reason="テスト")
    assert (job.status, job.done, job.total) == (Status.QUEUED, 0, 1200)
    assert queued == [(job.pk, 1, 0)]
    first = richmenu_link_job_step(job_id=job.pk, generation=1, after=0)
    job.refresh_from_db()
    assert (job.status, job.done, job.after) == (Status.RUNNING, 500, first)
    # the same step delivered again (a worker killed after its commit): nothing sent, nothing moved
    calls = len(line_api.requests_to("richmenu_bulk_link"))
    assert richmenu_link_job_step(job_id=job.pk, generation=1, after=0) is None
    assert len(line_api.requests_to("richmenu_bulk_link")) == calls
    job.refresh_from_db()
    assert job.done == 500
    after = first
    while after is not None:
        after = richmenu_link_job_step(job_id=job.pk, generation=1, after=after)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (Status.DONE, 1200, 1200)
    assert set(line_api.richmenus.state.link_calls.values()) == {1}
    assert {line_api.richmenus.menu_of(r.line_user_id) for r in residents} == {elderly.line_rich_menu_id}


def test_a_new_request_restarts_the_active_job(town, elderly, monkeypatch):
    queued = _steps(monkeypatch)
    [_resident(town, n, age_band="70p") for n in range(1, 801)]
    job = richmenu_link_job_start(municipality=town, reason="一回目")
    richmenu_link_job_step(job_id=job.pk, generation=1, after=0)
    again = richmenu_link_job_start(municipality=town, reason="二回目")
    assert again.pk == job.pk and RichMenuLinkJob.objects.count() == 1
    assert (again.generation, again.after, again.done, again.reason) == (2, 0, 0, "二回目")
    assert queued[-1] == (job.pk, 2, 0)
    # the old run's next step is stale: it stops
    assert richmenu_link_job_step(job_id=job.pk, generation=1, after=queued[1][2]) is None


def test_a_failed_job_resumes_at_its_cursor_without_linking_twice(town, elderly, line_api, monkeypatch):
    queued = _steps(monkeypatch)
    residents = [_resident(town, n, age_band="70p") for n in range(1, 1101)]
    job = richmenu_link_job_start(municipality=town, reason="テスト")
    cursor = richmenu_link_job_step(job_id=job.pk, generation=1, after=0)
    # LINE keeps failing the second step until the task gives up
    line_api.fail("richmenu_bulk_link", 500)
    with pytest.raises(LineRetryableError):
        richmenu_link_job_step(job_id=job.pk, generation=1, after=cursor)
    richmenu_link_job_failed(job_id=job.pk, error="LineRetryableError: 500")
    job.refresh_from_db()
    assert (job.status, job.done, job.after) == (Status.FAILED, 500, cursor)
    # staff resume it: it goes on from its cursor
    job = richmenu_link_job_resume(job=job, actor=None)
    assert job.status == Status.QUEUED and queued[-1] == (job.pk, 1, cursor)
    after = cursor
    while after is not None:
        after = richmenu_link_job_step(job_id=job.pk, generation=1, after=after)
    job.refresh_from_db()
    assert (job.status, job.done) == (Status.DONE, 1100)
    assert ResidentRichMenu.objects.filter(menu=elderly).count() == 1100
    linked_ok = [r for r in line_api.requests_to("richmenu_bulk_link") if r.status == 202]
    assert sorted(uid for r in linked_ok for uid in r.body["userIds"]) == sorted(
        r.line_user_id for r in residents
    )
    with pytest.raises(RichMenuError):
        richmenu_link_job_resume(job=job, actor=None)


def test_the_sweep_resumes_a_job_whose_step_was_lost(town, elderly, monkeypatch):
    queued = _steps(monkeypatch)
    [_resident(town, n, age_band="70p") for n in range(1, 601)]
    job = richmenu_link_job_start(municipality=town, reason="テスト")
    cursor = richmenu_link_job_step(job_id=job.pk, generation=1, after=0)
    queued.clear()  # the next step never reached the broker
    assert richmenu_link_jobs_resume_stalled() == 0  # not stalled yet
    RichMenuLinkJob.objects.filter(pk=job.pk).update(updated_at=job.updated_at - links.STALLED_AFTER * 2)
    assert richmenu_link_jobs_resume_stalled() == 1
    assert queued == [(job.pk, 1, cursor)]


def test_admin_shows_the_progress_bar_and_resumes(town, elderly, town_admin, kenko_editor, monkeypatch):
    queued = _steps(monkeypatch)
    [_resident(town, n, age_band="70p") for n in range(1, 701)]
    job = richmenu_link_job_start(municipality=town, reason="テスト")
    richmenu_link_job_step(job_id=job.pk, generation=1, after=0)
    richmenu_link_job_failed(job_id=job.pk, error="LineRetryableError: 500")
    client = Client()
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    page = client.get(reverse("admin:richmenus_richmenulinkjob_changelist"))
    html = page.content.decode()
    assert '<progress class="rm-link-progress" max="700" value="500">' in html
    assert "500 / 700（71%）" in html
    assert 'class="rm-link-resume"' in html
    confirm = client.get(reverse("admin:richmenus_richmenulinkjob_resume", args=[job.pk]))
    assert confirm.status_code == 200 and "500 / 700" in confirm.content.decode()
    response = client.post(reverse("admin:richmenus_richmenulinkjob_resume", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.QUEUED and queued[-1] == (job.pk, 1, job.after)
    # an editor sees the progress but has no resume action
    editor = Client()
    editor.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")
    page = editor.get(reverse("admin:richmenus_richmenulinkjob_changelist"))
    assert page.status_code == 200 and "500 / 700" in page.content.decode()
    assert 'class="rm-link-resume"' not in page.content.decode()
    assert editor.post(reverse("admin:richmenus_richmenulinkjob_resume", args=[job.pk])).status_code == 403
    with pytest.raises(RichMenuError):
        richmenu_link_job_resume(job=job, actor=kenko_editor)
    assert RichMenu.objects.filter(pk=elderly.pk).exists()
