"""Celery entry points of rich menus: each loads ids and calls one service (STYLE R10)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from municipalities.line.tasks import LineSendTask
from municipalities.models import Municipality
from richmenus import services


@shared_task(ignore_result=True, base=LineSendTask, failure_model="richmenus.RichMenu")
def richmenu_publish_task(menu_id: int) -> None:
    services.richmenu_line_sync(menu_id=menu_id)


class DisasterModeTask(LineSendTask):
    """After the last retry the switch is marked failed on the town's 災害モード (staff run it again)."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        if args:
            services.disaster_mode_failed(mode_id=args[0], error=f"{type(exc).__name__}: {exc}")


@shared_task(ignore_result=True, base=DisasterModeTask, failure_model="richmenus.DisasterMode")
def disaster_mode_apply_task(mode_id: int) -> None:
    services.disaster_mode_apply(mode_id=mode_id)


@shared_task(ignore_result=True, base=LineSendTask, failure_model="municipalities.Resident")
def resident_rich_menu_sync_task(resident_id: int) -> None:
    """A resident's settings changed (on commit), or they followed: link their segment's menu."""
    services.resident_rich_menu_sync(resident_id=resident_id)


@shared_task(ignore_result=True)
def richmenu_link_job_start_task(municipality_id: int, reason: str) -> None:
    """A segment menu was published (its LINE work is done): re-link the town as a job."""
    services.richmenu_link_job_start(municipality=Municipality.objects.get(pk=municipality_id), reason=reason)


class LinkJobStepTask(LineSendTask):
    """After the last retry the job stops at its cursor, marked failed (staff resume it)."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        if args:
            services.richmenu_link_job_failed(job_id=args[0], error=f"{type(exc).__name__}: {exc}")


@shared_task(ignore_result=True, base=LinkJobStepTask, failure_model="richmenus.RichMenuLinkJob")
def richmenu_link_job_step_task(job_id: int, generation: int, after: int) -> None:
    """One step (500 residents) of a re-linking job; the service enqueues the next step when it
    moved the cursor. A killed worker's step runs again (acks_late) and changes nothing twice."""
    services.richmenu_link_job_step(job_id=job_id, generation=generation, after=after)


@shared_task(ignore_result=True)
def richmenu_link_jobs_resume_stalled_task() -> None:
    """Beat: a job whose next step was lost (a worker died between commit and enqueue) goes on."""
    services.richmenu_link_jobs_resume_stalled()


@shared_task(ignore_result=True, base=LineSendTask, failure_model="municipalities.Municipality")
def disaster_menu_prepare_task(municipality_id: int) -> None:
    """The disaster menu was published: create its copies for the segment menus at LINE now."""
    services.disaster_menu_prepare(municipality=Municipality.objects.get(pk=municipality_id))
