"""Staff console of the lottery (抽選): rounds, their frames and applications, the result page,
marking frames in bulk, 公開 and 抽選実行.

Thin (STYLE R9): every change is a service of ``facilities.services.lottery`` or
``facilities.services.lottery_draw``; the pages are ``AdminPage``s of the round's admin, so the
policy decides before anything is read and a round of another department or town is a 404.
Frames and applications are never edited by hand.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from municipalities.admin_pages import AdminPage
from municipalities.scoping import DepartmentScopedAdmin
from municipalities.services import admin_object_delete, admin_object_save

from .errors import FacilityError
from .models import (
    WEEKDAY_LABELS,
    LotteryApplication,
    LotteryApplicationStatus,
    LotteryFrame,
    LotteryRound,
    LotteryRoundStatus,
    Room,
    TimeFrame,
)
from .selectors_lottery import lottery_result_rows
from .services import GroupDetails
from .services.lottery import (
    lottery_apply,
    lottery_frame_remove,
    lottery_frames_mark,
    lottery_round_open,
    lottery_withdraw,
)
from .services.lottery_draw import lottery_draw, lottery_draw_verify

WEEKDAY_CHOICES = [(str(i), f"{label}曜") for i, label in enumerate(WEEKDAY_LABELS)]


@admin.register(LotteryRound)
class LotteryRoundAdmin(DepartmentScopedAdmin):
    """抽選の回: one facility, one month. Staff set the dates, mark the frames, 公開 it; the draw
    runs by itself at 抽選日時 (or from 抽選実行 once the window has closed)."""

    list_display = [
        "__str__",
        "facility",
        "status",
        "applications_open_at",
        "applications_close_at",
        "draw_at",
        "payment_due_at",
        "frame_count",
        "application_count",
        "result_link",
    ]
    list_select_related = ["facility"]
    list_filter = ["status", "facility"]
    search_fields = ["facility__name"]
    actions = ["open_action", "draw_action"]
    fields = [
        "facility",
        "month",
        "applications_open_at",
        "applications_close_at",
        "draw_at",
        "payment_due_at",
        "max_applications_per_group",
        "status",
        "seed",
        "drawn_at",
        "drawn_by",
        "result_link",
    ]
    readonly_fields = ["status", "seed", "drawn_at", "drawn_by", "result_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_frames=Count("frames", distinct=True),
                n_applications=Count(
                    "applications", filter=~Q(applications__status="withdrawn"), distinct=True
                ),
            )
            .order_by(*LotteryRound._meta.ordering)  # an aggregate drops Meta.ordering
        )

    def get_readonly_fields(self, request: HttpRequest, obj: LotteryRound | None = None) -> list[str]:
        if obj is not None and obj.status in (LotteryRoundStatus.DRAWN, LotteryRoundStatus.FINISHED):
            return list(self.fields)  # drawn: the dates are part of the record
        if obj is not None:
            return [*self.readonly_fields, "facility", "month"]
        return list(self.readonly_fields)

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: Any, formsets: Any, change: bool
    ) -> Any:
        if obj.month:
            obj.month = obj.month.replace(day=1)  # 「6月分」: whatever day was picked
        return admin_object_save(
            obj=obj, form=form, formsets=formsets, created=not change, actor=request.user
        )

    @admin.display(description=gettext_lazy("抽選枠"))
    def frame_count(self, obj: LotteryRound) -> int:
        return getattr(obj, "n_frames", 0)

    @admin.display(description=gettext_lazy("申込"))
    def application_count(self, obj: LotteryRound) -> int:
        return getattr(obj, "n_applications", 0)

    @admin.display(description=gettext_lazy("枠・申込・結果"))
    def result_link(self, obj: LotteryRound) -> str:
        if obj.pk is None:
            return "―"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:facilities_lotteryround_result", args=[obj.pk]), _("開く")
        )

    def has_draw_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "draw", obj)

    @admin.action(description=gettext_lazy("公開する（申込の受付を始める）"), permissions=["change"])
    def open_action(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda r: lottery_round_open(round=r, actor=request.user),
            _("%(n)d 件の抽選を公開しました。"),
            select_related=["facility__department"],
        )

    @admin.action(description=gettext_lazy("抽選を実行する（締切後）"), permissions=["draw"])
    def draw_action(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda r: lottery_draw(round=r, actor=request.user),
            _("%(n)d 件の抽選を実行しました。当選・落選は LINE でお知らせします。"),
            select_related=["facility__department"],
        )

    def get_urls(self) -> list[Any]:
        return [
            path("<int:pk>/result/", RoundResultPage(self).as_view(), name="facilities_lotteryround_result"),
            path(
                "<int:pk>/frames/",
                MarkFramesPage(self, action="change").as_view(),
                name="facilities_lotteryround_frames",
            ),
            path(
                "<int:pk>/apply/",
                CounterApplyPage(self, action="change").as_view(),
                name="facilities_lotteryround_apply",
            ),
            path(
                "<int:pk>/step/<str:verb>/",
                RoundStepPage(self, action="change").as_view(),
                name="facilities_lotteryround_step",
            ),
            *super().get_urls(),
        ]


class RoundResultPage(AdminPage):
    """The round at a glance: every frame with its applications (ranked once drawn), the winner's
    booking and payment, and the draw's record (seed, input digest, whether it replays)."""

    template = "admin/facilities/lottery_result.html"
    title = "抽選の申込と結果"

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        round_ = self.get_object(request, pk)
        rows = lottery_result_rows(round=round_)
        policy_admin = self.model_admin
        return self.render(
            request,
            {
                "round": round_,
                "rows": rows,
                "applications": sum(len(apps) for _f, apps in rows),
                "verified": lottery_draw_verify(round=round_) if round_.seed else None,
                "can_change": policy_admin.has_action_permission(request, "change", round_),
                "can_draw": policy_admin.has_action_permission(request, "draw", round_),
                "title": f"{round_.facility.name} {round_}の抽選",
            },
        )


class RoundStepPage(AdminPage):
    """The result page's buttons: 公開 and 抽選実行 (POST; the service checks the role again)."""

    methods = ("POST",)

    def handle(self, request: HttpRequest, pk: int, verb: str) -> HttpResponse:
        round_ = self.get_object(request, pk)
        if verb == "open":
            lottery_round_open(round=round_, actor=request.user)
            messages.success(request, _("公開しました。申込期間になると住民が申し込めます。"))
        elif verb == "draw":
            lottery_draw(round=round_, actor=request.user)
            messages.success(request, _("抽選を実行しました。当選・落選は LINE でお知らせします。"))
        return HttpResponseRedirect(self.error_redirect_url(request, pk=pk))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("admin:facilities_lotteryround_result", args=[kwargs["pk"]])


class CounterApplicationForm(forms.Form):
    """窓口・電話で受けた申込 (a caller without LINE): the same fields a resident types."""

    lottery_frame = forms.ModelChoiceField(label="抽選枠", queryset=LotteryFrame.objects.none())
    group_name = forms.CharField(label="団体名", max_length=100, required=False, help_text="個人のときは空欄")
    representative = forms.CharField(label="代表者", max_length=100)
    phone = forms.CharField(label="電話番号", max_length=20, required=False)
    headcount = forms.IntegerField(label="人数", min_value=1, initial=1)
    purpose = forms.CharField(label="利用目的", max_length=200)
    is_resident_rate = forms.BooleanField(label="町内料金", required=False, initial=True)

    def __init__(self, *args: Any, round: LotteryRound, **kwargs: Any) -> None:  # noqa: A002
        super().__init__(*args, **kwargs)
        field = self.fields["lottery_frame"]
        field.queryset = round.frames.filter(status="lottery").select_related("room")
        field.label_from_instance = lambda f: (
            f"{f.use_date:%m/%d}({WEEKDAY_LABELS[f.use_date.weekday()]}) {f.starts_at:%H:%M} {f.room.name}"
        )


class CounterApplyPage(AdminPage):
    """窓口で申込を入力: staff apply for a caller, inside the same window and limits."""

    template = "admin/facilities/lottery_apply.html"
    title = "窓口で抽選の申込を入力"

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        round_ = self.get_object(request, pk, action="change")
        form = CounterApplicationForm(request.POST or None, round=round_)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                application = lottery_apply(
                    lottery_frame=data["lottery_frame"],
                    group=GroupDetails(
                        group_name=data["group_name"],
                        representative=data["representative"],
                        phone=data["phone"],
                        headcount=data["headcount"],
                        purpose=data["purpose"],
                        is_resident_rate=data["is_resident_rate"],
                    ),
                    actor=request.user,
                )
            except FacilityError as exc:
                form.add_error(None, exc.message)  # the input stays on the page
            else:
                messages.success(
                    request, _("「%(name)s」の申込を受け付けました。") % {"name": application.group_name}
                )
                return HttpResponseRedirect(reverse("admin:facilities_lotteryround_result", args=[round_.pk]))
        return self.render(
            request,
            {"round": round_, "form": form, "title": f"{round_.facility.name} {round_}：{self.title}"},
        )


class MarkFramesForm(forms.Form):
    room = forms.ModelChoiceField(label="部屋・コート", queryset=Room.objects.none())
    frames = forms.ModelMultipleChoiceField(
        label="時間枠", queryset=TimeFrame.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    weekdays = forms.MultipleChoiceField(
        label="曜日", choices=WEEKDAY_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    holidays = forms.BooleanField(label="祝日も対象にする", required=False)

    def __init__(self, *args: Any, round: LotteryRound, **kwargs: Any) -> None:  # noqa: A002
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = Room.objects.filter(facility=round.facility, is_active=True)
        self.fields["frames"].queryset = TimeFrame.objects.filter(facility=round.facility, is_active=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("weekdays") and not data.get("holidays"):
            raise forms.ValidationError("曜日を選ぶか、祝日を対象にしてください。")
        return data


class MarkFramesPage(AdminPage):
    """抽選枠の一括指定: e.g. every 土日の夜間 of the month for one room."""

    template = "admin/facilities/lottery_frames.html"
    title = "抽選枠をまとめて指定"

    def handle(self, request: HttpRequest, pk: int) -> HttpResponse:
        round_ = self.get_object(request, pk, action="change")
        form = MarkFramesForm(request.POST or None, round=round_)
        result = None
        if request.method == "POST" and form.is_valid():
            result = lottery_frames_mark(
                round=round_,
                room=form.cleaned_data["room"],
                frames=list(form.cleaned_data["frames"]),
                weekdays=[int(w) for w in form.cleaned_data["weekdays"]],
                holidays=form.cleaned_data["holidays"],
                actor=request.user,
            )
            messages.success(request, _("%(n)d 枠を抽選の対象にしました。") % {"n": len(result.created)})
        return self.render(
            request,
            {
                "round": round_,
                "form": form,
                "result": result,
                "title": f"{round_.facility.name} {round_}：{self.title}",
            },
        )


@admin.register(LotteryFrame)
class LotteryFrameAdmin(DepartmentScopedAdmin):
    """抽選枠: made by 「抽選枠をまとめて指定」, taken out by the action; never edited by hand."""

    list_display = ["use_date", "starts_at", "ends_at", "room", "round", "status", "application_count"]
    list_select_related = ["room", "round__facility"]
    list_filter = ["status", "round__facility"]
    date_hierarchy = "use_date"
    actions = ["remove_action"]
    fields = ["round", "room", "frame", "use_date", "starts_at", "ends_at", "status"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(n_applications=Count("applications", filter=~Q(applications__status="withdrawn")))
            .order_by(*LotteryFrame._meta.ordering)  # an aggregate drops Meta.ordering
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # frames are marked in bulk from the round's page

    @admin.display(description=gettext_lazy("申込数"))
    def application_count(self, obj: LotteryFrame) -> int:
        return getattr(obj, "n_applications", 0)

    def delete_model(self, request: HttpRequest, obj: LotteryFrame) -> None:
        lottery_frame_remove(lottery_frame=obj, actor=request.user)

    @admin.action(description=gettext_lazy("抽選の対象から外す（申込がない枠）"), permissions=["change"])
    def remove_action(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda f: lottery_frame_remove(lottery_frame=f, actor=request.user),
            _("%(n)d 枠を抽選の対象から外しました。"),
            select_related=["room"],
        )


@admin.register(LotteryApplication)
class LotteryApplicationAdmin(DepartmentScopedAdmin):
    """抽選の申込: made by residents on LINE (or 窓口 through the service), ranked by the draw."""

    list_display = [
        "group_name",
        "representative",
        "frame_label",
        "round",
        "status",
        "draw_rank",
        "booking",
        "notified_at",
    ]
    list_select_related = ["round__facility", "lottery_frame__room", "booking"]
    list_filter = ["status", "round__facility"]
    search_fields = ["group_name", "representative", "phone"]
    actions = ["withdraw_action"]
    fields = [
        "round",
        "lottery_frame",
        "group_name",
        "representative",
        "phone",
        "headcount",
        "purpose",
        "is_resident_rate",
        "resident",
        "status",
        "draw_rank",
        "booking",
        "entered_by",
        "notified_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: LotteryApplication) -> None:
        # Before the draw an application entered by mistake may go; after it, the draw's record
        # keeps every application (withdraw instead while the window is open).
        if obj.status != LotteryApplicationStatus.APPLIED or obj.round.status not in (
            LotteryRoundStatus.DRAFT,
            LotteryRoundStatus.OPEN,
        ):
            raise FacilityError(_("抽選が終わった申込は削除できません。"), code="status")
        admin_object_delete(obj=obj, actor=request.user)

    @admin.display(description=gettext_lazy("抽選枠"))
    def frame_label(self, obj: LotteryApplication) -> str:
        frame = obj.lottery_frame
        return f"{frame.use_date:%Y/%m/%d} {frame.starts_at:%H:%M} {frame.room.name}"

    @admin.action(description=gettext_lazy("申込を取り下げる（受付期間中）"), permissions=["change"])
    def withdraw_action(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda a: lottery_withdraw(application=a, actor=request.user),
            _("%(n)d 件の申込を取り下げました。"),
        )
