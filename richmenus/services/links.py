"""Per-segment menus: link each resident to the menu of their segment (地区, 年代, 関心).

``ResidentRichMenu`` records the menu LINE shows a resident (no row: the default menu). The
services compare it with the menu the resident should see (``selectors.menu_for_resident``) and
call LINE only for the difference, then record it; a run that dies between the call and the
record runs again and links the same menu again (harmless at LINE), so every resident ends on
the right menu and no change is sent twice once recorded.

- ``resident_rich_menu_sync``: one resident, after their settings changed (on commit) or at follow;
- ``richmenu_links_refresh``: one step over the next 500 following residents of the town, 500
  user ids a bulk-link request (LINE's limit) in resident order;
- ``richmenu_link_job_start`` / ``richmenu_link_job_step``: the whole town as a job row
  (``RichMenuLinkJob``) with its progress (done / total) for staff, one step per task. The job's
  cursor moves by a conditional UPDATE on (generation, after), so a redelivered or duplicated
  step (a killed worker, the resume sweep) changes nothing twice; a stopped job resumes at its
  cursor (``richmenu_link_job_resume``, the admin action and the beat sweep); a new request
  while a job is active restarts it from the first resident.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.line.client import get_line_client
from municipalities.line.richmenus_gateway import BULK_LINK_MAX
from municipalities.models import Municipality, Resident
from municipalities.tasks_queue import enqueue_on_commit
from richmenus.errors import RichMenuError
from richmenus.models import LinkJobStatus, ResidentRichMenu, RichMenu, RichMenuLinkJob
from richmenus.selectors import menu_for_resident, segment_menus
from richmenus.services.disaster import disaster_mode_is_on


def _interest_ids(residents: list[Resident]) -> dict[int, set[int]]:
    through = Resident.interests.through
    found: dict[int, set[int]] = defaultdict(set)
    for resident_id, interest_id in through.objects.filter(
        resident_id__in=[r.pk for r in residents]
    ).values_list("resident_id", "interest_id"):
        found[resident_id].add(interest_id)
    return found


def _targets(municipality: Municipality, residents: list[Resident]) -> dict[int, RichMenu | None]:
    menus = list(segment_menus(municipality=municipality))
    interests = _interest_ids(residents)
    return {
        r.pk: menu_for_resident(resident=r, menus=menus, interest_ids=interests.get(r.pk, set()))
        for r in residents
    }


def _apply(municipality: Municipality, residents: list[Resident]) -> tuple[int, int]:
    """Link/unlink the residents whose menu differs; record it. Returns (LINE calls made,
    residents whose menu changed)."""
    targets = _targets(municipality, residents)
    current = dict(
        ResidentRichMenu.objects.filter(resident__in=residents).values_list("resident_id", "menu_id")
    )
    to_link: dict[RichMenu, list[Resident]] = defaultdict(list)
    to_unlink: list[Resident] = []
    for resident in residents:
        target = targets[resident.pk]
        if target is None and resident.pk in current:
            to_unlink.append(resident)
        elif target is not None and current.get(resident.pk) != target.pk:
            to_link[target].append(resident)
    changed = len(to_unlink) + sum(len(group) for group in to_link.values())
    if not changed:
        return 0, 0
    client = get_line_client(municipality)
    # During 災害モード LINE shows the disaster copy of the segment menu (disaster.py).
    copies = {}
    if disaster_mode_is_on(municipality=municipality):
        mode = municipality.disaster_mode
        copies = {int(key): value["id"] for key, value in (mode.line_copies or {}).items()}
    calls = 0
    for menu, group in to_link.items():
        rich_menu_id = copies.get(menu.pk, menu.line_rich_menu_id)
        for start in range(0, len(group), BULK_LINK_MAX):
            client.rich_menu_link_users(
                rich_menu_id, [r.line_user_id for r in group[start : start + BULK_LINK_MAX]]
            )
            calls += 1
    for start in range(0, len(to_unlink), BULK_LINK_MAX):
        client.rich_menu_unlink_users([r.line_user_id for r in to_unlink[start : start + BULK_LINK_MAX]])
        calls += 1
    _record(
        to_link={menu.pk: [r.pk for r in group] for menu, group in to_link.items()},
        unlinked=[r.pk for r in to_unlink],
    )
    return calls, changed


@transaction.atomic(durable=True)
def _record(*, to_link: dict[int, list[int]], unlinked: list[int]) -> None:
    now = timezone.now()
    ResidentRichMenu.objects.filter(resident_id__in=unlinked).delete()
    for menu_id, resident_ids in to_link.items():
        ResidentRichMenu.objects.filter(resident_id__in=resident_ids).delete()
        ResidentRichMenu.objects.bulk_create(
            [ResidentRichMenu(resident_id=pk, menu_id=menu_id, linked_at=now) for pk in resident_ids]
        )


def resident_rich_menu_sync(*, resident_id: int) -> int:
    """Link one resident to the menu of their segment (or back to the default). LINE calls made."""
    resident = (
        Resident.objects.select_related("municipality").filter(pk=resident_id, is_following=True).first()
    )
    if resident is None:
        return 0
    return _apply(resident.municipality, [resident])[0]


def _next_residents(municipality: Municipality, after: int) -> list[Resident]:
    return list(
        Resident.objects.filter(municipality=municipality, is_following=True, pk__gt=after)
        .order_by("pk")
        .only("pk", "line_user_id", "area_id", "age_band")[:BULK_LINK_MAX]
    )


def richmenu_links_refresh(*, municipality_id: int, after: int = 0) -> int | None:
    """One step of re-linking the whole town: the next 500 following residents after resident id
    ``after``. Returns the last resident id done (the next step's ``after``), or None when done."""
    municipality = Municipality.objects.get(pk=municipality_id)
    residents = _next_residents(municipality, after)
    if not residents:
        return None
    _apply(municipality, residents)
    return residents[-1].pk


STEP_TASK = "richmenus.tasks.richmenu_link_job_step_task"
# A running job whose row has not moved for this long lost its step (a worker died after the
# step's commit and before it enqueued the next one): the sweep enqueues it again.
STALLED_AFTER = timedelta(minutes=5)


def _following(municipality: Municipality) -> int:
    return Resident.objects.filter(municipality=municipality, is_following=True).count()


@transaction.atomic(durable=True)
def richmenu_link_job_start(
    *, municipality: Municipality, reason: str, actor: Any | None = None
) -> RichMenuLinkJob:
    """Re-link every following resident of the town, as a job row staff can follow. A job that
    is active already starts again from the first resident (its cursor and progress reset), so
    a town never has two. The first step is enqueued on commit. Audited."""
    total = _following(municipality)
    job = (
        RichMenuLinkJob.objects.select_for_update()
        .filter(municipality=municipality, status__in=[LinkJobStatus.QUEUED, LinkJobStatus.RUNNING])
        .first()
    )
    restart = job is not None
    if job is None:
        try:
            with transaction.atomic():
                job = RichMenuLinkJob.objects.create(
                    municipality=municipality, reason=reason[:200], total=total
                )
        except IntegrityError:  # another start made the town's active job a moment ago
            restart = True
            job = RichMenuLinkJob.objects.select_for_update().get(
                municipality=municipality, status__in=[LinkJobStatus.QUEUED, LinkJobStatus.RUNNING]
            )
    if restart:  # the menus changed again: every resident is compared again
        RichMenuLinkJob.objects.filter(pk=job.pk).update(
            generation=F("generation") + 1,
            after=0,
            done=0,
            total=total,
            status=LinkJobStatus.QUEUED,
            reason=reason[:200],
            finished_at=None,
            last_error="",
            updated_at=timezone.now(),
        )
        job.refresh_from_db()
    audit_log(
        actor=actor,
        action="richmenus.link_job.started",
        obj=job,
        data={"reason": job.reason, "total": total, "generation": job.generation},
    )
    enqueue_on_commit(STEP_TASK, job.pk, job.generation, 0)
    return job


def richmenu_link_job_step(*, job_id: int, generation: int, after: int) -> int | None:
    """One step of job ``job_id``: link the next 500 residents after ``after`` and move the
    cursor. Returns the next step's ``after`` (enqueued on commit here), or None when the job is
    done or the step is stale (another run of it, or a restarted job, moved the cursor)."""
    job = RichMenuLinkJob.objects.select_related("municipality").filter(pk=job_id).first()
    if job is None or job.generation != generation or job.after != after or job.status == LinkJobStatus.DONE:
        return None
    if job.status != LinkJobStatus.RUNNING:
        RichMenuLinkJob.objects.filter(pk=job.pk, generation=generation).update(
            status=LinkJobStatus.RUNNING, started_at=job.started_at or timezone.now(), last_error=""
        )
    residents = _next_residents(job.municipality, after)
    calls, changed = _apply(job.municipality, residents) if residents else (0, 0)
    return _link_job_record(
        job=job, generation=generation, after=after, residents=residents, calls=calls, changed=changed
    )


@transaction.atomic(durable=True)
def _link_job_record(
    *, job: RichMenuLinkJob, generation: int, after: int, residents: list[Resident], calls: int, changed: int
) -> int | None:
    now = timezone.now()
    moved = RichMenuLinkJob.objects.filter(pk=job.pk, generation=generation, after=after).exclude(
        status=LinkJobStatus.DONE
    )
    if not residents:
        if moved.update(status=LinkJobStatus.DONE, finished_at=now, updated_at=now):
            job.refresh_from_db()
            audit_log(
                actor=None,
                action="richmenus.link_job.done",
                obj=job,
                data={"done": job.done, "changed": job.changed, "calls": job.calls},
            )
        return None
    last = residents[-1].pk
    if not moved.update(
        after=last,
        done=F("done") + len(residents),
        changed=F("changed") + changed,
        calls=F("calls") + calls,
        status=LinkJobStatus.RUNNING,
        updated_at=now,
    ):
        return None  # another run of this step moved the cursor first
    # More followed since the job started: the bar never passes its end.
    RichMenuLinkJob.objects.filter(pk=job.pk, total__lt=F("done")).update(total=F("done"))
    enqueue_on_commit(STEP_TASK, job.pk, generation, last)
    return last


@transaction.atomic(durable=True)
def richmenu_link_job_failed(*, job_id: int, error: str) -> None:
    """The step failed for good (its task's last retry): the job stops at its cursor, staff see
    it and resume it."""
    job = RichMenuLinkJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status == LinkJobStatus.DONE:
        return
    job.status = LinkJobStatus.FAILED
    job.last_error = error[:500]
    job.save(update_fields=["status", "last_error", "updated_at"])
    audit_log(actor=None, action="richmenus.link_job.failed", obj=job, data={"error": error[:500]})


@transaction.atomic(durable=True)
def richmenu_link_job_resume(*, job: RichMenuLinkJob, actor: Any | None) -> RichMenuLinkJob:
    """Run a stopped (failed or stalled) job on from its cursor: the residents before it are not
    sent again. Raises RichMenuError for a finished job, or when another job of the town is
    active. Audited."""
    if actor is not None:
        permissions.require(actor, "resume", job, error=RichMenuError)
    job = RichMenuLinkJob.objects.select_for_update().get(pk=job.pk)
    if job.status == LinkJobStatus.DONE:
        raise RichMenuError(_("この再紐付けは完了しています。"), code="done")
    if job.status == LinkJobStatus.FAILED:
        try:
            with transaction.atomic():
                RichMenuLinkJob.objects.filter(pk=job.pk).update(
                    status=LinkJobStatus.QUEUED, last_error="", updated_at=timezone.now()
                )
        except IntegrityError:
            raise RichMenuError(
                _("この自治体では別の再紐付けが実行中です。"), code="another_active"
            ) from None
    audit_log(actor=actor, action="richmenus.link_job.resumed", obj=job, data={"after": job.after})
    enqueue_on_commit(STEP_TASK, job.pk, job.generation, job.after)
    job.refresh_from_db()
    return job


def richmenu_link_jobs_resume_stalled() -> int:
    """The beat sweep: enqueue again the step of every active job whose row has not moved for
    STALLED_AFTER (a duplicate step is harmless: the cursor moves once). Returns how many."""
    stalled = list(
        RichMenuLinkJob.objects.filter(
            status__in=[LinkJobStatus.QUEUED, LinkJobStatus.RUNNING],
            updated_at__lt=timezone.now() - STALLED_AFTER,
        ).values_list("pk", flat=True)
    )
    for job_id in stalled:
        richmenu_link_job_resume(job=RichMenuLinkJob(pk=job_id), actor=None)
    return len(stalled)


def richmenu_links_refresh_start(*, municipality: Municipality, reason: str = "") -> RichMenuLinkJob:
    """Re-link the town as a job (after a segment menu was published)."""
    return richmenu_link_job_start(municipality=municipality, reason=reason)
