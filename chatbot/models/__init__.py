"""The chatbot's data: garbage sorting and collection calendars (5374 format), FAQ and keyword rules,
unanswered questions, and the conversation with staff (hand-off, replies, state).

One module per topic; every model is re-exported here (``from chatbot.models import Faq``)."""

from chatbot.models.answers import Faq, KeywordRule, UnansweredAsk, UnansweredQuestion
from chatbot.models.conversation import ChatState, Handoff, HandoffRoute, StaffReply, TalkThread
from chatbot.models.garbage import (
    AreaCalendar,
    CenterHoliday,
    CollectionRule,
    GarbageCategory,
    GarbageItem,
    GarbageRemark,
    GarbageReminder,
)

__all__ = [
    "AreaCalendar",
    "CenterHoliday",
    "ChatState",
    "CollectionRule",
    "Faq",
    "GarbageCategory",
    "GarbageItem",
    "GarbageRemark",
    "GarbageReminder",
    "Handoff",
    "HandoffRoute",
    "KeywordRule",
    "StaffReply",
    "TalkThread",
    "UnansweredAsk",
    "UnansweredQuestion",
]
