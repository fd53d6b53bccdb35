"""The broadcast console: the list and change page of a broadcast, its workflow actions and
object buttons (申請, 承認, 差し戻し, 取消, 緊急配信, テスト送信). The forms are in ``compose``,
the progress panels in ``delivery``. Thin: every change is a service call (STYLE R9)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from broadcasts.admin.compose import BroadcastForm, BroadcastMessageInline, RecipientCountPage
from broadcasts.admin.delivery import FailedBatchInline, ProgressPage, progress_bar_html, status_badge_html
from broadcasts.errors import BroadcastError
from broadcasts.models import BatchStatus, Broadcast, BroadcastStatus, DeliveryBatch, SendMode
from broadcasts.selectors import broadcast_progress, budget_warning_for, recipients_for_broadcast
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
from municipalities.permissions import departments_for_staff
from municipalities.scoping import DepartmentScopedAdmin


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
        if obj is not None and not obj.is_editable:
            # Read-only, 年代 is shown in words (「70代以上」), not as the stored codes (["70p"]).
            main[1][1]["fields"] = [
                f if f != "age_bands" else "age_bands_display" for f in main[1][1]["fields"]
            ]
        return [summary, *main] if obj is not None else main

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> Any:
        if obj is not None and not obj.is_editable:
            return [*self.readonly_fields, *BroadcastForm.Meta.fields, "age_bands_display"]
        return self.readonly_fields

    @admin.display(description=_("年代"))
    def age_bands_display(self, obj: Broadcast) -> str:
        labels = dict(AgeBand.choices)
        return "、".join(str(labels.get(b, b)) for b in obj.age_bands or []) or _("すべての年代")

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
        return status_badge_html(obj)

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
        return progress_bar_html(getattr(obj, "progress_done", 0), obj.recipient_count)

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
        bar = progress_bar_html(progress.done, progress.total, progress.failed)
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
        warnings = {
            b.pk: budget_warning_for(broadcast=b)
            for b in queryset.filter(status=BroadcastStatus.PENDING).select_related(
                "department__municipality"
            )
        }
        self._run(request, queryset, broadcast_approve, _("%(n)d 件を承認しました。"))
        for pk, warning in warnings.items():
            if warning:
                messages.warning(request, _("配信 %(pk)d: %(w)s") % {"pk": pk, "w": warning})

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
            # The town's monthly message budget (its LINE plan), before approving and while the
            # broadcast waits for its time: the figure may have grown since it was composed.
            waiting = {BroadcastStatus.PENDING, BroadcastStatus.APPROVED, BroadcastStatus.SCHEDULED}
            if status in waiting or (obj.is_emergency and status == BroadcastStatus.DRAFT and can_approve):
                warning = budget_warning_for(broadcast=obj)
                if warning:
                    context["budget_warning"] = warning
                    messages.warning(request, warning)
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
            # Approving (or sending an emergency) past the monthly budget is allowed, with a warning.
            warning = budget_warning_for(broadcast=broadcast) if verb in {"approve", "emergency"} else ""
            service(**kwargs)
            messages.success(request, str(done_message))
            if warning:
                messages.warning(request, warning)
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("admin:broadcasts_broadcast_change", args=[kwargs["pk"]])
