"""The broadcast console: compose with a live recipient count and a LINE-like preview, move
through the workflow with actions and buttons, watch progress and results. Thin: every change
is a service call (STYLE R9)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from broadcasts import rendering
from broadcasts.errors import BroadcastError
from broadcasts.models import (
    BatchStatus,
    Broadcast,
    BroadcastMessage,
    BroadcastStatus,
    DeliveryBatch,
    SendMode,
)
from broadcasts.selectors import broadcast_progress, recipients_for_broadcast, recipients_for_segment
from broadcasts.services import (
    broadcast_approve,
    broadcast_cancel,
    broadcast_emergency_send,
    broadcast_return_to_draft,
    broadcast_save,
    broadcast_submit,
    broadcast_test_send,
)
from municipalities.admin_pages import AdminPage
from municipalities.models import AgeBand, Interest
from municipalities.permissions import departments_for_staff, policy_for
from municipalities.scoping import DepartmentScopedAdmin, ScopedStackedInline, ScopedTabularInline

STATUS_COLOURS = {
    BroadcastStatus.DRAFT: "#6b7280",
    BroadcastStatus.PENDING: "#b45309",
    BroadcastStatus.APPROVED: "#1d4ed8",
    BroadcastStatus.SCHEDULED: "#1d4ed8",
    BroadcastStatus.SENDING: "#7c3aed",
    BroadcastStatus.SENT: "#15803d",
    BroadcastStatus.PARTIAL: "#b91c1c",
    BroadcastStatus.CANCELLED: "#374151",
}


class BroadcastMessageForm(forms.ModelForm):
    image_url = forms.URLField(
        label=gettext_lazy("画像の URL"),
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text=gettext_lazy("ファイルの代わりに https の URL を指定できます。"),
    )
    link_url = forms.URLField(
        label=gettext_lazy("ボタンのリンク先"), required=False, max_length=1000, assume_scheme="https"
    )

    class Meta:
        model = BroadcastMessage
        fields = ["kind", "text", "image", "image_url", "card_title", "link_label", "link_url"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "data-utf16-max": rendering.MAX_TEXT_UTF16})}

    def clean_image(self) -> Any:
        image = self.cleaned_data.get("image")
        if image and hasattr(image, "content_type"):  # a new upload
            for problem in rendering.check_image_upload(image):
                raise forms.ValidationError(problem)
        return image

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.cleaned_data.get("DELETE"):
            return data
        errors = rendering.check_message(
            kind=data.get("kind") or "",
            text=data.get("text") or "",
            has_image=bool(data.get("image")),
            image_url=data.get("image_url") or "",
            card_title=data.get("card_title") or "",
            link_label=data.get("link_label") or "",
            link_url=data.get("link_url") or "",
        )
        for field, message in errors.items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, message)
        return data


class BroadcastMessageFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.has_changed() or f.instance.pk]
        kept = [f for f in kept if not (f.cleaned_data or {}).get("DELETE")]
        if not kept:
            raise forms.ValidationError(_("メッセージを 1 件以上入力してください。"))
        if len(kept) > rendering.MAX_MESSAGES:
            raise forms.ValidationError(
                _("メッセージは 5 件までです（%(n)s 件あります）。") % {"n": len(kept)}
            )


class BroadcastMessageInline(ScopedStackedInline):
    model = BroadcastMessage
    form = BroadcastMessageForm
    formset = BroadcastMessageFormSet
    extra = 0
    min_num = 1
    max_num = rendering.MAX_MESSAGES
    validate_max = True
    classes = ["broadcast-messages"]
    verbose_name = gettext_lazy("メッセージ")
    verbose_name_plural = gettext_lazy("メッセージ（1〜5 件。LINE では上から順に表示されます）")

    def _editable(self, request: HttpRequest, obj: Broadcast | None) -> bool:
        if obj is not None and not obj.is_editable:
            return False
        return policy_for(Broadcast).user_has_permission(request.user, "add" if obj is None else "change")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_delete_permission(request, obj)


class FailedBatchInline(ScopedTabularInline):
    """The batches LINE refused, with LINE's message (the others need no attention)."""

    model = DeliveryBatch
    fields = ["seq", "size", "attempts", "http_status", "error_message", "updated_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name = gettext_lazy("失敗したバッチ")
    verbose_name_plural = gettext_lazy("失敗したバッチ（LINE の応答）")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(status=BatchStatus.FAILED).defer("line_user_ids")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BroadcastForm(forms.ModelForm):
    age_bands = forms.MultipleChoiceField(
        label=gettext_lazy("年代"),
        choices=AgeBand.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("選ばないときはすべての年代です。"),
    )

    class Meta:
        model = Broadcast
        fields = [
            "title",
            "department",
            "is_emergency",
            "category",
            "areas",
            "age_bands",
            "send_mode",
            "scheduled_at",
            "recurrence",
            "recurrence_until",
        ]
        widgets = {"send_mode": forms.RadioSelect}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "category" not in self.fields:  # read-only (not a draft): the service refuses changes
            return data
        if data.get("is_emergency"):
            data["category"] = None
        elif not data.get("category"):
            self.add_error("category", _("分野を選ぶか、「緊急」にしてください。"))
        if data.get("send_mode") == SendMode.AT:
            at = data.get("scheduled_at")
            if at is None:
                self.add_error("scheduled_at", _("配信日時を入力してください。"))
            elif at <= timezone.now():
                self.add_error("scheduled_at", _("配信日時が過去です。これから先の日時にしてください。"))
        if data.get("recurrence"):
            if data.get("send_mode") != SendMode.AT:
                self.add_error(
                    "recurrence", _("繰り返し配信は「日時を指定して配信」で最初の配信日時を決めてください。")
                )
            until = data.get("recurrence_until")
            if until is None:
                self.add_error("recurrence_until", _("繰り返しの終了日を入力してください。"))
            elif data.get("scheduled_at") and until < timezone.localdate(data["scheduled_at"]):
                self.add_error("recurrence_until", _("終了日が最初の配信日より前です。"))
        return data


def _status_badge(obj: Broadcast) -> str:
    colour = STATUS_COLOURS.get(obj.status, "#374151")
    return format_html(
        '<span class="bc-status" style="background:{}">{}</span>', colour, obj.get_status_display()
    )


def _progress_bar(done: int, total: int, failed: int = 0) -> str:
    percent = int(100 * done / total) if total else 100
    failed_percent = int(100 * failed / total) if total else 0
    return format_html(
        '<div class="bc-progress" role="progressbar" aria-valuemin="0" aria-valuemax="{}" aria-valuenow="{}">'
        '<div class="bc-progress-done" style="width:{}%"></div><div class="bc-progress-failed" style="width:{}%"></div>'
        '</div><span class="bc-progress-label">{} / {}（{}%）</span>',
        total,
        done,
        max(percent - failed_percent, 0),
        failed_percent,
        f"{done:,}",
        f"{total:,}",
        percent,
    )


@admin.register(Broadcast)
class BroadcastAdmin(DepartmentScopedAdmin):
    form = BroadcastForm
    inlines = [BroadcastMessageInline, FailedBatchInline]
    list_display = [
        "title",
        "department",
        "status_badge",
        "category_label",
        "when",
        "recipients_col",
        "progress_col",
        "delivered_col",
        "failed_col",
        "block_rate_col",
    ]
    list_select_related = ["department", "category"]
    filter_horizontal = ["areas"]  # a town may have hundreds of districts
    list_filter = ["status", "is_emergency", "department", "category"]
    search_fields = ["title"]
    date_hierarchy = "created_at"
    actions = ["submit_action", "approve_action", "return_action", "cancel_action"]
    readonly_fields = [
        "status_badge",
        "recipient_preview",
        "workflow_summary",
        "delivery_summary",
    ]
    change_form_template = "admin/broadcasts/broadcast/change_form.html"

    class Media:
        css = {"all": ["cms/broadcasts/admin.css"]}
        js = ["cms/broadcasts/compose.js"]

    def get_inline_instances(self, request: HttpRequest, obj: Broadcast | None = None) -> list[Any]:
        inlines = super().get_inline_instances(request, obj)
        has_failures = obj is not None and obj.batches.filter(status=BatchStatus.FAILED).exists()
        return [i for i in inlines if not isinstance(i, FailedBatchInline) or has_failures]

    def get_fieldsets(self, request: HttpRequest, obj: Broadcast | None = None) -> Any:
        summary = (_("状態"), {"fields": ["status_badge", "workflow_summary", "delivery_summary"]})
        main = [
            (None, {"fields": ["title", "department"]}),
            (
                _("届ける相手"),
                {
                    "fields": ["is_emergency", "category", "areas", "age_bands", "recipient_preview"],
                    "description": _(
                        "分野を受け取ると設定した住民のうち、地区・年代が合う人に届きます。緊急は友だち全員に届きます。"
                    ),
                },
            ),
            (_("配信日時"), {"fields": ["send_mode", "scheduled_at", "recurrence", "recurrence_until"]}),
        ]
        return [summary, *main] if obj is not None else main

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> Any:
        if obj is not None and not obj.is_editable:
            return [*self.readonly_fields, *BroadcastForm.Meta.fields]
        return self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> Any:
        done = (
            DeliveryBatch.objects.filter(
                broadcast=OuterRef("pk"),
                status__in=[BatchStatus.SENT, BatchStatus.FAILED, BatchStatus.CANCELLED],
            )
            .order_by()
            .values("broadcast")
            .annotate(n=Sum("size"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(progress_done=Coalesce(Subquery(done, output_field=IntegerField()), 0))
        )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        departments = departments_for_staff(user=request.user, perm="broadcasts.add_broadcast")
        if "department" not in initial and departments.count() == 1:
            initial["department"] = departments.first().pk
        return initial

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "category" and not request.user.is_superuser:
            kwargs["queryset"] = Interest.objects.filter(municipality_id=request.user.municipality_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None:
            field.help_text = _("選ばないときはすべての地区です。")
        return field

    # --- columns and read-only panels ---------------------------------------------------------

    @admin.display(description=gettext_lazy("状態"), ordering="status")
    def status_badge(self, obj: Broadcast) -> str:
        return _status_badge(obj)

    @admin.display(description=gettext_lazy("分野"))
    def category_label(self, obj: Broadcast) -> str:
        if obj.is_emergency:
            return format_html('<strong class="bc-emergency">{}</strong>', _("緊急"))
        return obj.category.name if obj.category_id else "-"

    @admin.display(description=gettext_lazy("配信日時"), ordering="scheduled_at")
    def when(self, obj: Broadcast) -> str:
        at = obj.started_at or obj.scheduled_at
        if at is None:
            return _("承認後すぐ") if obj.send_mode == SendMode.NOW else "-"
        label = timezone.localtime(at).strftime("%Y/%m/%d %H:%M")
        if obj.recurrence:
            label += f"（{obj.get_recurrence_display()}）"
        return label

    @admin.display(description=gettext_lazy("配信対象"))
    def recipients_col(self, obj: Broadcast) -> str:
        return f"{obj.recipient_count:,}" if obj.started_at else "-"

    @admin.display(description=gettext_lazy("進み具合"))
    def progress_col(self, obj: Broadcast) -> str:
        if obj.status != BroadcastStatus.SENDING:
            return "-"
        return _progress_bar(getattr(obj, "progress_done", 0), obj.recipient_count)

    @admin.display(description=gettext_lazy("成功"))
    def delivered_col(self, obj: Broadcast) -> str:
        return f"{obj.delivered_count:,}" if obj.finished_at else "-"

    @admin.display(description=gettext_lazy("失敗"))
    def failed_col(self, obj: Broadcast) -> str:
        return f"{obj.failed_count:,}" if obj.finished_at else "-"

    @admin.display(description=gettext_lazy("24時間のブロック率"))
    def block_rate_col(self, obj: Broadcast) -> str:
        if obj.unfollow_count is None or not obj.delivered_count:
            return "-"
        rate = 100 * obj.unfollow_count / obj.delivered_count
        suffix = "" if obj.unfollows_counted_at else _("（集計中）")
        return f"{rate:.2f}%（{obj.unfollow_count:,}人）{suffix}"

    @admin.display(description=gettext_lazy("届く人数"))
    def recipient_preview(self, obj: Broadcast | None) -> str:
        if obj is not None and obj.pk and not obj.is_editable:
            if obj.started_at:
                return _("%(n)s 人（配信開始時）") % {"n": f"{obj.recipient_count:,}"}
            count = recipients_for_broadcast(broadcast=obj).count()
            return _("約 %(n)s 人に届きます（現在の受信設定による）") % {"n": f"{count:,}"}
        return format_html(
            '<output id="recipient-count" data-url="{}" aria-live="polite">{}</output>',
            reverse("admin:broadcasts_broadcast_recipient_count"),
            _("（条件を選ぶと人数を表示します）"),
        )

    @admin.display(description=gettext_lazy("承認"))
    def workflow_summary(self, obj: Broadcast) -> str:
        rows = []

        def when(at: Any) -> str:
            return timezone.localtime(at).strftime("%Y/%m/%d %H:%M") if at else ""

        if obj.submitted_at:
            rows.append(
                _("申請: %(at)s %(who)s") % {"at": when(obj.submitted_at), "who": obj.submitted_by or ""}
            )
        if obj.approved_at:
            rows.append(
                _("承認: %(at)s %(who)s") % {"at": when(obj.approved_at), "who": obj.approved_by or ""}
            )
        if obj.cancelled_at:
            rows.append(
                _("取消: %(at)s %(who)s") % {"at": when(obj.cancelled_at), "who": obj.cancelled_by or ""}
            )
        if obj.review_comment:
            rows.append(_("差し戻しの理由: %(c)s") % {"c": obj.review_comment})
        return format_html("<br>".join(["{}"] * len(rows)), *rows) if rows else "-"

    @admin.display(description=gettext_lazy("配信結果"))
    def delivery_summary(self, obj: Broadcast) -> str:
        if obj.started_at is None:
            return "-"
        progress = broadcast_progress(broadcast=obj)
        bar = _progress_bar(progress.done, progress.total, progress.failed)
        block = self.block_rate_col(obj)
        return format_html(
            '<div id="bc-progress" data-url="{}" data-status="{}">{}</div>'
            '<dl class="bc-figures"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id="bc-sent">{}</dd>'
            '<dt>{}</dt><dd id="bc-failed">{}</dd><dt>{}</dt><dd>{}</dd></dl>',
            reverse("admin:broadcasts_broadcast_progress", args=[obj.pk]),
            obj.status,
            bar,
            _("配信対象"),
            f"{obj.recipient_count:,}",
            _("配信成功"),
            f"{progress.sent:,}",
            _("配信失敗"),
            f"{progress.failed:,}",
            _("24時間以内のブロック"),
            block,
        )

    # --- saving through the service -----------------------------------------------------------

    def save_with_service(
        self, request: HttpRequest, obj: Broadcast, form: Any, formsets: Any, change: bool
    ) -> Any:
        return broadcast_save(
            broadcast=obj, form=form, formsets=formsets, created=not change, actor=request.user
        )

    def delete_model(self, request: HttpRequest, obj: Broadcast) -> None:
        if not obj.is_editable:
            raise BroadcastError(_("下書き以外の配信は削除できません。取消を使ってください。"))
        super().delete_model(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not obj.is_editable:
            return False
        return super().has_delete_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only drafts are edited; later states change through the buttons (services).
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    # --- actions ----------------------------------------------------------------------------

    def has_approve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "approve", obj)

    def _run(self, request: HttpRequest, queryset: Any, service: Any, done_message: str) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda broadcast: service(broadcast=broadcast, actor=request.user),
            done_message,
            select_related=["department"],
        )

    @admin.action(description=gettext_lazy("承認を申請する"), permissions=["change"])
    def submit_action(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, broadcast_submit, _("%(n)d 件を承認待ちにしました。"))

    @admin.action(description=gettext_lazy("承認する"), permissions=["approve"])
    def approve_action(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, broadcast_approve, _("%(n)d 件を承認しました。"))

    @admin.action(description=gettext_lazy("下書きに戻す（差し戻し）"), permissions=["change"])
    def return_action(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, broadcast_return_to_draft, _("%(n)d 件を下書きに戻しました。"))

    @admin.action(description=gettext_lazy("取り消す"), permissions=["change"])
    def cancel_action(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, broadcast_cancel, _("%(n)d 件を取り消しました。"))

    # --- object buttons, JSON endpoints -------------------------------------------------------

    def get_urls(self) -> list[Any]:
        return [
            path(
                "recipient-count/",
                RecipientCountPage(self).as_view(),
                name="broadcasts_broadcast_recipient_count",
            ),
            path("<int:pk>/progress/", ProgressPage(self).as_view(), name="broadcasts_broadcast_progress"),
            path(
                "<int:pk>/transition/<str:verb>/",
                TransitionPage(self).as_view(),
                name="broadcasts_broadcast_transition",
            ),
            *super().get_urls(),
        ]

    TRANSITIONS: dict[str, tuple[Any, str]] = {
        "submit": (broadcast_submit, gettext_lazy("承認を申請しました。所属長の承認をお待ちください。")),
        "approve": (broadcast_approve, gettext_lazy("承認しました。")),
        "return": (broadcast_return_to_draft, gettext_lazy("下書きに戻しました。")),
        "cancel": (broadcast_cancel, gettext_lazy("取り消しました。")),
        "emergency": (broadcast_emergency_send, gettext_lazy("緊急配信を開始しました。")),
        "test": (broadcast_test_send, gettext_lazy("あなたの LINE にテスト送信しました。")),
    }

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        obj = context.get("original")
        buttons = []
        if obj is not None:
            can_change = self.has_action_permission(request, "change", obj)
            can_approve = self.has_action_permission(request, "approve", obj)
            status = obj.status
            if can_change and status == BroadcastStatus.DRAFT:
                buttons.append(("submit", _("承認を申請する"), ""))
            if can_approve and status == BroadcastStatus.PENDING:
                buttons.append(("approve", _("承認する"), ""))
            if can_change and status == BroadcastStatus.PENDING:
                buttons.append(("return", _("下書きに戻す"), "secondary"))
            if (
                can_approve
                and obj.is_emergency
                and status in {BroadcastStatus.DRAFT, BroadcastStatus.PENDING}
            ):
                buttons.append(("emergency", _("緊急配信をすぐに送る"), "danger"))
            if can_change and obj.messages.exists():
                buttons.append(("test", _("自分の LINE にテスト送信"), "secondary"))
            cancellable = (
                {BroadcastStatus.DRAFT, BroadcastStatus.PENDING}
                if not can_approve
                else {
                    BroadcastStatus.DRAFT,
                    BroadcastStatus.PENDING,
                    BroadcastStatus.APPROVED,
                    BroadcastStatus.SCHEDULED,
                    BroadcastStatus.SENDING,
                }
            )
            if can_change and status in cancellable:
                buttons.append(("cancel", _("取り消す"), "danger"))
        context["transition_buttons"] = [
            {
                "url": reverse("admin:broadcasts_broadcast_transition", args=[obj.pk, verb]),
                "label": label,
                "style": style,
                "verb": verb,
            }
            for verb, label, style in buttons
        ]
        context["has_line_user_id"] = bool(getattr(request.user, "line_user_id", ""))
        return super().render_change_form(request, context, *args, **kwargs)


class TransitionPage(AdminPage):
    """The object buttons of a broadcast (申請, 承認, 差し戻し, 取消, 緊急配信, テスト送信): one service each;
    the service checks the role, a refusal is shown on the change page."""

    methods = ("POST",)

    def handle(self, request: HttpRequest, pk: int, verb: str) -> HttpResponse:
        broadcast = self.get_object(request, pk)
        if verb in self.model_admin.TRANSITIONS:
            service, done_message = self.model_admin.TRANSITIONS[verb]
            kwargs: dict[str, Any] = {"broadcast": broadcast, "actor": request.user}
            if verb == "return":
                kwargs["comment"] = request.POST.get("comment", "")[:1000]
            service(**kwargs)
            messages.success(request, str(done_message))
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("admin:broadcasts_broadcast_change", args=[kwargs["pk"]])


class ProgressPage(AdminPage):
    """The delivery progress of a broadcast, as JSON for the change page's progress bar."""

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        broadcast = self.get_object(request, pk)
        progress = broadcast_progress(broadcast=broadcast)
        return JsonResponse(
            {
                "status": broadcast.status,
                "status_label": broadcast.get_status_display(),
                "total": progress.total,
                "sent": progress.sent,
                "failed": progress.failed,
                "pending": progress.pending,
                "percent": progress.percent,
            }
        )


class RecipientCountPage(AdminPage):
    """「約 N 人に届きます」: the count for the segment being composed (GET parameters), as JSON."""

    def handle(self, request: HttpRequest) -> HttpResponse:
        departments = departments_for_staff(user=request.user, perm="broadcasts.view_broadcast")
        department = departments.filter(pk=_int(request.GET.get("department"))).first()
        municipality = department.municipality if department else request.user.municipality
        if municipality is None:
            return JsonResponse({"count": None, "label": _("担当課を選ぶと人数を表示します。")})
        emergency = request.GET.get("is_emergency") in {"1", "true", "on"}
        category = Interest.objects.filter(
            municipality=municipality, pk=_int(request.GET.get("category"))
        ).first()
        if not emergency and category is None:
            return JsonResponse({"count": None, "label": _("分野を選ぶと人数を表示します。")})
        area_ids = [_int(v) for v in request.GET.getlist("areas")]
        bands = [b for b in request.GET.getlist("age_bands") if b in AgeBand.values]
        count = recipients_for_segment(
            municipality=municipality,
            category_id=category.pk if category else None,
            area_ids=[a for a in area_ids if a],
            age_bands=bands,
            emergency=emergency,
        ).count()
        if count == 0:
            label = _("この条件に当てはまる住民がいません。")
        else:
            label = _("約 %(n)s 人に届きます") % {"n": f"{count:,}"}
        return JsonResponse({"count": count, "label": label})


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
