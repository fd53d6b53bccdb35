"""The talk hand-off: residents by latest message, their talk, a reply form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbot import selectors, services
from chatbot.errors import ChatbotError
from chatbot.models import (
    TalkThread,
)
from municipalities.admin_pages import AdminPage
from municipalities.models import TalkMessage
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

# --- Talk hand-off ----------------------------------------------------------------------------


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("返信"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


@admin.register(TalkThread)
class TalkThreadAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """Residents by their latest message; a resident's page shows the talk and a reply form."""

    list_display = ["__str__", "area", "last_talk_at", "inbound_count"]
    list_select_related = ["area"]
    search_fields = ["display_name", "line_user_id"]
    fields = ["display_name", "area", "is_following", "followed_at"]
    change_form_template = "admin/chatbot/talkthread/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _last_talk=Max("talk_messages__created_at"),
                _inbound=Count(
                    "talk_messages", filter=Q(talk_messages__direction=TalkMessage.Direction.INBOUND)
                ),
            )
            .order_by(F("_last_talk").desc(nulls_last=True), "pk")
        )

    @admin.display(description=gettext_lazy("最後のやりとり"), ordering="_last_talk")
    def last_talk_at(self, obj: TalkThread) -> Any:
        return obj._last_talk

    @admin.display(description=gettext_lazy("住民からの件数"), ordering="_inbound")
    def inbound_count(self, obj: TalkThread) -> int:
        return obj._inbound

    def get_urls(self) -> list[Any]:
        return [
            path("<int:pk>/reply/", TalkReplyPage(self).as_view(), name="chatbot_talkthread_reply"),
            path("<int:pk>/resume/", TalkResumePage(self).as_view(), name="chatbot_talkthread_resume"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        thread = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if thread is not None:
            state = selectors.chat_state_get(resident=thread)
            extra.update(
                talk=selectors.talk_for_resident(resident=thread, user=request.user),
                reply_form=ReplyForm(),
                may_reply=self.has_action_permission(request, "reply", thread),
                silenced=services.is_silenced(state),
                chat_state=state,
            )
        return super().change_view(request, object_id, form_url, extra)


class TalkReplyPage(AdminPage):
    """Send a staff reply into a resident's talk (hands the talk over from the bot for 30 min)."""

    action = "reply"
    methods = ("POST",)

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        thread = self.get_object(request, pk)
        if not self.model_admin.has_action_permission(request, "reply", thread):
            raise PermissionDenied
        form = ReplyForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("返信の内容を入力してください（4000 文字まで）。"))
        else:
            try:
                services.talk_reply_send(resident=thread, text=form.cleaned_data["text"], actor=request.user)
            except ChatbotError as exc:
                messages.error(request, exc.message)
            else:
                messages.info(request, _("返信を送りました。30 分間はチャットボットが自動応答しません。"))
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("admin:chatbot_talkthread_change", args=[kwargs["pk"]])


class TalkResumePage(TalkReplyPage):
    """Hand the talk back to the bot before the 30 minutes are over."""

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        thread = self.get_object(request, pk)
        if not self.model_admin.has_action_permission(request, "reply", thread):
            raise PermissionDenied
        try:
            services.talk_handoff_end(resident=thread, actor=request.user)
        except ChatbotError as exc:
            messages.error(request, exc.message)
        else:
            messages.info(request, _("チャットボットの自動応答を再開しました。"))
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))
