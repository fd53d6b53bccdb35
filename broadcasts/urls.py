from django.urls import path

from broadcasts import liff

app_name = "broadcasts"

urlpatterns = [
    path("settings/", liff.receive_settings, name="receive_settings"),
]
