"""Recording a LINE send that failed for good, where staff see it (the object's history)."""

from __future__ import annotations

import logging

from django.apps import apps
from django.db import transaction

from municipalities.audit import audit_log
from municipalities.line.errors import LineError

logger = logging.getLogger(__name__)


@transaction.atomic(durable=True)
def line_send_failure_record(
    *, model_label: str, object_id: int, task_name: str, error: BaseException
) -> bool:
    """Write an audit entry "line.send.failed" on the object the send was about (a submission,
    a reservation, a reminder row …), with LINE's status and message, so that it shows in that
    object's history in the admin. Returns False when the object is gone (nothing to record on)."""
    model = apps.get_model(model_label)
    obj = model._default_manager.filter(pk=object_id).first()
    logger.error("LINE send %s for %s %s failed for good: %r", task_name, model_label, object_id, error)
    if obj is None:
        return False
    status = error.status if isinstance(error, LineError) else None
    message = (error.message if isinstance(error, LineError) else "") or type(error).__name__
    audit_log(
        actor=None,
        action="line.send.failed",
        obj=obj,
        data={"task": task_name, "status": status, "error": message[:500]},
    )
    return True
