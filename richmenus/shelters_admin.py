"""Shelters in the admin: the list with status actions, the national CSV import, and a
phone-friendly page to flip statuses during a disaster."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from municipalities.admin_pages import AdminPage
from municipalities.models import Municipality
from municipalities.permissions import towns_for_staff
from municipalities.scoping import DepartmentScopedAdmin
from richmenus.errors import RichMenuError
from richmenus.models import AddressPoint, Shelter, ShelterStatus
from richmenus.places import place_key
from richmenus.services.shelters import address_points_import, shelter_status_set, shelters_import


@admin.register(Shelter)
class ShelterAdmin(DepartmentScopedAdmin):
    list_display = ["name", "municipality", "address", "status", "latitude", "longitude"]
    list_select_related = ["municipality"]
    list_filter = ["status"]
    search_fields = ["name", "address", "code"]
    readonly_fields = ["status"]
    actions = ["mark_open", "mark_crowded", "mark_full", "mark_closed"]
    fields = [
        "municipality",
        "code",
        "name",
        "address",
        ("latitude", "longitude"),
        "disaster_types",
        "is_designated_shelter",
        "status",
    ]

    def _mark(self, request: HttpRequest, queryset: Any, status: str) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda shelter: shelter_status_set(shelter=shelter, status=status, actor=request.user),
            str(_("%(n)d 件の開設状況を変えました。")),
        )

    @admin.action(description=_("「開設」にする"), permissions=["change"])
    def mark_open(self, request: HttpRequest, queryset: Any) -> None:
        self._mark(request, queryset, ShelterStatus.OPEN)

    @admin.action(description=_("「混雑」にする"), permissions=["change"])
    def mark_crowded(self, request: HttpRequest, queryset: Any) -> None:
        self._mark(request, queryset, ShelterStatus.CROWDED)

    @admin.action(description=_("「満」にする"), permissions=["change"])
    def mark_full(self, request: HttpRequest, queryset: Any) -> None:
        self._mark(request, queryset, ShelterStatus.FULL)

    @admin.action(description=_("「未開設」にする"), permissions=["change"])
    def mark_closed(self, request: HttpRequest, queryset: Any) -> None:
        self._mark(request, queryset, ShelterStatus.CLOSED)

    def get_urls(self) -> list[Any]:
        return [
            path("status/", StatusPage(self).as_view(), name="richmenus_shelter_status"),
            path("import/", ImportPage(self, action="import").as_view(), name="richmenus_shelter_import"),
            *super().get_urls(),
        ]


class StatusPage(AdminPage):
    """Large buttons per shelter (開設 / 混雑 / 満 / 未開設), for a phone in the field."""

    template = "admin/richmenus/shelter_status.html"
    title = "避難所の開設状況"

    def handle(self, request: HttpRequest) -> HttpResponse:
        shelters = self.model_admin.get_queryset(request).select_related("municipality").order_by("name")
        if request.method == "POST":
            shelter = shelters.filter(pk=request.POST.get("shelter") or 0).first()
            if shelter is None:
                raise Http404
            shelter_status_set(shelter=shelter, status=request.POST.get("status", ""), actor=request.user)
            messages.success(
                request,
                _("%(name)s を「%(status)s」にしました。")
                % {
                    "name": shelter.name,
                    "status": ShelterStatus(request.POST["status"]).label,
                },
            )
            return HttpResponseRedirect(request.path)
        return self.render(request, {"shelters": shelters, "statuses": ShelterStatus.choices})


class ShelterImportForm(forms.Form):
    municipality = forms.ModelChoiceField(label=_("自治体"), queryset=Municipality.objects.none())
    file = forms.FileField(label=_("CSV ファイル（国土地理院の指定緊急避難場所データ）"))


class ImportPage(AdminPage):
    """Upload the national CSV: all rows are created or updated, or none when one is wrong."""

    template = "admin/richmenus/shelter_import.html"
    title = "避難所の取込（国土地理院の形式）"

    def handle(self, request: HttpRequest) -> HttpResponse:
        towns = towns_for_staff(user=request.user, perm="richmenus.import_shelter")
        form = ShelterImportForm(request.POST or None, request.FILES or None)
        form.fields["municipality"].queryset = towns
        outcome = None
        if request.method == "POST" and form.is_valid():
            outcome = shelters_import(
                municipality=form.cleaned_data["municipality"],
                data=form.cleaned_data["file"].read(),
                actor=request.user,
            )
            if not outcome.errors:
                messages.success(
                    request,
                    _("作成 %(c)d 件、更新 %(u)d 件を取り込みました。")
                    % {"c": outcome.created, "u": outcome.updated},
                )
        return self.render(
            request,
            {"form": form, "outcome": outcome, "list_url": reverse("admin:richmenus_shelter_changelist")},
        )


@admin.register(AddressPoint)
class AddressPointAdmin(DepartmentScopedAdmin):
    """The town's 町丁目 points: how an address a resident sends is placed (richmenus.places)."""

    list_display = ["name", "municipality", "postal_code", "latitude", "longitude"]
    list_select_related = ["municipality"]
    search_fields = ["name", "postal_code"]
    fields = ["municipality", "name", "postal_code", ("latitude", "longitude")]

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: Any, formsets: Any, change: bool
    ) -> Any:
        obj.key = place_key(obj.name, municipality=obj.municipality)
        same = AddressPoint.objects.filter(municipality_id=obj.municipality_id, key=obj.key).exclude(
            pk=obj.pk
        )
        if same.exists():
            raise RichMenuError(_("同じ町丁目がすでに登録されています。"), code="duplicate")
        return super().save_with_service(request, obj, form, formsets, change)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                AddressPointImportPage(self, action="import").as_view(),
                name="richmenus_addresspoint_import",
            ),
            *super().get_urls(),
        ]


class AddressPointImportForm(forms.Form):
    municipality = forms.ModelChoiceField(label=_("自治体"), queryset=Municipality.objects.none())
    file = forms.FileField(label=_("CSV ファイル（国土交通省「位置参照情報」大字・町丁目レベル）"))


class AddressPointImportPage(AdminPage):
    """Upload the prefecture's 位置参照情報 CSV: the town's rows are created or updated, or none
    when one is wrong."""

    template = "admin/richmenus/addresspoint_import.html"
    title = "町丁目の位置の取込（位置参照情報）"

    def handle(self, request: HttpRequest) -> HttpResponse:
        towns = towns_for_staff(user=request.user, perm="richmenus.import_addresspoint")
        form = AddressPointImportForm(request.POST or None, request.FILES or None)
        form.fields["municipality"].queryset = towns
        outcome = None
        if request.method == "POST" and form.is_valid():
            outcome = address_points_import(
                municipality=form.cleaned_data["municipality"],
                data=form.cleaned_data["file"].read(),
                actor=request.user,
            )
        return self.render(
            request,
            {
                "form": form,
                "outcome": outcome,
                "list_url": reverse("admin:richmenus_addresspoint_changelist"),
            },
        )
