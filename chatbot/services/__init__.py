"""Writes of the chatbot, split by topic (STYLE R15); every public name is re-exported here.

- ``faq``: FAQ entries and keyword rules
- ``unanswered``: questions the bot could not answer, who asked them, sending the new answer
- ``state``: what the bot remembers about a resident
- ``handoff``: the hand-off to a person (request, staff replies, pause, done, e-mail notice)
- ``reminders``: the nightly garbage reminder
- ``garbage``: replacing a town's garbage data with its 5374 files
- ``outcomes``: what became of each question (answered, not understood, handed off), for the reports
"""

from chatbot.services.faq import (
    faq_delete,
    faq_save,
    faq_write,
    invalidate_on_commit,
    keyword_rule_delete,
    keyword_rule_save,
)
from chatbot.services.garbage import ImportResult, garbage_import
from chatbot.services.handoff import (
    handoff_note_message,
    handoff_notify,
    handoff_open_get,
    handoff_request,
    handoff_route_delete,
    handoff_route_save,
    talk_bot_pause,
    talk_handoff_end,
    talk_reply_push,
    talk_reply_send,
)
from chatbot.services.outcomes import Outcome, chat_outcome_record
from chatbot.services.reminders import (
    garbage_reminder_message,
    garbage_reminder_send,
    garbage_reminders_claim,
)
from chatbot.services.state import chat_state_update, is_silenced, state_for_update
from chatbot.services.unanswered import (
    unanswered_answer_push,
    unanswered_answer_send,
    unanswered_record,
    unanswered_resolve,
)

__all__ = [
    "ImportResult",
    "Outcome",
    "chat_outcome_record",
    "chat_state_update",
    "faq_delete",
    "faq_save",
    "faq_write",
    "garbage_import",
    "garbage_reminder_message",
    "garbage_reminder_send",
    "garbage_reminders_claim",
    "handoff_note_message",
    "handoff_notify",
    "handoff_open_get",
    "handoff_request",
    "handoff_route_delete",
    "handoff_route_save",
    "invalidate_on_commit",
    "is_silenced",
    "keyword_rule_delete",
    "keyword_rule_save",
    "state_for_update",
    "talk_bot_pause",
    "talk_handoff_end",
    "talk_reply_push",
    "talk_reply_send",
    "unanswered_answer_push",
    "unanswered_answer_send",
    "unanswered_record",
    "unanswered_resolve",
]
