from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = _("チャットボット")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # line_handlers and dispatch import models: only ready() runs after the app registry is
        # loaded (Django's AppConfig.ready)
        from chatbot import line_handlers
        from municipalities.line import dispatch

        # Staff keyword rules answer before any other app's text handler (rich-menu buttons).
        dispatch.register_text(line_handlers.keyword_reply, priority=10)
        dispatch.register_postback(line_handlers.POSTBACK_PREFIX, line_handlers.on_postback)
        dispatch.set_text_fallback(line_handlers.answer)
        # The chat state is read with the sender (one query fewer per message).
        dispatch.register_resident_preload(line_handlers.STATE_RELATION)
        # (the same reason) the staff notices on the admin home
        from chatbot.notices import chatbot_notices
        from municipalities import notices

        notices.register(chatbot_notices)
        # (the same reason) the hand-off badge on every admin page
        from chatbot.notices import handoff_badge

        notices.register_badge(handoff_badge)
        # (the same reason) the daily figures for the reports: municipalities.metrics
        from chatbot import metrics

        metrics.register()
