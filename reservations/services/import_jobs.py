"""Slot files too large for one request: a job row that Celery checks and imports, with progress.

A worker claims the job (待機中 → 確認中, 確認済 → 取込中) through ``municipalities.claims``
and heartbeats while it works. The import writes the job's result in the same transaction as
the slots, so a job never shows slots that a rolled-back transaction did not create. A worker
killed half way stops heartbeating; ``slot_import_jobs_recover`` (beat, every minute) then
takes the job up again: a check from the start (it writes nothing), an import from the checked
file (its transaction rolled back with the worker). A job whose workers died IMPORT_MAX_CLAIMS
times ends in エラー, and staff start it again with 「やり直す」 (``slot_import_job_retry``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.audit import audit_log
from municipalities.claims import (
    Heartbeat,
    claim,
    claims_reoffer_stale,
    release_fields,
    stale_after,
    stale_q,
    worker_identity,
)
from municipalities.models import Department, StaffUser
from municipalities.tasks_queue import enqueue_on_commit

from ..errors import ReservationError
from ..models import ImportStatus, SlotImportJob
from .slots import ImportOutcome, _require_import, slots_import

# The check and the import are one claim each; three more are resumes after a lost worker.
IMPORT_MAX_CLAIMS = 5
_CHECK_TASK = "reservations.tasks.slot_import_job_check_task"
_APPLY_TASK = "reservations.tasks.slot_import_job_apply_task"


@transaction.atomic(durable=True)
def slot_import_job_create(
    *, department: Department, upload, actor: StaffUser, run_in_background: bool = True
) -> SlotImportJob:
    """Store an uploaded file as a job; with ``run_in_background`` the check runs in Celery (on commit)."""
    _require_import(actor, department)
    job = SlotImportJob(
        department=department, file=upload, file_name=getattr(upload, "name", "slots"), created_by=actor
    )
    job.save()
    audit_log(actor=actor, action="reservations.slotimportjob.created", obj=job, data={"file": job.file_name})
    if run_in_background:
        enqueue_on_commit(_CHECK_TASK, job.pk)
    return job


def _job_progress(job_id: int, worker: str) -> Callable[[int], None]:
    """Progress is also a heartbeat; a worker whose claim was taken over writes nothing."""

    def report(done: int) -> None:
        SlotImportJob.objects.filter(pk=job_id, claimed_by=worker).update(
            processed_rows=done, heartbeat_at=timezone.now()
        )

    return report


def _job_result(outcome: ImportOutcome, status: str) -> dict[str, object]:
    return {
        "status": status,
        "total_rows": outcome.total,
        "processed_rows": outcome.total,
        "created_count": outcome.created,
        "unchanged_count": outcome.unchanged,
        "errors": outcome.errors[:500],
        "preview": outcome.preview,
        "finished_at": timezone.now() if status != ImportStatus.CHECKED else None,
        **release_fields(),
    }


def slot_import_job_run(*, job: SlotImportJob, commit: bool, actor: StaffUser | None = None) -> SlotImportJob:
    """Check (``commit=False``) or import (``commit=True``) a stored file, writing progress to the job.

    Claims the job with a conditional UPDATE, so a task delivered twice runs once; a job whose
    worker stopped heartbeating (``claims.stale_after()``) is taken over. ``actor`` is the
    staff member who asked (checked, then audited, as importer in the *job's* department;
    raises ReservationError before claiming); ``None`` is the Celery path, which imports as the
    job's uploader. The import records 完了 and its counts in the transaction of its slots.
    """
    current = SlotImportJob.objects.select_related("department", "created_by").get(pk=job.pk)
    importer = actor or current.created_by
    if importer is not None:
        _require_import(importer, current.department)
    from_status, working = (
        (ImportStatus.CHECKED, ImportStatus.IMPORTING)
        if commit
        else (ImportStatus.QUEUED, ImportStatus.CHECKING)
    )
    now = timezone.now()
    taken_over = Q(status=working, claim_count__lt=IMPORT_MAX_CLAIMS) & stale_q(now=now)
    if not claim(
        SlotImportJob.objects.filter(Q(status=from_status) | taken_over, pk=job.pk),
        now=now,
        status=working,
        processed_rows=0,
    ):
        return SlotImportJob.objects.get(pk=job.pk)
    worker = worker_identity()
    mine = SlotImportJob.objects.filter(pk=job.pk, claimed_by=worker)
    with current.file.open("rb") as fh:
        data = fh.read()
    with Heartbeat(mine):
        outcome = slots_import(
            department=current.department,
            data=data,
            file_name=current.file_name,
            actor=importer,
            dry_run=not commit,
            progress=_job_progress(job.pk, worker),
            record=lambda result: SlotImportJob.objects.filter(pk=job.pk).update(
                **_job_result(result, ImportStatus.DONE)
            ),
        )
    if outcome.errors:
        mine.update(**_job_result(outcome, ImportStatus.FAILED))
    elif not commit:
        mine.update(**_job_result(outcome, ImportStatus.CHECKED))
    return SlotImportJob.objects.get(pk=job.pk)


def _interrupted(phase: str) -> list[dict[str, object]]:
    return [
        {
            "row": 0,
            "message": _(
                "%(phase)sの処理が繰り返し中断されたため、止めました。何も取り込んでいません。"
                "「やり直す」で最初から確認し直せます。"
            )
            % {"phase": phase},
        }
    ]


@transaction.atomic(durable=True)
def slot_import_jobs_recover(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Take up the jobs whose worker died (beat, every minute); returns the ids by what happened.

    A check without a heartbeat for ``claims.stale_after()`` goes back to 待機中 and is checked
    again; an import goes back to 確認済 with the checked counts and is imported again (its
    transaction rolled back, so nothing of it was written). A job already claimed
    IMPORT_MAX_CLAIMS times ends in エラー with a message, for 「やり直す」. A job 待機中 for
    that long whose check task never started (the message lost with a Redis that restarted
    empty) is enqueued again. Enqueues on commit.
    """
    now = now or timezone.now()
    jobs = SlotImportJob.objects
    failed = claims_reoffer_stale(
        jobs.filter(status=ImportStatus.CHECKING, claim_count__gte=IMPORT_MAX_CLAIMS),
        now=now,
        status=ImportStatus.FAILED,
        errors=_interrupted(_("確認")),
        processed_rows=0,
        created_count=0,
        unchanged_count=0,
        finished_at=now,
    ) + claims_reoffer_stale(
        jobs.filter(status=ImportStatus.IMPORTING, claim_count__gte=IMPORT_MAX_CLAIMS),
        now=now,
        status=ImportStatus.FAILED,
        errors=_interrupted(_("取込")),
        processed_rows=0,
        created_count=0,
        unchanged_count=0,
        finished_at=now,
    )
    checks = claims_reoffer_stale(
        jobs.filter(status=ImportStatus.CHECKING),
        now=now,
        status=ImportStatus.QUEUED,
        processed_rows=0,
    )
    imports = claims_reoffer_stale(
        jobs.filter(status=ImportStatus.IMPORTING), now=now, status=ImportStatus.CHECKED
    )
    # The checked figures are the check's again: the import that was counting rows is gone.
    jobs.filter(pk__in=imports).update(processed_rows=F("total_rows"))
    waiting = jobs.filter(status=ImportStatus.QUEUED, claimed_by="", updated_at__lt=now - stale_after())
    lost = list(waiting.exclude(pk__in=checks).values_list("pk", flat=True)[:100])
    jobs.filter(pk__in=lost).update(updated_at=now)  # sent again once per stale period, not every minute
    checks += lost
    for stopped in jobs.filter(pk__in=failed).select_related("department"):
        audit_log(
            actor=None,
            action="reservations.slotimportjob.interrupted",
            obj=stopped,
            data={"file": stopped.file_name, "claims": stopped.claim_count},
        )
    for job_id in checks:
        enqueue_on_commit(_CHECK_TASK, job_id)
    for job_id in imports:
        enqueue_on_commit(_APPLY_TASK, job_id)
    return {"failed": failed, "checks": checks, "imports": imports}


@transaction.atomic(durable=True)
def slot_import_job_retry(*, job: SlotImportJob, actor: StaffUser | None = None) -> SlotImportJob:
    """「やり直す」: start a job that ended in エラー again from the check (the file may be fine now
    that a menu was added, or the job was interrupted); enqueues the check on commit.

    Refused (ReservationError) for a job that is not in エラー, or by an ``actor`` without the
    right to import into the job's department. Audited.
    """
    current = SlotImportJob.objects.select_for_update().select_related("department").get(pk=job.pk)
    _require_import(actor, current.department)
    if current.status != ImportStatus.FAILED:
        raise ReservationError(
            _("やり直せるのはエラーで終わった取込だけです（現在: %(status)s）。")
            % {"status": current.get_status_display()},
            code="not_failed",
        )
    SlotImportJob.objects.filter(pk=current.pk).update(
        status=ImportStatus.QUEUED,
        total_rows=0,
        processed_rows=0,
        created_count=0,
        unchanged_count=0,
        errors=[],
        preview=[],
        finished_at=None,
        claim_count=0,
        claimed_at=None,
        **release_fields(),
    )
    audit_log(
        actor=actor,
        action="reservations.slotimportjob.retried",
        obj=current,
        data={"file": current.file_name, "errors": len(current.errors)},
    )
    enqueue_on_commit(_CHECK_TASK, current.pk)
    current.refresh_from_db()
    return current
