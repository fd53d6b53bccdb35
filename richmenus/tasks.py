"""Celery entry points of rich menus: each loads ids and calls one service (STYLE R10)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from municipalities.line.tasks import LineSendTask
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
