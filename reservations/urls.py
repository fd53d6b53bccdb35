from django.urls import path

from . import liff

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
]
