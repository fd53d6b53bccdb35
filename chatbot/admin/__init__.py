"""The chatbot console, by topic; importing the modules registers their admin classes."""

from chatbot.admin import faq, garbage, talk

__all__ = ["faq", "garbage", "talk"]
