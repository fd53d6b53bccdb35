"""The hand-off e-mail goes through the mail backend the deployment names in ``EMAIL_BACKEND``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.test import override_settings

from chatbot.services import handoff_request

ROOT = Path(__file__).resolve().parents[2]


def test_email_backend_and_sender_are_read_from_the_environment():
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DEBUG": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DEFAULT_FROM_EMAIL": "line@example.lg.jp",
    }
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.DEFAULT_FROM_EMAIL)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.core.mail.backends.filebased.EmailBackend",
        "line@example.lg.jp",
    ]


def test_handoff_notice_is_sent_through_the_configured_backend(
    town, resident, tmp_path, django_capture_on_commit_callbacks
):
    # given a town with a notice address and a deployment writing mail to files
    town.handoff_notify_email = "madoguchi@example.lg.jp"
    town.save(update_fields=["handoff_notify_email"])
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path),
        DEFAULT_FROM_EMAIL="line@example.lg.jp",
    ):
        # when a resident asks for a person
        with django_capture_on_commit_callbacks(execute=True):
            handoff_request(resident=resident, topic="相談")
    # then the mail went through that backend, from the configured sender
    [written] = list(tmp_path.iterdir())
    text = written.read_text(encoding="utf-8")
    assert "madoguchi@example.lg.jp" in text and "line@example.lg.jp" in text
