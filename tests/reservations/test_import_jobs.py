"""Slot import jobs after a lost worker: resumed by the sweep, or ended in エラー with 「やり直す」."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from municipalities.claims import claim
from municipalities.models import AuditEntry
from reservations.models import ImportStatus, Slot, SlotImportJob
from reservations.services import (
    ReservationError,
    slot_import_job_create,
    slot_import_job_retry,
    slot_import_job_run,
    slot_import_jobs_recover,
)
from reservations.services import slots as slots_module
from reservations.tasks import slot_import_job_apply_task
from tests.reservations.factories import MenuFactory

DATA = Path(__file__).parent / "data"
BACKEND = "municipalities.auth.RoleBackend"


@pytest.fixture
def job(kenko, kenko_editor) -> SlotImportJob:
    """A stored file of the 健康福祉課 (its check not yet run)."""
    MenuFactory(department=kenko, name="乳幼児歯科健診")
    upload = SimpleUploadedFile("slots.csv", (DATA / "slots_forms_utf8.csv").read_bytes())
    return slot_import_job_create(
        department=kenko, upload=upload, actor=kenko_editor, run_in_background=False
    )


@pytest.fixture
def checked_job(job) -> SlotImportJob:
    job = slot_import_job_run(job=job, commit=False)
    assert job.status == ImportStatus.CHECKED and job.created_count > 0
    return job


def _dead_claim(job: SlotImportJob, working: str, minutes_ago: int = 5) -> None:
    """A worker claimed the job and was killed: its last heartbeat is ``minutes_ago`` old."""
    assert claim(
        SlotImportJob.objects.filter(pk=job.pk),
        now=timezone.now() - dt.timedelta(minutes=minutes_ago),
        status=working,
    )


def test_a_check_whose_worker_died_is_checked_again(job, django_capture_on_commit_callbacks):
    # given
    _dead_claim(job, ImportStatus.CHECKING)
    # when: the beat sweep runs (and the check it enqueues runs on commit)
    with django_capture_on_commit_callbacks(execute=True):
        recovered = slot_import_jobs_recover()
    # then
    job.refresh_from_db()
    assert recovered == {"failed": [], "checks": [job.pk], "imports": []}
    assert job.status == ImportStatus.CHECKED and job.created_count == job.total_rows > 0
    assert (job.claimed_by, job.claim_count) == ("", 2)


def test_an_import_whose_worker_died_goes_back_to_checked_and_is_imported_once(
    checked_job, django_capture_on_commit_callbacks
):
    # given: the import's transaction rolled back with the worker; the job says 取込中
    expected = checked_job.created_count
    _dead_claim(checked_job, ImportStatus.IMPORTING)
    SlotImportJob.objects.filter(pk=checked_job.pk).update(processed_rows=3)
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recovered = slot_import_jobs_recover()
    # then: 確認済 again with the check's figures, nothing counted as created yet
    checked_job.refresh_from_db()
    assert recovered["imports"] == [checked_job.pk] and len(callbacks) == 1
    assert checked_job.status == ImportStatus.CHECKED
    assert checked_job.processed_rows == checked_job.total_rows and Slot.objects.count() == 0
    # and when: the import it enqueued runs
    callbacks[0]()
    checked_job.refresh_from_db()
    assert checked_job.status == ImportStatus.DONE and Slot.objects.count() == expected


def test_a_job_whose_check_task_was_lost_is_enqueued_again(job, django_capture_on_commit_callbacks, settings):
    # given: 待機中 for ten minutes, never claimed (the broker lost its message)
    settings.CLAIM_STALE_AFTER_SECONDS = 60
    SlotImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=10))
    # when: two sweeps within one stale period (60 s), before a worker takes the task
    with django_capture_on_commit_callbacks(execute=False) as sent:
        recovered = slot_import_jobs_recover()
    again = slot_import_jobs_recover(now=timezone.now() + dt.timedelta(seconds=30))
    # then: sent again once, not at every sweep; the task checks it
    assert recovered["checks"] == [job.pk] and again["checks"] == [] and len(sent) == 1
    sent[0]()
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED and job.claim_count == 1


def test_a_live_claim_is_left_alone(job):
    # given: claimed just now (the worker is alive)
    _dead_claim(job, ImportStatus.CHECKING, minutes_ago=0)
    # when
    recovered = slot_import_jobs_recover()
    # then
    job.refresh_from_db()
    assert recovered == {"failed": [], "checks": [], "imports": []} and job.status == ImportStatus.CHECKING


def test_a_job_that_keeps_losing_its_worker_ends_in_error_with_a_message(checked_job):
    # given: the fifth claim, dead too
    SlotImportJob.objects.filter(pk=checked_job.pk).update(claim_count=4)
    _dead_claim(checked_job, ImportStatus.IMPORTING)
    # when
    recovered = slot_import_jobs_recover()
    # then: エラー, nothing shown as created, audited
    checked_job.refresh_from_db()
    assert recovered["failed"] == [checked_job.pk]
    assert (checked_job.status, checked_job.created_count, checked_job.finished_at is not None) == (
        ImportStatus.FAILED,
        0,
        True,
    )
    assert checked_job.errors == [
        {
            "row": 0,
            "message": "取込の処理が繰り返し中断されたため、止めました。何も取り込んでいません。"
            "「やり直す」で最初から確認し直せます。",
        }
    ]
    assert AuditEntry.objects.filter(action="reservations.slotimportjob.interrupted").count() == 1


def test_a_task_delivered_again_takes_over_a_dead_claim(checked_job):
    # given
    _dead_claim(checked_job, ImportStatus.IMPORTING)
    # when: the broker delivers the import task again
    status = slot_import_job_apply_task(checked_job.pk)
    # then
    assert status == ImportStatus.DONE and Slot.objects.count() == checked_job.created_count


def test_the_result_commits_with_the_slots_or_not_at_all(checked_job, monkeypatch):
    # given: the import's transaction fails after the slots and the job's result were written
    def fail(**kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(slots_module, "audit_log", fail)
    # when
    with pytest.raises(RuntimeError):
        slot_import_job_run(job=checked_job, commit=True)
    # then: no slots, and the job does not claim any were created
    checked_job.refresh_from_db()
    assert Slot.objects.count() == 0
    assert checked_job.status == ImportStatus.IMPORTING and checked_job.finished_at is None


def test_retry_starts_a_failed_job_from_the_check(job, kenko_editor, django_capture_on_commit_callbacks):
    # given: the check failed (the menu did not exist); staff add it, then press 「やり直す」
    SlotImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, errors=[{"row": 2, "message": "x"}], claim_count=5
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        retried = slot_import_job_retry(job=job, actor=kenko_editor)
    # then: checked again by the task it enqueued, and audited
    job.refresh_from_db()
    assert retried.pk == job.pk and job.status == ImportStatus.CHECKED and job.errors == []
    entry = AuditEntry.objects.get(action="reservations.slotimportjob.retried")
    assert entry.actor == kenko_editor


def test_retry_is_refused_for_a_job_not_in_error_or_outside_the_department(job, somu_editor):
    # given: a job that is 待機中
    # when / then
    with pytest.raises(ReservationError) as not_failed:
        slot_import_job_retry(job=job, actor=None)
    assert not_failed.value.message == "やり直せるのはエラーで終わった取込だけです（現在: 待機中）。"
    SlotImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED)
    with pytest.raises(ReservationError) as elsewhere:
        slot_import_job_retry(job=job, actor=somu_editor)
    assert elsewhere.value.message == "この課の枠を取り込む権限がありません。"


def test_the_job_page_offers_retry_for_a_failed_job(job, kenko_editor, django_capture_on_commit_callbacks):
    # given
    SlotImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED,
        errors=[{"row": 0, "message": "取込の処理が繰り返し中断されたため、止めました。"}],
    )
    client = Client()
    client.force_login(kenko_editor, backend=BACKEND)
    url = reverse("admin:reservations_slot_upload_job", args=[job.pk])
    # when
    page = client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {"retry": "やり直す"})
    # then: the button is there, and pressing it checks the file again (eager here)
    assert 'value="やり直す"' in page and "繰り返し中断" in page
    job.refresh_from_db()
    assert answer.status_code == 302 and job.status == ImportStatus.CHECKED
