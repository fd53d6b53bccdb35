"""The garbage dictionary and calendars in the admin, and the 5374 upload."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbot.errors import GarbageImportError
from chatbot.garbage_import import FILES
from chatbot.matching import invalidate
from chatbot.models import (
    AreaCalendar,
    CenterHoliday,
    CollectionRule,
    GarbageCategory,
    GarbageItem,
)
from chatbot.services import garbage_import
from municipalities import permissions
from municipalities.admin_pages import AdminPage
from municipalities.models import Municipality
from municipalities.scoping import DepartmentScopedAdmin, ScopedTabularInline

# --- Garbage data -----------------------------------------------------------------------------


class GarbageUploadForm(forms.Form):
    municipality = forms.ModelChoiceField(queryset=Municipality.objects.none(), label=gettext_lazy("自治体"))
    area_days = forms.FileField(label="area_days.csv", help_text=gettext_lazy("地区ごとの収集日（必須）"))
    target = forms.FileField(label="target.csv", help_text=gettext_lazy("品目と分類（必須）"))
    description = forms.FileField(
        label="description.csv", required=False, help_text=gettext_lazy("分類名と色")
    )
    center = forms.FileField(label="center.csv", required=False, help_text=gettext_lazy("センターの休止期間"))
    remarks = forms.FileField(label="remarks.csv", required=False, help_text=gettext_lazy("注意事項"))
    area = forms.FileField(
        label="area.csv",
        required=False,
        help_text=gettext_lazy(
            "地名と収集地区の対応（地名ごとに area_days.csv のどの地区の収集日かを示すファイル）"
        ),
    )
    setting = forms.FileField(
        label="setting.js",
        required=False,
        help_text=gettext_lazy("5374 アプリの設定（WeekShift: 休止期間の収集を 1 週ずらすか）"),
    )
    holiday_policy = forms.ChoiceField(
        label=gettext_lazy("センター休止期間の収集"),
        required=False,
        choices=[("", gettext_lazy("setting.js に従う（なければ休止）")), *CenterHoliday.Policy.choices],
    )
    skip_invalid = forms.BooleanField(
        label=gettext_lazy("読めない行を飛ばして取り込む"),
        required=False,
        help_text=gettext_lazy(
            "オフ（標準）: 1 行でも読めなければ何も変更しません。"
            "オン: 読めるものをすべて取り込み、飛ばした行をファイル・行・理由で表示します。"
        ),
    )

    MAX_BYTES = 5 * 1024 * 1024

    def files_by_name(self) -> dict[str, bytes]:
        result = {}
        for name in FILES:
            upload = self.cleaned_data.get(name.removesuffix(".csv").removesuffix(".js"))
            if upload:
                if upload.size > self.MAX_BYTES:
                    raise forms.ValidationError(_("%(n)s が大きすぎます（5MB まで）。") % {"n": name})
                result[name] = upload.read()
        return result


class GarbageAdminBase(DepartmentScopedAdmin):
    def save_with_service(
        self, request: HttpRequest, obj: Any, form: Any, formsets: Any, change: bool
    ) -> Any:
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
            path("upload/", GarbageUploadPage(self).as_view(), name="chatbot_garbage_upload"),
            *super().get_urls(),
        ]


class GarbageUploadPage(AdminPage):
    """Import a town's garbage data from the 5374 files (categories, items, areas, calendars)."""

    template = "admin/chatbot/garbagecategory/upload.html"
    title = gettext_lazy("5374 形式のごみデータを取り込む")
    model = GarbageItem
    action = "import"

    def handle(self, request: HttpRequest) -> HttpResponse:
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
                    municipality=form.cleaned_data["municipality"],
                    files=form.files_by_name(),
                    actor=request.user,
                    skip_invalid=form.cleaned_data["skip_invalid"],
                    holiday_policy=form.cleaned_data["holiday_policy"] or None,
                )
            except GarbageImportError as exc:
                problems = [str(p) for p in exc.problems]
                messages.error(request, exc.message.splitlines()[0])
                if not form.cleaned_data["skip_invalid"]:
                    messages.info(
                        request,
                        _(
                            "読める行だけを取り込むときは「読めない行を飛ばして取り込む」をオンにして、"
                            "もう一度ファイルを選んで取り込んでください。"
                        ),
                    )
            except forms.ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.info(
                    request,
                    _("取り込みました: 分類 %(c)d / 品目 %(i)d / 地区 %(a)d（新規 %(n)d）/ 休止期間 %(h)d")
                    % {
                        "c": result.categories,
                        "i": result.items,
                        "a": result.areas,
                        "n": result.areas_created,
                        "h": result.holidays,
                    },
                )
                for note in result.notes[:20]:
                    messages.warning(request, note)
                if result.skipped:
                    # Shown on this page in full (file, row, reason), not as a flash message.
                    return self.render(request, {"form": form, "problems": [], "skipped": result.skipped})
                return HttpResponseRedirect(reverse("admin:chatbot_garbagecategory_changelist"))
        return self.render(request, {"form": form, "problems": problems})


@admin.register(GarbageItem)
class GarbageItemAdmin(GarbageAdminBase):
    list_display = ["name", "category", "notice", "kana"]
    list_filter = ["category"]
    search_fields = ["name", "kana", "notice"]
    list_select_related = ["category"]
    fields = ["municipality", "category", "name", "kana", "notice"]


class CollectionRuleInline(ScopedTabularInline):
    # The calendar's town is the rule's town (set by ScopedInline); categories are the town's.
    model = CollectionRule
    extra = 0
    fields = ["category", "rule"]


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
