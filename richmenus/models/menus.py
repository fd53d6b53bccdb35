"""リッチメニュー: a layout of tiles with their actions, published to LINE; taps per tile and the menu each resident is linked to."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import Area, Department, Interest, MunicipalityOwned, Role, TimeStampedModel
from richmenus import layouts

# Every write on a town's menus changes what all its residents see: heads and 自治体管理者.
EDIT_ACTIONS: frozenset[str] = frozenset({"add", "change", "delete", "import", "approve", "publish"})
READ: frozenset[str] = frozenset({"view", "export"})


colour = RegexValidator(r"^#[0-9A-Fa-f]{6}$", _("色は #1E88E5 のように # と 16 進 6 桁で入力してください。"))


class RichMenuKind(models.TextChoices):
    NORMAL = "normal", _("通常")
    DISASTER = "disaster", _("災害時")


class RichMenuStatus(models.TextChoices):
    DRAFT = "draft", _("下書き")
    PUBLISHED = "published", _("公開中")
    UNPUBLISHED = "unpublished", _("公開停止")


class RichMenuLayout(models.TextChoices):
    LARGE6 = "large6", _("大 6分割（3×2）")
    LARGE4 = "large4", _("大 4分割（2×2）")
    LARGE3_TOP = "large3_top", _("大 3分割（上1・下2）")
    LARGE3_BOTTOM = "large3_bottom", _("大 3分割（上2・下1）")
    LARGE2_COLUMNS = "large2_columns", _("大 2分割（左右）")
    LARGE2_ROWS = "large2_rows", _("大 2分割（上下）")
    LARGE1 = "large1", _("大 1枚")
    COMPACT3 = "compact3", _("小 3分割")
    COMPACT2_WIDE = "compact2_wide", _("小 2分割（1:2）")
    COMPACT2 = "compact2", _("小 2分割")
    COMPACT1 = "compact1", _("小 1枚")
    GRID = "grid", _("自由なマス目")


class RichMenu(TimeStampedModel, MunicipalityOwned):
    """One tile menu of the town, as residents see it under the chat.

    Staff choose a layout (LINE's templates or a free grid of up to 20 tiles) and fill its tiles
    (リッチメニューのボタン). The image is drawn from the tiles (labels, icons, colours, the town
    logo), or uploaded. Publishing sends it to LINE; a published menu that is edited and
    published again replaces the old one at LINE without a moment with no menu. The default
    menu (既定) is shown to every resident without a segment menu; a menu with 対象 (地区,
    年代, 関心) is linked to the residents who match it. A 災害時 menu is shown to everyone while
    the town's 災害モード is on.
    """

    head_only_actions: ClassVar[frozenset[str]] = EDIT_ACTIONS
    # Seen by every role of the town. Laid out, added and deleted by 自治体管理者 (the
    # information team); changed and published also by the 所属長 of a department that owns a
    # tile (municipalities.permissions: ``edit_departments_path``); the others read it.
    role_rules: ClassVar[dict[str, frozenset[str] | None]] = {
        Role.MUNICIPALITY_ADMIN: None,  # every action
        Role.HEAD: READ | {"change", "publish"},
        Role.EDITOR: READ,
        Role.VIEWER: READ,
    }
    edit_departments_path: ClassVar[str] = "tiles__department"

    Kind = RichMenuKind
    Status = RichMenuStatus
    Layout = RichMenuLayout

    municipality = models.ForeignKey(
        "municipalities.Municipality",
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="rich_menus",
    )
    name = models.CharField(
        _("管理名"), max_length=100, help_text=_("職員向けの名前です。住民には表示されません。")
    )
    kind = models.CharField(
        _("種類"), max_length=16, choices=RichMenuKind.choices, default=RichMenuKind.NORMAL
    )
    status = models.CharField(
        _("状態"), max_length=16, choices=RichMenuStatus.choices, default=RichMenuStatus.DRAFT, editable=False
    )
    is_default = models.BooleanField(
        _("既定のメニュー"),
        default=False,
        help_text=_("対象を決めていない住民全員に表示するメニューです。通常のメニューのうち一つだけです。"),
    )
    layout = models.CharField(
        _("レイアウト"), max_length=20, choices=RichMenuLayout.choices, default=RichMenuLayout.LARGE6
    )
    grid_compact = models.BooleanField(
        _("小さいサイズ（自由なマス目）"),
        default=False,
        help_text=_("自由なマス目のとき、高さを半分（2500×843）にします。"),
    )
    grid_columns = models.PositiveSmallIntegerField(
        _("列の数（自由なマス目）"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(layouts.GRID_MAX_COLUMNS)],
    )
    grid_rows = models.PositiveSmallIntegerField(
        _("行の数（自由なマス目）"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(layouts.GRID_MAX_ROWS)],
    )
    chat_bar_text = models.CharField(
        _("メニューバーの文字"),
        max_length=14,
        default="メニュー",
        help_text=_("トーク画面の下に表示される文字です（14 文字まで）。"),
    )
    background_color = models.CharField(_("背景色"), max_length=7, default="#FFFFFF", validators=[colour])
    uploaded_image = models.FileField(
        _("画像（アップロード）"),
        upload_to="richmenus/",
        blank=True,
        help_text=_("空なら各ボタンの文字・アイコン・色から画像を自動で作ります。JPEG または PNG。"),
    )
    logo = models.FileField(
        _("自治体のロゴ"),
        upload_to="richmenus/logos/",
        blank=True,
        help_text=_("自動で作る画像の左上に小さく入ります。"),
    )
    alias = models.CharField(
        _("タブ名（エイリアス）"),
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^[a-z0-9_-]*$", _("半角英小文字・数字・-・_ で入力してください。"))],
        help_text=_("タブ切り替えの切り替え先になるメニューに付けます（半角英小文字・数字・-・_）。"),
    )
    target_areas = models.ManyToManyField(
        Area, verbose_name=_("対象の地区"), blank=True, related_name="rich_menus"
    )
    target_age_bands = models.JSONField(
        _("対象の年代"),
        default=list,
        blank=True,
        help_text=_('年代のコードの一覧（例: ["60s", "70p"]）。空なら全員。'),
    )
    target_interests = models.ManyToManyField(
        Interest, verbose_name=_("対象の関心"), blank=True, related_name="rich_menus"
    )
    priority = models.PositiveSmallIntegerField(
        _("優先順"), default=100, help_text=_("対象が重なる住民には、小さい数のメニューが表示されます。")
    )
    line_rich_menu_id = models.CharField(
        _("LINE のリッチメニューID"), max_length=100, blank=True, editable=False
    )
    published_fingerprint = models.CharField(
        _("公開した内容の指紋"), max_length=64, blank=True, editable=False
    )
    published_at = models.DateTimeField(_("公開日時"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("リッチメニュー")
        verbose_name_plural = _("リッチメニュー")
        ordering = ["municipality", "kind", "priority", "pk"]
        permissions = [("publish_richmenu", "リッチメニューを公開・切り替えできる")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=RichMenuKind.values), name="richmenus_richmenu_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RichMenuStatus.values), name="richmenus_richmenu_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(layout__in=RichMenuLayout.values), name="richmenus_richmenu_layout_valid"
            ),
            # One default normal menu per town (the one everyone without a segment menu sees).
            models.UniqueConstraint(
                fields=["municipality"],
                condition=Q(is_default=True, kind="normal"),
                name="richmenus_richmenu_one_default_per_town",
            ),
            # One prepared disaster menu per town.
            models.UniqueConstraint(
                fields=["municipality"],
                condition=Q(kind="disaster"),
                name="richmenus_richmenu_one_disaster_per_town",
            ),
            models.UniqueConstraint(
                fields=["municipality", "alias"],
                condition=~Q(alias=""),
                name="richmenus_richmenu_alias_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<RichMenu {self.pk} {self.name!r} {self.kind} {self.status} line={self.line_rich_menu_id!r}>"

    @property
    def size(self) -> tuple[int, int]:
        return layouts.layout_size(self.layout, compact=self.grid_compact)

    def areas(self) -> list[layouts.Bounds]:
        return layouts.layout_areas(
            self.layout, compact=self.grid_compact, columns=self.grid_columns, rows=self.grid_rows
        )


class TileIcon(models.TextChoices):
    NONE = "", _("なし")
    RESERVE = "reserve", _("予約")
    APPLY = "apply", _("申請")
    GARBAGE = "garbage", _("ごみ")
    NEWS = "news", _("お知らせ")
    SETTINGS = "settings", _("受信設定")
    DISASTER = "disaster", _("防災")
    CONTACT = "contact", _("問い合わせ")
    HOME = "home", _("ホームページ")


class TileAction(models.TextChoices):
    FEATURE = "feature", _("機能のページを開く")
    TEXT = "text", _("文字を送る")
    POSTBACK = "postback", _("ポストバック")
    URI = "uri", _("URL を開く")
    SWITCH = "switch", _("別のタブに切り替える")


class RichMenuTile(TimeStampedModel):
    """One tile (ボタン) of a rich menu: its place in the layout, what it shows and what a tap does.

    A tap opens a feature page (予約メニュー, 申請フォーム, 受信設定 …: the apps that own those
    pages offer them), sends a text as if the resident typed it (「明日のごみは？」), sends a
    postback, opens an https URL, or switches to another tab (a menu with a タブ名).
    """

    municipality_path: ClassVar[str] = "menu__municipality"
    department_path: ClassVar[str | None] = None
    head_only_actions: ClassVar[frozenset[str]] = EDIT_ACTIONS
    # Every role of the town sees the tiles; a tile is changed by 自治体管理者 and by the 所属長
    # of its department (a tile without one: 自治体管理者 only).
    edit_departments_path: ClassVar[str] = "department"

    Icon = TileIcon
    Action = TileAction

    menu = models.ForeignKey(
        RichMenu, verbose_name=_("リッチメニュー"), on_delete=models.CASCADE, related_name="tiles"
    )
    position = models.PositiveSmallIntegerField(
        _("位置"), help_text=_("レイアウトの何番目のマスか（左上から右へ、1 から）。")
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rich_menu_tiles",
        help_text=_(
            "このボタンの担当課です。担当課の所属長は、このメニューを編集・公開できます。"
            "空なら自治体管理者だけが編集します。"
        ),
    )
    label = models.CharField(_("表示する文字"), max_length=20)
    icon = models.CharField(_("アイコン"), max_length=16, choices=TileIcon.choices, blank=True, default="")
    background_color = models.CharField(_("背景色"), max_length=7, default="#1E88E5", validators=[colour])
    text_color = models.CharField(_("文字色"), max_length=7, default="#FFFFFF", validators=[colour])
    action = models.CharField(
        _("タップしたとき"), max_length=16, choices=TileAction.choices, default=TileAction.TEXT
    )
    feature = models.CharField(
        _("開く機能"),
        max_length=64,
        blank=True,
        help_text=_("「機能のページを開く」のとき、開くページです。"),
    )
    feature_object_id = models.PositiveIntegerField(
        _("対象の番号"),
        null=True,
        blank=True,
        help_text=_("予約メニューや申請フォームを一つだけ開くときの番号です。空なら一覧を開きます。"),
    )
    text = models.CharField(_("送る文字"), max_length=300, blank=True)
    data = models.CharField(_("ポストバックのデータ"), max_length=200, blank=True)
    uri = models.URLField(_("URL"), max_length=1000, blank=True)
    switch_to = models.ForeignKey(
        RichMenu,
        verbose_name=_("切り替え先のタブ"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="switched_from",
    )

    class Meta:
        verbose_name = _("リッチメニューのボタン")
        verbose_name_plural = _("リッチメニューのボタン")
        ordering = ["menu", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["menu", "position"], name="richmenus_richmenutile_one_per_position"
            ),
            models.CheckConstraint(
                condition=Q(icon__in=TileIcon.values), name="richmenus_richmenutile_icon_valid"
            ),
            models.CheckConstraint(
                condition=Q(action__in=TileAction.values), name="richmenus_richmenutile_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(position__gte=1), name="richmenus_richmenutile_position_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.label}"

    def clean(self) -> None:
        super().clean()
        if self.department_id and self.menu_id:
            town = Department.objects.filter(pk=self.department_id).values_list("municipality_id", flat=True)
            menu_town = RichMenu.objects.filter(pk=self.menu_id).values_list("municipality_id", flat=True)
            if list(town) != list(menu_town):
                raise ValidationError({"department": _("メニューと同じ自治体の課を選んでください。")})


class RichMenuTap(models.Model):
    """Taps per menu, tile and day (postback tiles and pages opened from the menu): a counter,
    nothing about who tapped."""

    municipality_path: ClassVar[str] = "menu__municipality"
    department_path: ClassVar[str | None] = None

    menu = models.ForeignKey(
        RichMenu, verbose_name=_("リッチメニュー"), on_delete=models.CASCADE, related_name="taps"
    )
    tile = models.ForeignKey(
        RichMenuTile, verbose_name=_("ボタン"), on_delete=models.CASCADE, related_name="taps"
    )
    day = models.DateField(_("日付"))
    count = models.PositiveIntegerField(_("回数"), default=0)

    class Meta:
        verbose_name = _("リッチメニューのタップ数")
        verbose_name_plural = _("リッチメニューのタップ数")
        ordering = ["-day", "menu", "tile"]
        constraints = [
            models.UniqueConstraint(fields=["tile", "day"], name="richmenus_richmenutap_one_per_tile_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.count}"


class ResidentRichMenu(models.Model):
    """Which segment menu a resident is linked to at LINE (none: the default menu). The link job
    compares it with the menu the resident should have and links only the difference."""

    municipality_path: ClassVar[str] = "resident__municipality"
    department_path: ClassVar[str | None] = None

    resident = models.OneToOneField(
        "municipalities.Resident",
        verbose_name=_("住民"),
        on_delete=models.CASCADE,
        related_name="rich_menu_link",
    )
    menu = models.ForeignKey(
        RichMenu, verbose_name=_("リッチメニュー"), on_delete=models.CASCADE, related_name="resident_links"
    )
    linked_at = models.DateTimeField(_("紐付けた日時"))

    class Meta:
        verbose_name = _("住民のリッチメニュー")
        verbose_name_plural = _("住民のリッチメニュー")
        ordering = ["resident"]
        indexes = [
            # the disaster switch and the link job count and page residents per menu
            models.Index(fields=["menu", "resident"], name="richmenus_link_menu_resident"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} → {self.menu_id}"
