"""The talk hand-off: residents by latest message, their talk, a reply form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbot import selectors, services
from chatbot.errors import ChatbotError
from chatbot.models import Handoff, HandoffRoute, TalkThread
from municipalities.admin_pages import AdminPage
from municipalities.line.talklog import tap_labels
from municipalities.models import TalkMessage
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

# --- Talk hand-off ----------------------------------------------------------------------------


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("返信"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    pause_bot = forms.BooleanField(
        label=gettext_lazy("返信と同時にチャットボットの自動応答を止める"), required=False
    )


class HandoffFilter(admin.SimpleListFilter):
    """対応状況, in words staff use (not the stored codes)."""

    title = gettext_lazy("対応状況")
    parameter_name = "handoff"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("waiting", gettext_lazy("職員の返事待ち")),
            ("active", gettext_lazy("職員が対応中")),
            ("open", gettext_lazy("職員対応が必要なもの（返事待ち・対応中）")),
            ("none", gettext_lazy("自動応答のみ")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        open_handoffs = Handoff.objects.exclude(status=Handoff.Status.DONE)
        if value in {"waiting", "active"}:
            return queryset.filter(pk__in=open_handoffs.filter(status=value).values("resident_id"))
        if value == "open":
            return queryset.filter(pk__in=open_handoffs.values("resident_id"))
        if value == "none":
            return queryset.exclude(pk__in=open_handoffs.values("resident_id"))
        return queryset


@admin.register(TalkThread)
class TalkThreadAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    """Residents by their latest message; a resident's page shows the talk and a reply form."""

    list_display = ["__str__", "handoff_status", "area", "last_talk_at", "inbound_count"]
    list_select_related = ["area"]
    list_filter = [HandoffFilter]
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
            .annotate(
                _handoff=Subquery(
                    Handoff.objects.exclude(status=Handoff.Status.DONE)
                    .filter(resident=OuterRef("pk"))
                    .values("status")[:1]
                ),
                _unread=Subquery(
                    Handoff.objects.exclude(status=Handoff.Status.DONE)
                    .filter(resident=OuterRef("pk"))
                    .values("unread")[:1]
                ),
            )
            .order_by(F("_handoff").desc(nulls_last=True), F("_last_talk").desc(nulls_last=True), "pk")
        )

    @admin.display(description=gettext_lazy("対応状況"), ordering="_handoff")
    def handoff_status(self, obj: TalkThread) -> str:
        if not obj._handoff:
            return _("自動応答")
        label = str(Handoff.Status(obj._handoff).label)
        return label + (_("（新着 %(n)d 件）") % {"n": obj._unread} if obj._unread else "")

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
            path("<int:pk>/pause/", TalkPausePage(self).as_view(), name="chatbot_talkthread_pause"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        thread = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if thread is not None:
            state = selectors.chat_state_get(resident=thread)
            talk = selectors.talk_for_resident(resident=thread, user=request.user)
            taps = tap_labels(talk)
            for message in talk:
                message.shown_text = taps.get(message.pk, message.text)
            extra.update(
                talk=talk,
                handoff=services.handoff_open_get(resident=thread),
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
                services.talk_reply_send(
                    resident=thread,
                    text=form.cleaned_data["text"],
                    actor=request.user,
                    pause_bot=form.cleaned_data["pause_bot"],
                )
            except ChatbotError as exc:
                messages.error(request, exc.message)
            else:
                messages.info(request, _("返信を送りました。"))
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        # Back to the end of the talk, where the reply box is: no jump to the top of the page.
        return reverse("admin:chatbot_talkthread_change", args=[kwargs["pk"]]) + "#talk-end"


class TalkResumePage(TalkReplyPage):
    """対応完了: close the resident's hand-off; the bot answers again at once."""

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        thread = self.get_object(request, pk)
        if not self.model_admin.has_action_permission(request, "reply", thread):
            raise PermissionDenied
        try:
            services.talk_handoff_end(resident=thread, actor=request.user)
        except ChatbotError as exc:
            messages.error(request, exc.message)
        else:
            messages.info(request, _("対応完了にしました。チャットボットが再び自動応答します。"))
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))


class TalkPausePage(TalkReplyPage):
    """Pause the bot for this resident (until 対応完了 or the town's pause time)."""

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        thread = self.get_object(request, pk)
        if not self.model_admin.has_action_permission(request, "reply", thread):
            raise PermissionDenied
        try:
            state = services.talk_bot_pause(resident=thread, actor=request.user)
        except ChatbotError as exc:
            messages.error(request, exc.message)
        else:
            messages.info(
                request,
                _("%(until)s までチャットボットの自動応答を止めました。")
                % {"until": timezone.localtime(state.silenced_until).strftime("%H:%M")},
            )
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))


# --- Topic routes -----------------------------------------------------------------------------


@admin.register(HandoffRoute)
class HandoffRouteAdmin(DepartmentScopedAdmin):
    """話題 → 課: which department's inbox receives the hand-offs about a topic."""

    list_display = ["topic", "department", "keywords_display", "sort_order", "is_active"]
    list_filter = ["is_active", "department"]
    search_fields = ["topic", "keywords"]
    list_select_related = ["department"]
    fields = ["department", "topic", "keywords", "sort_order", "is_active"]

    @admin.display(description=gettext_lazy("言葉"))
    def keywords_display(self, obj: HandoffRoute) -> str:
        return "、".join(obj.keyword_list())

    def save_with_service(
        self, request: HttpRequest, obj: HandoffRoute, form: Any, formsets: Any, change: bool
    ) -> HandoffRoute:
        return services.handoff_route_save(route=obj, actor=request.user, created=not change)

    def delete_model(self, request: HttpRequest, obj: HandoffRoute) -> None:
        services.handoff_route_delete(route=obj, actor=request.user)
