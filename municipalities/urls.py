from django.urls import path

from municipalities import views
from municipalities.line import webhook

app_name = "line"

urlpatterns = [
    path("line/webhook/<slug:slug>/", webhook.webhook_view, name="webhook"),
    path("r/<str:token>/", views.resident_link_view, name="resident_link"),
]
