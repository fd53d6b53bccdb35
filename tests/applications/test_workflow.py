"""The allowed transitions, and the refused ones, as a table."""

from __future__ import annotations

import pytest

from applications import workflow
from applications.workflow import RESIDENT, STAFF, SYSTEM, TransitionRefused
from applications.workflow import SubmissionStatus as S

ALLOWED = [
    ("pay", S.AWAITING_PAYMENT, SYSTEM, S.RECEIVED),
    ("pay", S.AWAITING_PAYMENT, STAFF, S.RECEIVED),
    ("review", S.RECEIVED, STAFF, S.IN_REVIEW),
    ("request_correction", S.RECEIVED, STAFF, S.NEEDS_CORRECTION),
    ("request_correction", S.IN_REVIEW, STAFF, S.NEEDS_CORRECTION),
    ("resubmit", S.NEEDS_CORRECTION, RESIDENT, S.RECEIVED),
    ("approve", S.IN_REVIEW, STAFF, S.APPROVED),
    ("reject", S.IN_REVIEW, STAFF, S.REJECTED),
    ("reject", S.NEEDS_CORRECTION, STAFF, S.REJECTED),
    ("complete", S.APPROVED, STAFF, S.COMPLETED),
    ("cancel", S.AWAITING_PAYMENT, RESIDENT, S.CANCELLED),
    ("cancel", S.RECEIVED, RESIDENT, S.CANCELLED),
]


@pytest.mark.parametrize(("name", "status", "by", "target"), ALLOWED)
def test_allowed(name, status, by, target):
    assert workflow.check_transition(name=name, status=status, by=by, reason="理由").target == target


@pytest.mark.parametrize(
    ("name", "status", "by"),
    [
        ("review", S.AWAITING_PAYMENT, STAFF),  # a fee waits for payment before review
        ("approve", S.RECEIVED, STAFF),  # no approval without review
        ("approve", S.NEEDS_CORRECTION, STAFF),
        ("complete", S.IN_REVIEW, STAFF),
        ("cancel", S.IN_REVIEW, RESIDENT),  # too late to withdraw
        ("cancel", S.APPROVED, RESIDENT),
        ("review", S.COMPLETED, STAFF),
        ("reject", S.CANCELLED, STAFF),
        ("approve", S.IN_REVIEW, RESIDENT),  # residents do not approve
        ("cancel", S.RECEIVED, STAFF),  # staff reject; only the resident withdraws
        ("resubmit", S.NEEDS_CORRECTION, STAFF),
        ("pay", S.AWAITING_PAYMENT, RESIDENT),  # a resident cannot mark their own fee paid
        ("pay", S.RECEIVED, SYSTEM),
    ],
)
def test_refused(name, status, by):
    with pytest.raises(TransitionRefused):
        workflow.check_transition(name=name, status=status, by=by, reason="理由")


@pytest.mark.parametrize("name", ["request_correction", "reject"])
def test_reason_required(name):
    with pytest.raises(TransitionRefused, match="理由を入力してください"):
        workflow.check_transition(name=name, status=S.IN_REVIEW, by=STAFF, reason="  ")


def test_refusal_message_names_the_status():
    with pytest.raises(TransitionRefused, match="「完了」の申請は「承認」できません"):
        workflow.check_transition(name="approve", status=S.COMPLETED, by=STAFF)


def test_final_statuses_have_no_way_out():
    for status in workflow.FINAL_STATUSES:
        for by in (STAFF, RESIDENT, SYSTEM):
            assert workflow.allowed_transitions(status=status, by=by) == []


def test_every_status_has_a_next_step_for_residents():
    assert set(workflow.NEXT_STEP) == set(S.values)
