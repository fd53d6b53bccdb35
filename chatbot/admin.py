"""The chatbot console: FAQ (with CSV/XLSX import/export), keyword rules, unanswered questions,
the garbage dictionary with its 5374 upload, and the talk hand-off. Thin: forms and views that
call the services in services.py / garbage_import.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from chatbot import services
from chatbot.errors import ChatbotError, GarbageImportError
from chatbot.garbage_import import FILES, garbage_import
from chatbot.matching import invalidate
from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    CollectionRule,
    Faq,
    GarbageCategory,
    GarbageItem,
    KeywordRule,
    TalkThread,
    UnansweredQuestion,
)
from chatbot.resources import FaqResource
from municipalities import permissions
from municipalities.models import Department, Municipality, TalkMessage
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin


def departments_for(user: Any, perm: str) -> QuerySet[Department]:
    """Departments where ``user`` holds ``perm`` (for choosing the tenant of an import)."""
    qs = Department.objects.select_related("municipality")
    if user.is_superuser:
        return qs
    scope = permissions.Scope(user, perm)
    return qs.filter(Q(pk__in=scope.department_ids) | Q(municipality_id__in=scope.admin_municipality_ids))


# --- FAQ --------------------------------------------------------------------------------------


class FaqImportForm(ImportForm):
    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=gettext_lazy("取り込む課"))


class FaqConfirmImportForm(ConfirmImportForm):
    department = forms.ModelChoiceField(queryset=Department.objects.none(), widget=forms.HiddenInput())


@admin.register(Faq)
class FaqAdmin(ImportExportMixin, DepartmentScopedAdmin):
    resource_classes = [FaqResource]
    import_form_class = FaqImportForm
    confirm_form_class = FaqConfirmImportForm
    list_display = ["question", "department", "is_published", "link_label", "updated_at"]
    list_filter = ["is_published", "department"]
    search_fields = ["question", "variants", "answer"]
    list_select_related = ["department"]
    fields = ["department", "question", "variants", "answer", "link_label", "link_url", "is_published"]

    def _limit_departments(self, request: HttpRequest, form: forms.Form) -> forms.Form:
        if "department" in form.fields:
            form.fields["department"].queryset = departments_for(request.user, "chatbot.import_faq")
        return form

    def create_import_form(self, request: HttpRequest) -> forms.Form:
        return self._limit_departments(request, super().create_import_form(request))

    def create_confirm_form(self, request: HttpRequest, import_form: forms.Form | None = None) -> forms.Form:
        return self._limit_departments(request, super().create_confirm_form(request, import_form))

    def get_confirm_form_initial(self, request: HttpRequest, import_form: forms.Form) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["department"] = import_form.cleaned_data["department"].pk
        return initial

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        department = form.cleaned_data.get("department") if form is not None and hasattr(form, "cleaned_data") else None
        return {"actor": request.user, "department": department}

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request.user, "department": None}

    def save_with_service(self, request: HttpRequest, obj: Faq, form: Any, formsets: Any, change: bool) -> Faq:
        return services.faq_save(faq=obj, actor=request.user, created=not change, changed=list(form.changed_data))

    def delete_model(self, request: HttpRequest, obj: Faq) -> None:
        services.faq_delete(faq=obj, actor=request.user)


@admin.register(KeywordRule)
class KeywordRuleAdmin(DepartmentScopedAdmin):
    list_display = ["keyword", "department", "is_active", "updated_at"]
    list_filter = ["is_active", "department"]
    search_fields = ["keyword", "reply"]
    list_select_related = ["department"]
    fields = ["department", "keyword", "reply", "is_active"]

    def save_with_service(self, request: HttpRequest, obj: KeywordRule, form: Any, formsets: Any, change: bool) -> KeywordRule:
        return services.keyword_rule_save(rule=obj, actor=request.user, created=not change)

    def delete_model(self, request: HttpRequest, obj: KeywordRule) -> None:
        services.keyword_rule_delete(rule=obj, actor=request.user)


# --- Unanswered questions ---------------------------------------------------------------------


class ResolveForm(forms.Form):
    MODE_NEW, MODE_VARIANT = "new", "variant"
    mode = forms.ChoiceField(
        label=gettext_lazy("登録方法"),
        choices=[(MODE_NEW, gettext_lazy("新しい FAQ として登録")), (MODE_VARIANT, gettext_lazy("既存の FAQ の言い換えに追加"))],
        widget=forms.RadioSelect,
        initial=MODE_NEW,
    )
    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=gettext_lazy("新しい FAQ の課"), required=False)
    answer = forms.CharField(label=gettext_lazy("回答"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    faq = forms.ModelChoiceField(queryset=Faq.objects.none(), label=gettext_lazy("追加先の FAQ"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("mode") == self.MODE_NEW and not (data.get("department") and (data.get("answer") or "").strip()):
            raise forms.ValidationError(_("新しい FAQ には課と回答が必要です。"))
        if data.get("mode") == self.MODE_VARIANT and not data.get("faq"):
            raise forms.ValidationError(_("追加先の FAQ を選んでください。"))
        return data


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    list_display = ["text", "count", "last_asked_at", "status", "faq", "resolve_link"]
    list_filter = ["status"]
    search_fields = ["text"]
    list_select_related = ["faq"]
    readonly_fields = ["municipality", "text", "count", "last_asked_at", "status", "faq", "created_at"]
    fields = readonly_fields
    actions = ["resolve"]

    @admin.display(description=gettext_lazy("操作"))
    def resolve_link(self, obj: UnansweredQuestion) -> str:
        if obj.status != UnansweredQuestion.Status.OPEN:
            return "—"
        url = reverse("admin:chatbot_unansweredquestion_resolve", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("FAQ に登録"))

    def has_resolve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "change", obj)

    @admin.action(description=gettext_lazy("FAQ に登録する（1 件ずつ）"), permissions=["resolve"])
    def resolve(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        question = queryset.first()
        if question is None:
            return None
        if queryset.count() > 1:
            self.message_user(request, _("最初の 1 件を開きました。1 件ずつ登録してください。"), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:chatbot_unansweredquestion_resolve", args=[question.pk]))

    def get_urls(self) -> list[Any]:
        return [
            path("<int:pk>/resolve/", self.admin_site.admin_view(self.resolve_view), name="chatbot_unansweredquestion_resolve"),
            *super().get_urls(),
        ]

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        question = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_action_permission(request, "change", question):
            raise PermissionDenied
        form = ResolveForm(request.POST or None, initial={"answer": ""})
        form.fields["department"].queryset = departments_for(request.user, "chatbot.add_faq").filter(
            municipality_id=question.municipality_id
        )
        form.fields["faq"].queryset = permissions.policy_for(Faq).instances_user_has_permission_for(
            request.user, "change", Faq.objects.filter(department__municipality_id=question.municipality_id).select_related("department")
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                faq = services.unanswered_resolve(
                    question=question,
                    actor=request.user,
                    faq=data["faq"] if data["mode"] == ResolveForm.MODE_VARIANT else None,
                    department=data["department"] if data["mode"] == ResolveForm.MODE_NEW else None,
                    answer=data.get("answer") or "",
                )
            except (ChatbotError, PermissionDenied) as exc:
                self.message_user(request, getattr(exc, "message", _("この FAQ を変更する権限がありません。")), messages.ERROR)
            else:
                self.message_user(request, _("「%(q)s」を FAQ「%(f)s」に登録しました。") % {"q": question.text, "f": faq.question})
                return HttpResponseRedirect(reverse("admin:chatbot_unansweredquestion_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("FAQ に登録: %(q)s") % {"q": question.text},
            "question": question,
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/chatbot/unansweredquestion/resolve.html", context)


# --- Garbage data -----------------------------------------------------------------------------


class GarbageUploadForm(forms.Form):
    municipality = forms.ModelChoiceField(queryset=Municipality.objects.none(), label=gettext_lazy("自治体"))
    area_days = forms.FileField(label="area_days.csv", help_text=gettext_lazy("地区ごとの収集日（必須）"))
    target = forms.FileField(label="target.csv", help_text=gettext_lazy("品目と分類（必須）"))
    description = forms.FileField(label="description.csv", required=False, help_text=gettext_lazy("分類名と色"))
    center = forms.FileField(label="center.csv", required=False, help_text=gettext_lazy("センターの休止期間"))
    remarks = forms.FileField(label="remarks.csv", required=False, help_text=gettext_lazy("注意事項"))

    MAX_BYTES = 5 * 1024 * 1024

    def files_by_name(self) -> dict[str, bytes]:
        result = {}
        for name in FILES:
            upload = self.cleaned_data.get(name.removesuffix(".csv"))
            if upload:
                if upload.size > self.MAX_BYTES:
                    raise forms.ValidationError(_("%(n)s が大きすぎます（5MB まで）。") % {"n": name})
                result[name] = upload.read()
        return result


class GarbageAdminBase(DepartmentScopedAdmin):
    def save_with_service(self, request: HttpRequest, obj: Any, form: Any, formsets: Any, change: bool) -> Any:
        saved = super().save_with_service(request, obj, form, formsets, change)
        invalidate(obj.municipality_id)  # the generic save has committed: refresh the answers
        return saved

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        invalidate(obj.municipality_id)


@admin.register(GarbageCategory)
class GarbageCategoryAdmin(GarbageAdminBase):
    list_display = ["label", "color", "sort_order", "item_count", "municipality"]
    list_select_related = ["municipality"]
    fields = ["municipality", "label", "sublabel", "description", "color", "sort_order"]
    change_list_template = "admin/chatbot/garbagecategory/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_items=Count("items"))

    @admin.display(description=gettext_lazy("品目数"), ordering="_items")
    def item_count(self, obj: GarbageCategory) -> int:
        return obj._items

    def get_urls(self) -> list[Any]:
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="chatbot_garbage_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_superuser:
            towns = Municipality.objects.all()
        else:
            scope = permissions.Scope(request.user, "chatbot.import_garbageitem")
            towns = Municipality.objects.filter(pk__in=scope.municipality_ids)
        if not towns.exists():
            raise PermissionDenied
        form = GarbageUploadForm(request.POST or None, request.FILES or None)
        form.fields["municipality"].queryset = towns
        if towns.count() == 1:
            form.fields["municipality"].initial = towns.first()
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                result = garbage_import(
                    municipality=form.cleaned_data["municipality"], files=form.files_by_name(), actor=request.user
                )
            except GarbageImportError as exc:
                problems = [str(p) for p in exc.problems]
                self.message_user(request, exc.message.splitlines()[0], messages.ERROR)
            except forms.ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("取り込みました: 分類 %(c)d / 品目 %(i)d / 地区 %(a)d（新規 %(n)d）/ 休止期間 %(h)d") % {
                        "c": result.categories, "i": result.items, "a": result.areas, "n": result.areas_created, "h": result.holidays
                    },
                )
                for note in result.notes[:20]:
                    self.message_user(request, note, messages.WARNING)
                return HttpResponseRedirect(reverse("admin:chatbot_garbagecategory_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("5374 形式のごみデータを取り込む"),
            "form": form,
            "problems": problems,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/chatbot/garbagecategory/upload.html", context)


@admin.register(GarbageItem)
class GarbageItemAdmin(GarbageAdminBase):
    list_display = ["name", "category", "notice", "kana"]
    list_filter = ["category"]
    search_fields = ["name", "kana", "notice"]
    list_select_related = ["category"]
    fields = ["municipality", "category", "name", "kana", "notice"]


class CollectionRuleInline(admin.TabularInline):
    model = CollectionRule
    extra = 0
    fields = ["category", "rule"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and permissions.policy_for(CollectionRule).user_has_permission_for_instance(request.user, "change", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or permissions.policy_for(AreaCalendar).user_has_permission_for_instance(request.user, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


@admin.register(AreaCalendar)
class AreaCalendarAdmin(GarbageAdminBase):
    list_display = ["area", "center", "municipality"]
    list_select_related = ["area", "municipality"]
    search_fields = ["area__name"]
    fields = ["municipality", "area", "center"]
    inlines = [CollectionRuleInline]


@admin.register(CenterHoliday)
class CenterHolidayAdmin(GarbageAdminBase):
    list_display = ["center", "starts_on", "ends_on", "policy", "municipality"]
    list_filter = ["policy", "center"]
    list_select_related = ["municipality"]
    fields = ["municipality", "center", "starts_on", "ends_on", "policy"]


# --- Talk hand-off ----------------------------------------------------------------------------


class ReplyForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("返信"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


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
                _inbound=Count("talk_messages", filter=Q(talk_messages__direction=TalkMessage.Direction.INBOUND)),
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
            path("<int:pk>/reply/", self.admin_site.admin_view(self.reply_view), name="chatbot_talkthread_reply"),
            path("<int:pk>/resume/", self.admin_site.admin_view(self.resume_view), name="chatbot_talkthread_resume"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        thread = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if thread is not None:
            talk = list(TalkMessage.objects.filter(resident=thread).select_related("sent_by").order_by("-created_at", "-pk")[:50])
            state = services.chat_state_get(resident=thread)
            extra.update(
                talk=talk[::-1],
                reply_form=ReplyForm(),
                may_reply=self.has_action_permission(request, "reply", thread),
                silenced=services.is_silenced(state),
                chat_state=state,
            )
        return super().change_view(request, object_id, form_url, extra)

    def reply_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        thread = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST" or not self.has_action_permission(request, "reply", thread):
            raise PermissionDenied
        form = ReplyForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("返信の内容を入力してください（4000 文字まで）。"), messages.ERROR)
        else:
            try:
                services.talk_reply_send(resident=thread, text=form.cleaned_data["text"], actor=request.user)
            except (ChatbotError, PermissionDenied) as exc:
                self.message_user(request, getattr(exc, "message", _("返信する権限がありません。")), messages.ERROR)
            else:
                self.message_user(request, _("返信を送りました。30 分間はチャットボットが自動応答しません。"))
        return HttpResponseRedirect(reverse("admin:chatbot_talkthread_change", args=[thread.pk]))

    def resume_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        thread = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST" or not self.has_action_permission(request, "reply", thread):
            raise PermissionDenied
        try:
            services.talk_handoff_end(resident=thread, actor=request.user)
        except PermissionDenied:
            self.message_user(request, _("この操作をする権限がありません。"), messages.ERROR)
        else:
            self.message_user(request, _("チャットボットの自動応答を再開しました。"))
        return HttpResponseRedirect(reverse("admin:chatbot_talkthread_change", args=[thread.pk]))
