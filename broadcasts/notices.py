"""The broadcasts' staff notice on the admin home: 「承認待ちのお知らせ N 件」 for those who may
approve them (heads of the department, 自治体管理者)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from broadcasts.models import Broadcast
from municipalities.notices import Notice
from municipalities.permissions import policy_for


def broadcast_notices(user: Any) -> list[Notice]:
    pending = policy_for(Broadcast).instances_user_has_permission_for(
        user, "approve", Broadcast.objects.filter(status=Broadcast.Status.PENDING)
    )
    count = pending.count()
    return [
        Notice(
            text=_("承認待ちのお知らせ %(n)d 件") % {"n": count},
            url=reverse("admin:broadcasts_broadcast_changelist") + "?status__exact=pending",
            count=count,
        )
    ]
