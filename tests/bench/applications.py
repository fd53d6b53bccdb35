"""Benchmark: submitting applications, staff exports and the reconciliation page, in-process.

    python tests/bench/applications.py [--submissions 2000]

Uses its own SQLite file under /tmp (no network, nothing else touched). Through the real services
(one durable transaction each, audit rows, the LINE simulator for notices):

1. submits ``--submissions`` applications to a form with 12 fields and a 300-yen fee, and pays
   half of them at the counter: submissions/s and p50/p99 per submit;
2. a double-submit check: every token submitted twice still gives one submission each;
3. exports all submissions to XLSX and CSV (one column per field): seconds;
4. the reconciliation selectors over all payments: milliseconds.

Issue 6 sets no performance goal; these figures show that a town's year of certificate requests
exports in seconds. The machine is shared by six engineers right now, so figures are pessimistic.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _support import ROOT

sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=2000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cms-bench-applications-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LINE_BACKEND": "simulator",
            "MEDIA_ROOT": str(workdir / "media"),
            "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
        }
    )
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from applications import exports
    from applications.models import ApplicationForm, FieldKind, FormField, Submission
    from applications.services import payment_record_counter, submission_submit
    from municipalities import selectors as core_selectors
    from municipalities.models import Department, Role, StaffUser
    from municipalities.services import resident_follow, staff_role_grant
    from tests.conftest import make_town

    town = make_town("bench", "ベンチ町")
    somu = Department.objects.create(municipality=town, code="somu", name="総務課")
    staff = StaffUser.objects.create_user(
        "bench_staff", "b@example.jp", "x", municipality=town, is_staff=True
    )
    staff_role_grant(user=staff, role=Role.EDITOR, department=somu, actor=None)
    form = ApplicationForm.objects.create(
        department=somu,
        title="住民票の写しの請求",
        is_published=True,
        fee=300,
        payment_methods=["counter", "sandbox"],
    )
    kinds = [
        FieldKind.SHORT_TEXT,
        FieldKind.FURIGANA,
        FieldKind.DATE,
        FieldKind.PHONE,
        FieldKind.POSTAL_CODE,
        FieldKind.ADDRESS,
        FieldKind.SINGLE_CHOICE,
        FieldKind.DROPDOWN,
        FieldKind.MULTIPLE_CHOICE,
        FieldKind.EMAIL,
        FieldKind.LONG_TEXT,
        FieldKind.CONSENT,
    ]
    for i, kind in enumerate(kinds):
        FormField.objects.create(
            form=form, position=i, kind=kind, label=f"項目{i}", key=f"f{i}", choices="a\nb\nc"
        )
    answers = {
        "f0": "山田 花子",
        "f1": "ヤマダ ハナコ",
        "f2": "1975-01-02",
        "f3": "09011112222",
        "f4": "100-0001",
        "f5": "東京都千代田区千代田1-1",
        "f6": "a",
        "f7": "b",
        "f8": ["a", "c"],
        "f9": "h@example.jp",
        "f10": "よろしくお願いします。",
        "f11": True,
    }
    residents = [
        resident_follow(municipality=town, line_user_id=f"U{i:032x}", display_name=f"住民{i}")[0]
        for i in range(min(args.submissions, 500))
    ]

    timings: list[float] = []
    tokens: list[tuple[object, uuid.UUID]] = []
    started = time.perf_counter()
    for i in range(args.submissions):
        resident = residents[i % len(residents)]
        token = uuid.uuid4()
        t0 = time.perf_counter()
        submission, _ = submission_submit(
            form=form,
            resident=resident,
            answers=answers,
            attachment_ids={},
            token=token,
            payment_method="counter",
        )
        timings.append(time.perf_counter() - t0)
        tokens.append((resident, token))
        if i % 2 == 0:
            payment_record_counter(submission=submission, actor=staff)
    elapsed = time.perf_counter() - started
    timings.sort()
    print(
        f"submit: {args.submissions} in {elapsed:.1f}s (incl. {args.submissions // 2} counter payments)",
        end="",
    )
    print(
        f" = {args.submissions / elapsed:.0f}/s; submit p50 {statistics.median(timings) * 1000:.1f} ms, "
        f"p99 {timings[int(len(timings) * 0.99) - 1] * 1000:.1f} ms"
    )

    for resident, token in tokens[:200]:
        submission_submit(
            form=form,
            resident=resident,
            answers=answers,
            attachment_ids={},
            token=token,
            payment_method="counter",
        )
    print(
        f"double submit: 200 tokens sent again, submissions still {Submission.objects.count()} (expected {args.submissions})"
    )

    qs = Submission.objects.select_related("form__department", "resident", "assignee").prefetch_related(
        "form__fields", "attachments", "payments"
    )
    t0 = time.perf_counter()
    data = exports.submissions_dataset(qs)
    xlsx = data.export("xlsx")
    t_xlsx = time.perf_counter() - t0
    t0 = time.perf_counter()
    csv = data.export("csv")
    t_csv = time.perf_counter() - t0
    print(
        f"export: {len(data)} rows × {len(data.headers)} columns: XLSX {t_xlsx:.2f}s ({len(xlsx) // 1024} KB), "
        f"CSV {t_csv:.2f}s ({len(csv.encode()) // 1024} KB)"
    )

    from django.utils import timezone

    today = timezone.localdate()
    t0 = time.perf_counter()
    rows = core_selectors.payments_reconciliation(user=staff, start=today.replace(day=1), end=today)
    unpaid = list(core_selectors.unpaid_payments_for_staff(user=staff))
    t_rec = time.perf_counter() - t0
    print(
        f"reconciliation: {sum(r['count'] for r in rows)} payments, {len(unpaid)} unpaid in {t_rec * 1000:.0f} ms"
    )
    print(f"(SQLite in {workdir}; machine shared, figures pessimistic)")


if __name__ == "__main__":
    main()
