"""The status workflow of a submission: the statuses and the only transitions allowed.

::

    支払待ち ──(payment confirmed)──▶ 受付 ──▶ 審査中 ──▶ 承認 ──▶ 完了
       │                              │  ╲       │  ╲
       │                              │   ▶ 要修正 ◀┘   ▶ 却下
       ▼                              ▼      │ (resident resubmits → 受付)
     取下げ (resident, before review) ◀┘      ▼
                                            却下

Who may move a submission is part of each transition: staff (admin actions), the resident
(LIFF pages) or the system (payment callbacks). The services call ``check_transition()``;
nothing else changes ``Submission.status``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class SubmissionStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("支払待ち")
    RECEIVED = "received", _("受付")
    IN_REVIEW = "in_review", _("審査中")
    NEEDS_CORRECTION = "needs_correction", _("要修正")
    APPROVED = "approved", _("承認")
    REJECTED = "rejected", _("却下")
    COMPLETED = "completed", _("完了")
    CANCELLED = "cancelled", _("取下げ")


S = SubmissionStatus

STAFF = "staff"
RESIDENT = "resident"
SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    name: str
    source: frozenset[str]
    target: str
    by: frozenset[str]
    label: str
    reason_required: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition(
            "pay", frozenset({S.AWAITING_PAYMENT}), S.RECEIVED, frozenset({SYSTEM, STAFF}), _("支払確認")
        ),
        Transition("review", frozenset({S.RECEIVED}), S.IN_REVIEW, frozenset({STAFF}), _("審査を開始")),
        Transition(
            "request_correction",
            frozenset({S.RECEIVED, S.IN_REVIEW}),
            S.NEEDS_CORRECTION,
            frozenset({STAFF}),
            _("修正を依頼"),
            reason_required=True,
        ),
        Transition(
            "resubmit", frozenset({S.NEEDS_CORRECTION}), S.RECEIVED, frozenset({RESIDENT}), _("再提出")
        ),
        Transition("approve", frozenset({S.IN_REVIEW}), S.APPROVED, frozenset({STAFF}), _("承認")),
        Transition(
            "reject",
            frozenset({S.RECEIVED, S.IN_REVIEW, S.NEEDS_CORRECTION}),
            S.REJECTED,
            frozenset({STAFF}),
            _("却下"),
            reason_required=True,
        ),
        Transition("complete", frozenset({S.APPROVED}), S.COMPLETED, frozenset({STAFF}), _("完了")),
        Transition(
            "cancel",
            frozenset({S.AWAITING_PAYMENT, S.RECEIVED}),
            S.CANCELLED,
            frozenset({RESIDENT}),
            _("取下げ"),
        ),
    ]
}

FINAL_STATUSES = frozenset({S.REJECTED, S.COMPLETED, S.CANCELLED})
# Statuses that still count for "one submission per resident" (see the partial UNIQUE).
LIVE_STATUSES = frozenset(set(S.values) - {S.REJECTED, S.CANCELLED})


class TransitionRefused(Exception):
    """The transition is not allowed from the current status or by this kind of actor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_transition(*, name: str, status: str, by: str, reason: str = "") -> Transition:
    """Return the transition, or raise TransitionRefused with a message for people."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise TransitionRefused(str(_("この操作はできません。")))
    if by not in transition.by:
        raise TransitionRefused(str(_("この操作はできません。")))
    if status not in transition.source:
        raise TransitionRefused(
            str(_("「%(status)s」の申請は「%(action)s」できません。"))
            % {"status": S(status).label, "action": transition.label}
        )
    if transition.reason_required and not reason.strip():
        raise TransitionRefused(str(_("理由を入力してください。")))
    return transition


def allowed_transitions(*, status: str, by: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.source and by in t.by]


# What the resident should do next, per status (shown on "My applications").
NEXT_STEP: dict[str, str] = {
    S.AWAITING_PAYMENT: _("手数料のお支払いをお待ちしています。お支払い後に受付となります。"),
    S.RECEIVED: _("受け付けました。担当者が確認するまでお待ちください。"),
    S.IN_REVIEW: _("担当者が内容を確認しています。"),
    S.NEEDS_CORRECTION: _("修正が必要です。理由を確認して、内容を直して再提出してください。"),
    S.APPROVED: _("承認されました。完了のお知らせをお待ちください。"),
    S.REJECTED: _("申請は却下されました。理由をご確認ください。"),
    S.COMPLETED: _("手続きが完了しました。"),
    S.CANCELLED: _("取り下げました。"),
}
