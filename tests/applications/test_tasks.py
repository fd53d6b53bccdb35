"""The notice task: once per change (retry key), resilient to LINE's transient errors."""

from __future__ import annotations

from unittest import mock

import pytest

from applications.forms import check_upload
from applications.models import Attachment, FieldKind
from applications.services import attachment_stage, attachments_purge_stale, submission_transition
from applications.tasks import submission_notify_task
from config.celery import app as celery_app
from municipalities.line.errors import LineClientError, LineRetryableError
from municipalities.line.retry import LINE_MAX_ATTEMPTS
from municipalities.models import AuditEntry, SimulatedDelivery
from municipalities.services import resident_unfollow
from tests.applications.factories import FormFieldFactory, submit
from tests.applications.files import PNG, upload
from tests.conftest import shown_text

pytestmark = pytest.mark.django_db


def test_running_twice_sends_once(form, resident):
    submission = submit(form, resident)
    assert submission_notify_task.apply(args=[submission.pk, 1, "received"]).get() == "sent"
    assert submission_notify_task.apply(args=[submission.pk, 1, "received"]).get() == "already"
    assert SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id).count() == 1


def test_lagging_task_sends_the_text_of_its_own_change(form, resident, kenko_editor):
    submission = submit(form, resident)
    submission_transition(submission=submission, name="review", actor=kenko_editor)
    submission_transition(submission=submission, name="approve", actor=kenko_editor)
    submission_notify_task.apply(args=[submission.pk, 2, "in_review"]).get()
    [push] = SimulatedDelivery.objects.filter(line_user_id=resident.line_user_id)
    assert "「審査中」" in shown_text(push.messages[0])


def test_unfollowed_resident_is_not_pushed(form, resident):
    submission = submit(form, resident)
    resident_unfollow(municipality=resident.municipality, line_user_id=resident.line_user_id)
    assert submission_notify_task.apply(args=[submission.pk, 1, "received"]).get() == "not-following"


def test_client_error_is_logged_not_retried(form, resident, caplog):
    submission = submit(form, resident)
    with mock.patch(
        "municipalities.line.simulator.SimulatorClient.push", side_effect=LineClientError("bad", status=400)
    ):
        assert submission_notify_task.apply(args=[submission.pk, 1, "received"]).get() == "refused"
    assert "refused by LINE" in caplog.text


def test_stale_staged_attachments_are_purged(form, resident):
    from datetime import timedelta

    from django.utils import timezone

    FormFieldFactory(form=form, kind=FieldKind.FILE, key="doc", label="書類", file_types=["png"])
    staged = attachment_stage(
        form=form,
        resident=resident,
        files={"doc": check_upload(upload("a.png", PNG), allowed=["png"], max_mb=1)},
    )
    kept = attachment_stage(
        form=form,
        resident=resident,
        files={"doc": check_upload(upload("b.png", PNG), allowed=["png"], max_mb=1)},
    )
    submit(form, resident, attachment_ids=kept)
    Attachment.objects.filter(pk=staged["doc"]).update(created_at=timezone.now() - timedelta(days=2))
    assert attachments_purge_stale() == 1
    assert list(Attachment.objects.values_list("original_name", flat=True)) == ["b.png"]


def test_transient_errors_are_retried_then_the_failure_is_on_the_submissions_history(
    form, resident, monkeypatch
):
    # given: LINE answers 503 to every try; the retries run in process, as a worker would run them
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    submission = submit(form, resident)
    tries = []

    def unavailable(*args, **kwargs):
        tries.append(args)
        raise LineRetryableError("unavailable", status=503)

    # when
    with mock.patch("municipalities.line.simulator.SimulatorClient.push", side_effect=unavailable):
        result = submission_notify_task.apply(args=[submission.pk, 1, "received"])
    # then: the bounded retries of the LINE policy, then one entry staff see on the submission
    assert isinstance(result.result, LineRetryableError)
    assert len(tries) == LINE_MAX_ATTEMPTS
    [entry] = AuditEntry.objects.filter(action="line.send.failed")
    assert (entry.object_id, entry.data["status"]) == (str(submission.pk), 503)
    assert entry.department_id == form.department_id
