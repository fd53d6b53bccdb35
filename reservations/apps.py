from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = _("予約")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from municipalities.line import dispatch

        from . import line_handlers

        dispatch.register_postback(line_handlers.PREFIX, line_handlers.on_postback)
        dispatch.register_text(line_handlers.on_text, priority=40)
