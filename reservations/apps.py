from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from municipalities.line import destinations


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = _("予約")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # line_handlers and dispatch import models: only ready() runs after the app registry is
        # loaded (Django's AppConfig.ready)
        from municipalities.line import dispatch

        # (the same reason: the app's handlers import its models)
        from . import line_handlers

        dispatch.register_postback(line_handlers.PREFIX, line_handlers.on_postback)
        # (the same reason) an edited menu invalidates its cached calendar pages
        from django.db.models.signals import post_delete, post_save

        # (the same reason: models and services load after the app registry)
        from .models import Menu
        from .services.places import menu_edited

        post_save.connect(menu_edited, sender=Menu, dispatch_uid="reservations.menu_edited")
        post_delete.connect(menu_edited, sender=Menu, dispatch_uid="reservations.menu_deleted")
        dispatch.register_text(line_handlers.on_text, priority=40)
        # (the same reason) the daily figures for the reports: municipalities.metrics
        from reservations import metrics

        metrics.register()
        # The pages a rich-menu tile can open (municipalities.line.destinations)
        destinations.register(
            "reservations.menus",
            _("予約メニュー"),
            "reservations:menus",
            one=("reservations:calendar", "menu_id"),
        )
        destinations.register("reservations.mine", _("予約確認"), "reservations:my_list")
