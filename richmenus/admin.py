"""Staff console for rich menus: menus with their tiles, preview, publish, 災害モード, shelters.

Thin (STYLE R9): forms and pages parse and authorise, the services in ``richmenus.services`` do
the work. Every page is an ``AdminPage`` on the one tenancy mixin.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from municipalities.admin_pages import AdminPage
from municipalities.line import destinations
from municipalities.models import AgeBand
from municipalities.permissions import policy_for, towns_for_staff
from municipalities.scoping import DepartmentScopedAdmin, ScopedTabularInline
from richmenus import services
from richmenus.errors import RichMenuError
from richmenus.link_jobs_admin import RichMenuLinkJobAdmin  # noqa: F401 - registers the job admin
from richmenus.models import DisasterMode, DisasterType, RichMenu, RichMenuTap, RichMenuTile
from richmenus.shelters_admin import ShelterAdmin  # noqa: F401 - registers the shelter admin


def _feature_choices() -> list[tuple[str, str]]:
    return [("", "---------"), *destinations.choices()]


class RichMenuTileForm(forms.ModelForm):
    feature = forms.ChoiceField(label=_("開く機能"), choices=_feature_choices, required=False)

    class Meta:
        model = RichMenuTile
        fields = [
            "position",
            "department",
            "label",
            "icon",
            "background_color",
            "text_color",
            "action",
            "feature",
            "feature_object_id",
            "text",
            "data",
            "uri",
            "switch_to",
        ]


class RichMenuTileInline(ScopedTabularInline):
    model = RichMenuTile
    form = RichMenuTileForm
    fk_name = "menu"

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        # A new menu shows a row per tile of the largest template (6); rows left empty are ignored.
        return 6 if obj is None else 0


class RichMenuForm(forms.ModelForm):
    target_age_bands = forms.MultipleChoiceField(
        label=_("対象の年代"),
        choices=AgeBand.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("選ばなければ全員です。"),
    )

    class Meta:
        model = RichMenu
        fields = [
            "municipality",
            "name",
            "kind",
            "is_default",
            "layout",
            "grid_columns",
            "grid_rows",
            "grid_compact",
            "chat_bar_text",
            "background_color",
            "uploaded_image",
            "logo",
            "alias",
            "target_areas",
            "target_age_bands",
            "target_interests",
            "priority",
        ]


@admin.register(RichMenu)
class RichMenuAdmin(DepartmentScopedAdmin):
    form = RichMenuForm
    inlines = [RichMenuTileInline]
    list_display = ["name", "municipality", "kind", "is_default", "layout", "status", "published_at", "links"]
    list_select_related = ["municipality"]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    readonly_fields = ["status", "line_rich_menu_id", "published_at"]
    filter_horizontal = ["target_areas", "target_interests"]
    actions = ["publish"]
    fieldsets = [
        (None, {"fields": ["municipality", "name", "kind", "is_default", "status", "published_at"]}),
        (
            _("レイアウトと画像"),
            {
                "fields": [
                    "layout",
                    ("grid_columns", "grid_rows", "grid_compact"),
                    "chat_bar_text",
                    "background_color",
                    "uploaded_image",
                    "logo",
                    "alias",
                ]
            },
        ),
        (
            _("表示する住民（対象）"),
            {"fields": ["target_areas", "target_age_bands", "target_interests", "priority"]},
        ),
        (_("LINE"), {"fields": ["line_rich_menu_id"], "classes": ["collapse"]}),
    ]

    def has_publish_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_action_permission(request, "publish", obj)

    @admin.action(description=_("公開する（LINE に反映）"), permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: Any) -> None:
        self.run_service_per_row(
            request,
            queryset,
            lambda menu: services.richmenu_publish(menu=menu, actor=request.user),
            str(_("%(n)d 件の公開を受け付けました。")),
            select_related=["municipality"],
        )

    @admin.display(description=_("操作"))
    def links(self, obj: RichMenu) -> str:
        return format_html(
            '<a href="{}">プレビュー</a>', reverse("admin:richmenus_richmenu_preview", args=[obj.pk])
        )

    def get_urls(self) -> list[Any]:
        return [
            path("<int:menu_id>/preview/", PreviewPage(self).as_view(), name="richmenus_richmenu_preview"),
            path("<int:menu_id>/image/", ImagePage(self).as_view(), name="richmenus_richmenu_image"),
            path(
                "<int:menu_id>/publish/",
                PublishPage(self, action="publish").as_view(),
                name="richmenus_richmenu_publish",
            ),
            path("disaster/", DisasterPage(self).as_view(), name="richmenus_richmenu_disaster"),
            *super().get_urls(),
        ]


class PreviewPage(AdminPage):
    """The menu as a phone shows it: the image, each tappable area outlined with what it does,
    and LINE's limits checked (the reason when it cannot be published)."""

    template = "admin/richmenus/preview.html"
    title = "リッチメニューのプレビュー"

    def handle(self, request: HttpRequest, menu_id: int) -> HttpResponse:
        menu = self.get_object(request, menu_id)
        tiles = list(menu.tiles.select_related("switch_to").order_by("position"))
        problem = ""
        try:
            services.richmenu_check(menu=menu, tiles=tiles)
        except RichMenuError as exc:
            problem = exc.message
        width, height = menu.size
        by_position = {t.position: t for t in tiles}
        areas = []
        for number, area in enumerate(menu.areas(), 1):
            tile = by_position.get(number)
            areas.append(
                {
                    "number": number,
                    "left": round(area.x * 100 / width, 3),
                    "top": round(area.y * 100 / height, 3),
                    "width": round(area.width * 100 / width, 3),
                    "height": round(area.height * 100 / height, 3),
                    "label": tile.label if tile else "",
                    "does": _describe(tile) if tile else str(_("（ボタンがありません）")),
                }
            )
        image_url = (
            reverse("admin:richmenus_richmenu_image", args=[menu.pk])
            if tiles or menu.uploaded_image
            else None
        )
        return self.render(
            request,
            {
                "menu": menu,
                "areas": areas,
                "problem": problem,
                "image_url": image_url,
                "aspect": round(height * 100 / width, 3),
                "can_publish": policy_for(menu).user_has_permission_for_instance(
                    request.user, "publish", menu
                ),
                "taps": RichMenuTap.objects.filter(menu=menu)
                .select_related("tile")
                .order_by("-day", "tile")[:60],
            },
        )


def _describe(tile: RichMenuTile) -> str:
    if tile.action == RichMenuTile.Action.FEATURE:
        destination = destinations.get(tile.feature)
        name = str(destination.label) if destination else tile.feature
        return _("ページを開く: %(name)s") % {"name": name}
    if tile.action == RichMenuTile.Action.TEXT:
        return _("「%(text)s」と送る") % {"text": tile.text or tile.label}
    if tile.action == RichMenuTile.Action.URI:
        return _("URL を開く: %(uri)s") % {"uri": tile.uri}
    if tile.action == RichMenuTile.Action.SWITCH:
        return _("タブを切り替える: %(name)s") % {"name": tile.switch_to.name if tile.switch_to else "?"}
    return _("ポストバック: %(data)s") % {"data": tile.data}


class ImagePage(AdminPage):
    """The menu's image (drawn from its tiles, or the upload), as LINE will get it."""

    methods = ("GET", "HEAD")

    def handle(self, request: HttpRequest, menu_id: int) -> HttpResponse:
        menu = self.get_object(request, menu_id)
        try:
            data, content_type = services.richmenu_image(menu=menu)
        except RichMenuError:
            raise Http404 from None
        return HttpResponse(data, content_type=content_type)


class PublishPage(AdminPage):
    """POST: publish the menu (the LINE work runs on commit)."""

    methods = ("POST",)

    def handle(self, request: HttpRequest, menu_id: int) -> HttpResponse:
        menu = self.get_object(request, menu_id, action="publish")
        services.richmenu_publish(menu=menu, actor=request.user)
        messages.success(request, _("「%(name)s」の公開を受け付けました。") % {"name": menu.name})
        return HttpResponseRedirect(reverse("admin:richmenus_richmenu_preview", args=[menu.pk]))

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("admin:richmenus_richmenu_preview", args=[kwargs["menu_id"]])


class DisasterPage(AdminPage):
    """災害モード of each town the user sees: state, progress, and one button to switch."""

    template = "admin/richmenus/disaster.html"
    title = "災害モード"

    def towns(self, request: HttpRequest) -> Any:
        return towns_for_staff(user=request.user, perm="richmenus.view_richmenu").order_by("pk")

    def handle(self, request: HttpRequest) -> HttpResponse:
        towns = list(self.towns(request))
        if request.method == "POST":
            town = next((t for t in towns if str(t.pk) == request.POST.get("municipality")), None)
            if town is None:
                raise Http404
            on = request.POST.get("state") == "on"
            services.disaster_mode_switch(
                municipality=town,
                on=on,
                disaster_type=request.POST.get("disaster_type", ""),
                actor=request.user,
            )
            messages.success(
                request,
                _("災害モードへの切り替えを受け付けました。")
                if on
                else _("通常のメニューへ戻す操作を受け付けました。"),
            )
            return HttpResponseRedirect(request.path)
        modes = {m.municipality_id: m for m in DisasterMode.objects.filter(municipality__in=towns)}
        may_switch = set(
            towns_for_staff(user=request.user, perm="richmenus.switch_disastermode").values_list(
                "pk", flat=True
            )
        )
        rows = []
        for town in towns:
            menu = RichMenu.objects.filter(municipality=town, kind=RichMenu.Kind.DISASTER).first()
            rows.append(
                {"town": town, "mode": modes.get(town.pk), "menu": menu, "may_switch": town.pk in may_switch}
            )
        return self.render(request, {"rows": rows, "disaster_types": DisasterType.choices})
