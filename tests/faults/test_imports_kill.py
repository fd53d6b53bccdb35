"""kill -9 while a 20,000-row slot import is checked (確認中) or imported (取込中).

The job is taken up again once its worker stops heartbeating, and never shows slots that a
rolled-back transaction did not create. The test pins the kill inside each phase with a
PostgreSQL table lock of its own: ACCESS EXCLUSIVE stops the check at its read of the existing
slots, SHARE stops the import at its COPY, inside the import's transaction. The beat's minute
tick (``slot_import_jobs_recover_task``) is sent by hand once the claim is stale
(``CLAIM_STALE_AFTER_SECONDS`` is 3 s for the workers here).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from reservations.models import ImportStatus, Slot, SlotImportJob
from reservations.services import slot_import_job_create
from tests.processes import _admin_dsn, process_env, send_task, wait_until
from tests.reservations.factories import MenuFactory

pytestmark = pytest.mark.django_db(transaction=True)
logger = logging.getLogger(__name__)
STALE_SECONDS = 3
ROWS = 20_000


def _slot_file() -> bytes:
    """20,000 distinct slots of one menu: 200 days × 100 five-minute slots."""
    out = io.StringIO()
    out.write("サービス,会場,日付,開始,終了,定員\n")
    first = timezone.localdate() + dt.timedelta(days=2)
    for day in range(ROWS // 100):
        date = first + dt.timedelta(days=day)
        for n in range(100):
            start = dt.datetime.combine(date, dt.time(8, 0)) + dt.timedelta(minutes=5 * n)
            end = start + dt.timedelta(minutes=5)
            out.write(f"乳幼児健診,保健センター,{date:%Y/%m/%d},{start:%H:%M},{end:%H:%M},3\n")
    return out.getvalue().encode()


@contextlib.contextmanager
def table_locked(mode: str) -> Iterator[psycopg.Connection]:
    """Hold ``LOCK TABLE reservations_slot IN <mode> MODE`` until the block ends."""
    with psycopg.connect(_admin_dsn()) as conn:
        conn.execute(f"LOCK TABLE reservations_slot IN {mode} MODE")
        try:
            yield conn
        finally:
            conn.rollback()


def _waiting_on_the_lock(conn: psycopg.Connection) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = 'reservations_slot' AND NOT l.granted"
        ).fetchone()[0]
    )


def _job(pk: int) -> SlotImportJob:
    return SlotImportJob.objects.get(pk=pk)


def test_a_job_killed_while_checking_and_while_importing_is_taken_up_and_imported_once(
    town, kenko, kenko_editor, redis_server, celery_workers
):
    # given: a 20,000-row file for the 健康福祉課, stored as a job
    MenuFactory(department=kenko, name="乳幼児健診")
    upload = SimpleUploadedFile("big.csv", _slot_file())
    job = slot_import_job_create(department=kenko, upload=upload, actor=kenko_editor, run_in_background=False)
    env = process_env(redis_server, CLAIM_STALE_AFTER_SECONDS=str(STALE_SECONDS))

    # when: the worker is killed while checking (確認中)
    worker = celery_workers.start(env)
    with table_locked("ACCESS EXCLUSIVE") as lock:
        send_task(redis_server, "reservations.tasks.slot_import_job_check_task", [job.pk])
        wait_until(lambda: _waiting_on_the_lock(lock), timeout=60)
        assert _job(job.pk).status == ImportStatus.CHECKING
        worker.kill()
    killed_at = time.monotonic()
    # then: after the claim is stale, the minute's sweep checks it again, on a new worker
    worker = celery_workers.start(env)
    time.sleep(STALE_SECONDS + 0.5)
    send_task(redis_server, "reservations.tasks.slot_import_jobs_recover_task")
    wait_until(lambda: _job(job.pk).status == ImportStatus.CHECKED, timeout=90)
    check_recovered_in = time.monotonic() - killed_at
    checked = _job(job.pk)
    assert (checked.created_count, checked.total_rows, checked.errors) == (ROWS, ROWS, [])

    # when: the worker is killed inside the import's transaction (取込中, COPY waiting)
    with table_locked("SHARE") as lock:
        send_task(redis_server, "reservations.tasks.slot_import_job_apply_task", [job.pk])
        wait_until(lambda: _waiting_on_the_lock(lock), timeout=90)
        assert _job(job.pk).status == ImportStatus.IMPORTING
        worker.kill()
    killed_at = time.monotonic()
    # then: nothing was written, and the job shows no slot as created
    wait_until(lambda: not _waiting_on_the_lock_now(), timeout=30)
    assert Slot.objects.count() == 0
    assert _job(job.pk).status == ImportStatus.IMPORTING and _job(job.pk).finished_at is None
    # and: the sweep puts it back to 確認済 and imports it again, once
    worker = celery_workers.start(env)
    time.sleep(STALE_SECONDS + 0.5)
    send_task(redis_server, "reservations.tasks.slot_import_jobs_recover_task")
    wait_until(lambda: _job(job.pk).status == ImportStatus.DONE, timeout=120)
    import_recovered_in = time.monotonic() - killed_at
    done = _job(job.pk)
    assert (done.created_count, done.claimed_by, Slot.objects.count()) == (ROWS, "", ROWS)
    worker.assert_alive()
    logger.warning(
        "import job recovered: check %.1f s, import %.1f s after the kill (stale after %s s)",
        check_recovered_in,
        import_recovered_in,
        STALE_SECONDS,
    )


def _waiting_on_the_lock_now() -> bool:
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        return _waiting_on_the_lock(conn)
