"""The LINE messages a resident gets about a submission (built when sent, from the row)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from applications.models import Submission
from applications.workflow import NEXT_STEP
from applications.workflow import SubmissionStatus as S
from municipalities.line import messages as m
from municipalities.line.liff import resident_link


def submission_message(submission: Submission, *, status: str, version: int) -> list[dict[str, Any]]:
    """The notice of the change that made ``version`` of the submission, which entered ``status``."""
    form = submission.form
    head = f"【{form.title}】\n受付番号: {submission.reference}\n"
    detail_path = reverse("applications:submission_detail", kwargs={"reference": submission.reference})
    button: tuple[str, str] | None = ("詳細を見る", detail_path)  # its label and the page it opens
    if status == S.NEEDS_CORRECTION:
        path = reverse("applications:submission_edit", kwargs={"reference": submission.reference})
        body = (
            head
            + "申請内容の修正をお願いします。\n\n"
            + f"理由: {submission.status_reason}\n\n"
            + "こちらから入力済みのフォームを開いて修正できます:"
        )
        button = ("フォームを開く", path)
    elif status == S.REJECTED:
        body = head + f"申請は却下されました。\n理由: {submission.status_reason}"
    elif status in (S.RECEIVED, S.AWAITING_PAYMENT) and version == 1:
        body = head + "申請を受け付けました。\n" + str(NEXT_STEP[status])
        if status == S.AWAITING_PAYMENT:
            body += f"\n手数料: {submission.fee:,}円"
        if form.completion_message:
            body += "\n\n" + form.completion_message
        button = ("申請状況を見る", detail_path)
    elif status == S.RECEIVED and submission.fee and version == 2 and submission.paid_at:
        body = head + f"手数料 {submission.fee:,}円のお支払いを確認しました。申請を受け付けました。"
        if form.completion_message:
            body += "\n\n" + form.completion_message
        button = None
    elif status == S.RECEIVED:
        body = head + "修正後の内容を受け付けました。担当者が確認するまでお待ちください。"
        button = ("申請状況を見る", detail_path)
    else:
        body = head + f"状態が「{S(status).label}」になりました。\n{NEXT_STEP[status]}"
    status_button = m.quick_reply_item(m.postback_action("申請状況", "app:status", display_text="申請状況"))
    if button is None:
        return [m.text(body[:4900], quick_reply=[status_button])]
    label, path = button
    gist = body[len(head) :].split("\n", 1)[0]  # what happened: 「申請を受け付けました。」…
    return [
        m.text_with_button(
            body,
            label,
            resident_link(submission.resident, path),
            alt_text=f"【{form.title}】{gist}",
            quick_reply=[status_button],
        )
    ]
