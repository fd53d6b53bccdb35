"""Resident pages of 施設予約 (LIFF), mounted at /liff/facilities/ (namespace ``facilities``)."""

from django.urls import path

from . import liff, liff_book, liff_lottery, liff_mine

app_name = "facilities"

urlpatterns = [
    path("", liff.facility_list, name="list"),
    path("<int:facility_id>/", liff.facility_rooms, name="facility"),
    path("room/<int:room_id>/", liff.room_week, name="room_week"),
    path("room/<int:room_id>/fee/<int:frame_id>/", liff_book.fee_preview, name="fee"),
    path("room/<int:room_id>/<str:day>/<int:frame_id>/", liff_book.book, name="book"),
    path("booking/<str:code>/", liff_book.booking_detail, name="booking_detail"),
    path("booking/<str:code>/pay/", liff_book.booking_pay, name="booking_pay"),
    path("booking/<str:code>/cancel/", liff_mine.booking_cancel_view, name="booking_cancel"),
    path("my/", liff_mine.my_list, name="my_list"),
    path("room/<int:room_id>/<str:day>/<int:frame_id>/lottery/", liff_lottery.apply, name="lottery_apply"),
    path("lottery/<int:application_id>/", liff_lottery.detail, name="lottery_detail"),
    path("lottery/<int:application_id>/withdraw/", liff_lottery.withdraw, name="lottery_withdraw"),
]
