"""Errors of the chatbot's services; the message is Japanese and safe to show."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from municipalities.errors import ServiceError


class ChatbotError(ServiceError):
    pass


class GarbageImportError(ChatbotError):
    """The 5374 files have problems; ``problems`` lists each with its file and row."""

    def __init__(self, problems: list[Any]) -> None:
        self.problems = list(problems)
        head = _("取り込めませんでした（%(n)d 件の問題）。何も変更していません。") % {"n": len(self.problems)}
        super().__init__(head + "\n" + "\n".join(str(p) for p in self.problems[:50]), code="invalid")
