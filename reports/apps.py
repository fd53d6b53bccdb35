from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("レポート")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # LINE's own figures (Insight) as a section of the dashboard: registered like every
        # feature's figures (municipalities.metrics); models are ready only now.
        from reports import metrics  # noqa: PLC0415

        metrics.register()
