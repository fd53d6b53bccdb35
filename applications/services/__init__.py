"""Every write of the applications app, split by topic; import from here."""

from applications.errors import ApplicationError
from applications.services.forms import form_close, form_copy, form_save
from applications.services.payments import payment_record_counter, payment_restart, submission_payment_open
from applications.services.submissions import (
    attachment_stage,
    attachments_purge_stale,
    submission_cancel,
    submission_delete,
    submission_resubmit,
    submission_submit,
    submission_transition,
    submission_update,
)

__all__ = [
    "ApplicationError",
    "attachment_stage",
    "attachments_purge_stale",
    "form_close",
    "form_copy",
    "form_save",
    "payment_record_counter",
    "payment_restart",
    "submission_cancel",
    "submission_delete",
    "submission_payment_open",
    "submission_resubmit",
    "submission_submit",
    "submission_transition",
    "submission_update",
]
