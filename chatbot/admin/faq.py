"""FAQ (with CSV/XLSX import/export), keyword rules and unanswered questions in the admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.forms import ConfirmImportForm, ImportForm

from chatbot import selectors, services
from chatbot.errors import ChatbotError
from chatbot.models import (
    Faq,
    KeywordRule,
    UnansweredQuestion,
)
from chatbot.resources import FaqResource
from municipalities.admin_pages import AdminPage
from municipalities.models import Department
from municipalities.permissions import departments_for_staff
from municipalities.resources import ProjectImportExportMixin
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

# --- FAQ --------------------------------------------------------------------------------------


class FaqImportForm(ImportForm):
    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=gettext_lazy("取り込む課"))


class FaqConfirmImportForm(ConfirmImportForm):
    department = forms.ModelChoiceField(queryset=Department.objects.none(), widget=forms.HiddenInput())


@admin.register(Faq)
class FaqAdmin(ProjectImportExportMixin, DepartmentScopedAdmin):
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
            form.fields["department"].queryset = departments_for_staff(
                user=request.user, perm="chatbot.import_faq"
            )
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
        department = (
            form.cleaned_data.get("department")
            if form is not None and hasattr(form, "cleaned_data")
            else None
        )
        return {"actor": request.user, "department": department}

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"actor": request.user, "department": None}

    def save_with_service(
        self, request: HttpRequest, obj: Faq, form: Any, formsets: Any, change: bool
    ) -> Faq:
        return services.faq_save(
            faq=obj, actor=request.user, created=not change, changed=list(form.changed_data)
        )

    def delete_model(self, request: HttpRequest, obj: Faq) -> None:
        services.faq_delete(faq=obj, actor=request.user)


@admin.register(KeywordRule)
class KeywordRuleAdmin(DepartmentScopedAdmin):
    list_display = ["keyword", "department", "is_active", "updated_at"]
    list_filter = ["is_active", "department"]
    search_fields = ["keyword", "reply"]
    list_select_related = ["department"]
    fields = ["department", "keyword", "reply", "is_active"]

    def save_with_service(
        self, request: HttpRequest, obj: KeywordRule, form: Any, formsets: Any, change: bool
    ) -> KeywordRule:
        return services.keyword_rule_save(rule=obj, actor=request.user, created=not change)

    def delete_model(self, request: HttpRequest, obj: KeywordRule) -> None:
        services.keyword_rule_delete(rule=obj, actor=request.user)


# --- Unanswered questions ---------------------------------------------------------------------


class ResolveForm(forms.Form):
    MODE_NEW, MODE_VARIANT = "new", "variant"
    mode = forms.ChoiceField(
        label=gettext_lazy("登録方法"),
        choices=[
            (MODE_NEW, gettext_lazy("新しい FAQ として登録")),
            (MODE_VARIANT, gettext_lazy("既存の FAQ の言い換えに追加")),
        ],
        widget=forms.RadioSelect,
        initial=MODE_NEW,
    )
    department = forms.ModelChoiceField(
        queryset=Department.objects.none(), label=gettext_lazy("新しい FAQ の課"), required=False
    )
    answer = forms.CharField(
        label=gettext_lazy("回答"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    faq = forms.ModelChoiceField(
        queryset=Faq.objects.none(), label=gettext_lazy("追加先の FAQ"), required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("mode") == self.MODE_NEW and not (
            data.get("department") and (data.get("answer") or "").strip()
        ):
            raise forms.ValidationError(_("新しい FAQ には課と回答が必要です。"))
        if data.get("mode") == self.MODE_VARIANT and not data.get("faq"):
            raise forms.ValidationError(_("追加先の FAQ を選んでください。"))
        return data


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    list_display = ["text", "count", "waiting_count", "last_asked_at", "status", "faq", "resolve_link"]
    list_filter = ["status"]
    search_fields = ["text"]
    list_select_related = ["faq"]
    readonly_fields = [
        "municipality",
        "text",
        "count",
        "last_asked_at",
        "status",
        "faq",
        "created_at",
        "asked_by",
    ]
    fields = readonly_fields
    actions = ["resolve", "send_answer"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_waiting=Count("asks", filter=Q(asks__answered_at__isnull=True)))
        )

    @admin.display(description=gettext_lazy("回答待ちの住民"), ordering="_waiting")
    def waiting_count(self, obj: UnansweredQuestion) -> str:
        return _("%(n)d 人") % {"n": obj._waiting}

    @admin.display(description=gettext_lazy("質問した住民"))
    def asked_by(self, obj: UnansweredQuestion) -> str:
        asks = list(obj.asks.select_related("resident").order_by("-asked_at")[:50])
        if not asks:
            return _("記録がありません。")
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a>（{}・{}）',
            (
                (
                    reverse("admin:chatbot_talkthread_change", args=[ask.resident_id]),
                    ask.resident.display_name or _("名前なし"),
                    date_format(timezone.localtime(ask.asked_at), "n/j H:i"),
                    _("回答を送信済み") if ask.answered_at else _("回答待ち"),
                )
                for ask in asks
            ),
        )

    @admin.action(
        description=gettext_lazy("登録した FAQ の回答を、質問した住民に送る"), permissions=["resolve"]
    )
    def send_answer(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent: list[int] = []

        def send(question: UnansweredQuestion) -> None:
            sent.append(services.unanswered_answer_send(question=question, actor=request.user))

        self.run_service_per_row(request, queryset, send, _("%(n)d 件の質問の回答を送りました。"))
        if sent:
            self.message_user(request, _("送信先: 合計 %(n)d 人") % {"n": sum(sent)}, messages.INFO)

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
            self.message_user(
                request, _("最初の 1 件を開きました。1 件ずつ登録してください。"), messages.WARNING
            )
        return HttpResponseRedirect(reverse("admin:chatbot_unansweredquestion_resolve", args=[question.pk]))

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/resolve/",
                UnansweredResolvePage(self).as_view(),
                name="chatbot_unansweredquestion_resolve",
            ),
            *super().get_urls(),
        ]


class UnansweredResolvePage(AdminPage):
    """Register an unanswered question as a new FAQ or as another wording of an existing one."""

    template = "admin/chatbot/unansweredquestion/resolve.html"
    action = "change"

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        question = self.get_object(request, pk)
        if not self.model_admin.has_action_permission(request, "change", question):
            raise PermissionDenied
        form = ResolveForm(request.POST or None, initial={"answer": ""})
        form.fields["department"].queryset = departments_for_staff(
            user=request.user, perm="chatbot.add_faq"
        ).filter(municipality_id=question.municipality_id)
        form.fields["faq"].queryset = selectors.faqs_for_municipality(
            municipality_id=question.municipality_id, user=request.user
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
            except ChatbotError as exc:
                messages.error(request, exc.message)
            else:
                messages.info(
                    request,
                    _("「%(q)s」を FAQ「%(f)s」に登録しました。") % {"q": question.text, "f": faq.question},
                )
                return HttpResponseRedirect(reverse("admin:chatbot_unansweredquestion_changelist"))
        title = _("FAQ に登録: %(q)s") % {"q": question.text}
        return self.render(request, {"title": title, "question": question, "form": form})
