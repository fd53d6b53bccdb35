"""The chatbot's staff notices on the admin home: residents waiting for staff (with their new
messages) and open unanswered questions, in the departments where the user answers them."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from chatbot.models import Handoff, UnansweredQuestion
from municipalities.notices import Notice
from municipalities.permissions import policy_for


def chatbot_notices(user: Any) -> list[Notice]:
    handoffs = policy_for(Handoff).instances_user_has_permission_for(
        user, "change", Handoff.objects.exclude(status=Handoff.Status.DONE)
    )
    waiting = handoffs.count()
    unread = handoffs.aggregate(n=Sum("unread"))["n"] or 0
    found = []
    talk_url = reverse("admin:chatbot_talkthread_changelist") + "?handoff=open"
    if waiting:
        text = _("職員との会話を待っている住民 %(n)d 人") % {"n": waiting}
        if unread:
            text += _("（新しいメッセージ %(n)d 件）") % {"n": unread}
        found.append(Notice(text=text, url=talk_url, count=waiting))
    questions = policy_for(UnansweredQuestion).instances_user_has_permission_for(
        user, "change", UnansweredQuestion.objects.filter(status=UnansweredQuestion.Status.OPEN)
    )
    open_count = questions.count()
    found.append(
        Notice(
            text=_("答えられなかった質問 %(n)d 件") % {"n": open_count},
            url=reverse("admin:chatbot_unansweredquestion_changelist") + "?status__exact=open",
            count=open_count,
        )
    )
    return found
