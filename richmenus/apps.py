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
        from richmenus import line_handlers

        dispatch.register_postback(line_handlers.PREFIX, line_handlers.on_postback)
