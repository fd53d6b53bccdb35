"""Staff console for applications: form builder, submissions and their workflow.

Thin: every write is a service call; state changes are actions/buttons, never editable fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from applications.forms import WEEKDAY_CHARS, AnswersForm
from applications.models import (
    ApplicationForm,
    FieldKind,
    FileType,
    FormField,
    PaymentMethod,
)
from applications.services import (
    form_close,
    form_copy,
    form_save,
)
from applications.services.forms import form_reopen
from applications.views import render_form_page
from municipalities import jp
from municipalities.admin_pages import AdminPage
from municipalities.payments import get_provider
from municipalities.scoping import DepartmentScopedAdmin, ScopedStackedInline

# --- form builder ---------------------------------------------------------------------------


class ApplicationFormForm(forms.ModelForm):
    payment_methods = forms.MultipleChoiceField(
        label=_("支払方法"),
        choices=PaymentMethod.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("手数料があるとき、住民が選べる支払方法。"),
    )

    class Meta:
        model = ApplicationForm
        fields = [
            "department",
            "title",
            "description",
            "is_published",
            "opens_at",
            "closes_at",
            "fee",
            "payment_methods",
            "completion_message",
            "one_per_resident",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("fee") and not data.get("payment_methods"):
            self.add_error("payment_methods", _("手数料があるときは支払方法を 1 つ以上選んでください。"))
        department = data.get("department")
        unusable = [
            str(PaymentMethod(m).label)
            for m in data.get("payment_methods") or []
            if department is not None and not get_provider(m).is_configured(department.municipality)
        ]
        if unusable:
            self.add_error(
                "payment_methods",
                _("%(methods)s は自治体の設定（オンライン決済）が済んでいないため選べません。")
                % {"methods": "、".join(unusable)},
            )
        return data


class FormFieldForm(forms.ModelForm):
    file_types = forms.MultipleChoiceField(
        label=_("ファイル形式"), choices=FileType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = FormField
        fields = [
            "position",
            "kind",
            "label",
            "required",
            "staff_only",
            "help_text",
            "max_length",
            "choices",
            "min_choices",
            "max_choices",
            "file_types",
            "max_file_mb",
            "date_range",
            "allowed_weekdays",
            "key",
        ]
        widgets = {
            "help_text": forms.Textarea(attrs={"rows": 2, "cols": 30}),
            "choices": forms.Textarea(attrs={"rows": 3, "cols": 20}),
            "label": forms.TextInput(attrs={"size": 24}),
            "position": forms.NumberInput(attrs={"style": "width:4em"}),
            "max_length": forms.NumberInput(attrs={"style": "width:5em"}),
            "min_choices": forms.NumberInput(attrs={"style": "width:4em"}),
            "max_choices": forms.NumberInput(attrs={"style": "width:4em"}),
            "max_file_mb": forms.NumberInput(attrs={"style": "width:4em"}),
            "key": forms.TextInput(attrs={"size": 8}),
            "allowed_weekdays": forms.TextInput(attrs={"size": 8}),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind in {FieldKind.SINGLE_CHOICE, FieldKind.MULTIPLE_CHOICE, FieldKind.DROPDOWN}:
            if not [c for c in (data.get("choices") or "").splitlines() if c.strip()]:
                self.add_error("choices", _("選択肢を 1 行に 1 つ入力してください。"))
        low, high = data.get("min_choices"), data.get("max_choices")
        if low and high and low > high:
            self.add_error("max_choices", _("最大選択数は最少選択数以上にしてください。"))
        weekdays = jp.normalise_text(data.get("allowed_weekdays") or "").replace("曜", "")
        weekdays = "".join(c for c in weekdays if c not in " ・、,")
        if any(c not in WEEKDAY_CHARS for c in weekdays):
            self.add_error(
                "allowed_weekdays", _("曜日は「月火水木金土日」の文字で入力してください（例: 火金）。")
            )
        else:
            data["allowed_weekdays"] = "".join(c for c in WEEKDAY_CHARS if c in weekdays)
        return data


class FormFieldInline(ScopedStackedInline):
    model = FormField
    form = FormFieldForm
    extra = 0
    ordering = ["position", "pk"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("position", "kind", "label"),
                    ("required", "staff_only", "max_length", "key"),
                    "help_text",
                ]
            },
        ),
        (_("選択肢（選択・プルダウン）"), {"fields": ["choices", ("min_choices", "max_choices")]}),
        (_("ファイル添付"), {"fields": [("file_types", "max_file_mb")]}),
        (_("日付"), {"fields": [("date_range", "allowed_weekdays")]}),
    ]


@admin.register(ApplicationForm)
class ApplicationFormAdmin(DepartmentScopedAdmin):
    form = ApplicationFormForm
    inlines = [FormFieldInline]
    list_display = ["title", "department", "acceptance", "fee_label", "submission_count", "closes_at"]
    list_select_related = ["department"]
    list_filter = ["department", "is_published"]
    search_fields = ["title"]
    actions = ["copy_forms", "close_forms", "reopen_forms"]
    fieldsets = [
        (None, {"fields": ["department", "title", "description"]}),
        (_("受付"), {"fields": ["is_published", ("opens_at", "closes_at"), "one_per_resident"]}),
        (_("手数料"), {"fields": ["fee", "payment_methods"]}),
        (_("申請後"), {"fields": ["completion_message"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_submissions=Count("submissions"))

    @admin.display(description=_("受付状況"))
    def acceptance(self, obj: ApplicationForm) -> str:
        return obj.acceptance_label()

    @admin.display(description=_("手数料"), ordering="fee")
    def fee_label(self, obj: ApplicationForm) -> str:
        return f"{obj.fee:,}円" if obj.fee else "無料"

    @admin.display(description=_("申請"), ordering="_submissions")
    def submission_count(self, obj: ApplicationForm) -> str:
        url = reverse("admin:applications_submission_changelist") + f"?form__id__exact={obj.pk}"
        return format_html('<a href="{}">{} 件</a>', url, getattr(obj, "_submissions", 0))

    def save_with_service(self, request, obj, form, formsets, change):  # type: ignore[no-untyped-def]
        return form_save(form=obj, formsets=formsets, created=not change, actor=request.user)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:object_id>/preview/",
                FormPreviewPage(self).as_view(),
                name="applications_applicationform_preview",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra = {
            "preview_url": reverse("admin:applications_applicationform_preview", args=[object_id]),
            "submissions_url": reverse("admin:applications_submission_changelist")
            + f"?form__id__exact={object_id}",
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _run(self, request: HttpRequest, queryset: QuerySet, service: Any, done_message: str) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda form: service(form=form, actor=request.user),
            done_message,
            select_related=["department"],
        )

    @admin.action(description=_("コピーする（非公開で作成）"), permissions=["add"])
    def copy_forms(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, form_copy, _("%(n)d 件のフォームをコピーしました。"))

    @admin.action(description=_("受付を締め切る（申請は残ります）"), permissions=["change"])
    def close_forms(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, form_close, _("%(n)d 件のフォームを締め切りました。"))

    @admin.action(description=_("締切を取り消す"), permissions=["change"])
    def reopen_forms(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, form_reopen, _("%(n)d 件のフォームの締切を取り消しました。"))


class FormPreviewPage(AdminPage):
    """The form exactly as residents see it (no submit)."""

    def handle(self, request: HttpRequest, object_id: int) -> HttpResponse:
        obj = self.get_object(request, object_id)
        answers_form = AnswersForm(form_fields=list(obj.fields.all()))
        if request.method == "POST":  # staff may try the validation; nothing is saved
            answers_form = AnswersForm(request.POST, request.FILES, form_fields=list(obj.fields.all()))
            answers_form.is_valid()
        return render_form_page(request, form=obj, answers_form=answers_form, preview=True)


# Submissions are registered in their own module (split by topic); payments are the core's.
from applications import admin_submissions  # noqa: E402, F401
