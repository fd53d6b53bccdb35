"""The chatbot's staff notices on the admin home: residents waiting for staff (with their new
messages) and open unanswered questions, in the departments where the user answers them; and the
header badge on every admin page (residents waiting for staff), answered from the cache.

The badge is cached per user under the town's hand-off version; every change of a hand-off
(a request, a new message, a reply, 対応完了) bumps the version on commit
(``handoffs_changed_on_commit``), so the badge is right at once and costs one query per user and
change, none on the pages in between.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from chatbot.models import Handoff, UnansweredQuestion
from municipalities.notices import Badge, Notice
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


BADGE_SECONDS = 300  # the badge is also refreshed at least this often


def _version_key(municipality_id: int | None) -> str:
    return f"chatbot:handoff-version:{municipality_id or 0}"


def handoffs_changed_on_commit(municipality_id: int) -> None:
    """A hand-off of the town changed: the header badges are read again after the commit."""

    def bump() -> None:
        now = time.time_ns()
        # The town's staff, and superusers (no town: they see every town's hand-offs).
        cache.set_many({_version_key(municipality_id): now, _version_key(None): now}, None)

    transaction.on_commit(bump)


def handoff_badge(user: Any) -> Badge | None:
    """「職員対応待ち N」: open hand-offs the user may answer (with their unread messages).
    One cached value per user; one query when the town's hand-offs changed."""
    version_key = _version_key(getattr(user, "municipality_id", None))
    version = cache.get(version_key)
    if version is None:
        version = time.time_ns()
        cache.add(version_key, version, None)
    cache_key = f"chatbot:handoff-badge:{user.pk}:{version}"
    cached = cache.get(cache_key)
    if cached is None:
        counted = (
            policy_for(Handoff)
            .instances_user_has_permission_for(
                user, "change", Handoff.objects.exclude(status=Handoff.Status.DONE)
            )
            .aggregate(n=Count("pk"), unread=Sum("unread"))
        )
        cached = (counted["n"], counted["unread"] or 0)
        cache.set(cache_key, cached, BADGE_SECONDS)
    waiting, unread = cached
    if not waiting:
        return None
    title = _("職員との会話を待っている住民 %(n)d 人") % {"n": waiting}
    if unread:
        title += _("（新しいメッセージ %(n)d 件）") % {"n": unread}
    return Badge(
        text=_("職員対応待ち"),
        count=waiting,
        url=reverse("admin:chatbot_talkthread_changelist") + "?handoff=open",
        title=title,
    )
