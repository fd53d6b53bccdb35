from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RichMenusConfig(AppConfig):
    name = "richmenus"
    verbose_name = _("リッチメニュー")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # line_handlers and dispatch import models: only ready() runs after the app registry is
        # loaded (Django's AppConfig.ready)
        from municipalities.line import dispatch
        from municipalities.services import residents
        from richmenus import line_handlers

        dispatch.register_postback(line_handlers.PREFIX, line_handlers.on_postback)
        dispatch.register_text(line_handlers.on_text, priority=30)
        dispatch.register_message("location", line_handlers.on_location)
        dispatch.register_follow(line_handlers.on_follow)
        dispatch.register_fallback_note(line_handlers.fallback_note)
        # Re-link a resident's segment menu when their 地区・年代・関心 change.
        residents.on_preferences_changed("richmenus.tasks.resident_rich_menu_sync_task")
        # (the same reason) the daily figures for the reports: municipalities.metrics
        from richmenus import metrics

        metrics.register()
