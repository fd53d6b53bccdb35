from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FacilitiesConfig(AppConfig):
    name = "facilities"
    verbose_name = _("施設予約")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Services and metrics import models: only ready() runs after the app registry is loaded.
        from facilities import metrics
        from facilities.services import payments as booking_payments
        from municipalities.payments import register_payable

        # The daily figures for the reports (municipalities.metrics).
        metrics.register()
        # A booking is what its fee's payments are for (municipalities.payments).
        register_payable(
            "facilities.facilitybooking",
            on_paid=booking_payments.booking_paid,
            resident_path=booking_payments.booking_resident_path,
        )
        # The resident side (LIFF helper): 「施設予約」 and the fac: postbacks, and the pages a
        # rich-menu tile can open (municipalities.line.destinations).
        from facilities import line_handlers
        from municipalities.line import destinations, dispatch

        dispatch.register_postback(line_handlers.PREFIX, line_handlers.on_postback)
        dispatch.register_text(line_handlers.on_text, priority=35)
        destinations.register(
            "facilities.list", _("施設予約"), "facilities:list", one=("facilities:facility", "facility_id")
        )
        destinations.register("facilities.mine", _("施設の予約確認"), "facilities:my_list")
        # 「予約確認」 (the reservations app) lists them too (municipalities.resident_bookings).
        from facilities.selectors import upcoming_lines_for_resident
        from municipalities import resident_bookings

        resident_bookings.register(
            "facilities", _("施設の予約"), "facilities:my_list", upcoming=upcoming_lines_for_resident
        )
