from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from municipalities.line import destinations


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("電子申請")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # line_handlers and dispatch import models: only ready() runs after the app registry is
        # loaded (Django's AppConfig.ready)
        from applications import line_handlers
        from municipalities.line import dispatch

        dispatch.register_postback(line_handlers.POSTBACK_PREFIX, line_handlers.on_postback)
        dispatch.register_text(line_handlers.on_text, priority=40)
        # (the same reason) the daily figures for the reports: municipalities.metrics
        from applications import metrics

        metrics.register()
        # The pages a rich-menu tile can open (municipalities.line.destinations)
        destinations.register(
            "applications.forms",
            _("申請フォーム"),
            "applications:form_list",
            one=("applications:form", "form_id"),
        )
        destinations.register("applications.mine", _("申請状況"), "applications:submission_list")
        # (the same reason) the submission is what its fee's payments are for (municipalities.payments)
        from applications.services import payments as submission_payments
        from municipalities.payments import register_payable

        register_payable(
            "applications.submission",
            on_paid=submission_payments.submission_paid,
            resident_path=submission_payments.submission_resident_path,
        )
