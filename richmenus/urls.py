from django.urls import path

from richmenus import views

app_name = "richmenus"

urlpatterns = [
    path("tap/<int:tile_id>/", views.tile_tap, name="tile_tap"),
]
