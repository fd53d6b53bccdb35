from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from municipalities.line import destinations


class BroadcastsConfig(AppConfig):
    name = "broadcasts"
    verbose_name = _("配信")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # line_handlers and dispatch import models: only ready() runs after the app registry is
        # loaded (Django's AppConfig.ready)
        from broadcasts import line_handlers
        from municipalities.line import dispatch

        dispatch.register_postback(line_handlers.PREFIX, line_handlers.on_postback)
        dispatch.register_text(line_handlers.on_text, priority=20)
        # (the same reason) the daily figures for the reports: municipalities.metrics
        from broadcasts import metrics

        metrics.register()
        # (the same reason) 「承認待ち N 件」 on the admin home: municipalities.notices
        from broadcasts.notices import broadcast_notices
        from municipalities import notices

        notices.register(broadcast_notices)
        # The pages a rich-menu tile can open (municipalities.line.destinations)
        destinations.register("broadcasts.settings", _("受信設定"), "broadcasts:receive_settings")
