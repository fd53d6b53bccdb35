from django.urls import path

from municipalities import views
from municipalities.line import simulator_views, webhook

app_name = "line"

urlpatterns = [
    path("line/webhook/<slug:slug>/", webhook.webhook_view, name="webhook"),
    path("r/<str:token>/", views.resident_link_view, name="resident_link"),
    path("liff/settings/", views.receive_settings_view, name="receive_settings"),
    path("liff/signin/<slug:slug>/", views.liff_entry_view, name="liff_entry"),
    path("liff/signin/<slug:slug>/verify/", views.liff_signin_view, name="liff_signin"),
    path("simulator/", simulator_views.simulator_page, name="simulator"),
    path("simulator/api/residents/", simulator_views.simulator_residents, name="simulator_residents"),
    path("simulator/api/send/", simulator_views.simulator_send, name="simulator_send"),
    path("simulator/api/talk/", simulator_views.simulator_talk, name="simulator_talk"),
    path("simulator/open/", simulator_views.simulator_open, name="simulator_open"),
    path(
        "simulator/api/richmenu/<str:rich_menu_id>/image/",
        simulator_views.simulator_richmenu_image,
        name="simulator_richmenu_image",
    ),
]
