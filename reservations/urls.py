from django.urls import path

from . import liff, liff_family, liff_waitlist

app_name = "reservations"

urlpatterns = [
    path("", liff.menus, name="menus"),
    path("menu/<int:menu_id>/", liff.menu_calendar, name="calendar"),
    path("menu/<int:menu_id>/day/<str:day>/", liff.menu_day, name="day"),
    path("slot/<int:slot_id>/", liff.slot_confirm, name="confirm"),
    path("done/<int:reservation_id>/", liff.done, name="done"),
    path("my/", liff.my_list, name="my_list"),
    path("my/<int:reservation_id>/", liff.my_detail, name="my_detail"),
    path("my/<int:reservation_id>/cancel/", liff.my_cancel, name="my_cancel"),
    path("my/<int:reservation_id>/change/", liff.my_change, name="my_change"),
    path("family/", liff_family.family, name="family"),
    path("family/<int:member_id>/remove/", liff_family.family_remove, name="family_remove"),
    path("slot/<int:slot_id>/waitlist/", liff_waitlist.join, name="waitlist_join"),
    path("menu/<int:menu_id>/day/<str:day>/waitlist/", liff_waitlist.join_day, name="waitlist_join_day"),
    path("waitlist/<int:entry_id>/", liff_waitlist.entry_page, name="waitlist"),
]
