"""What the bot remembers about one resident (ChatState)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from chatbot.errors import ChatbotError
from chatbot.models import ChatState
from municipalities.errors import full_clean_or
from municipalities.models import Resident


def state_for_update(resident: Resident) -> ChatState:
    """The resident's chat state, locked (created when missing); inside the caller's transaction."""
    state, _created = ChatState.objects.select_for_update().get_or_create(
        resident=resident, defaults={"municipality_id": resident.municipality_id}
    )
    return state


def is_silenced(state: ChatState, *, now: dt.datetime | None = None) -> bool:
    """Whether staff paused the bot for this resident (until ``silenced_until``)."""
    return state.silenced_until is not None and state.silenced_until > (now or timezone.now())


# --- Chat state -------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def chat_state_update(
    *,
    resident: Resident,
    garbage_reminder: bool | None = None,
    pending: str | None = None,
    pending_text: str | None = None,
) -> ChatState:
    """Change what the bot remembers about a resident; only the given arguments change."""
    state = state_for_update(resident)
    fields = ["updated_at"]
    if garbage_reminder is not None:
        state.garbage_reminder = garbage_reminder
        fields.append("garbage_reminder")
    if pending is not None:
        state.pending = pending
        state.pending_text = (pending_text or "")[:300]
        fields += ["pending", "pending_text"]
    full_clean_or(state, error=ChatbotError, exclude=["resident", "municipality"])
    state.save(update_fields=fields)
    return state
