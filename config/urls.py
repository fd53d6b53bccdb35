from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("municipalities.urls")),
    path("liff/broadcasts/", include("broadcasts.urls")),
    path("liff/reservations/", include("reservations.urls")),
    path("liff/applications/", include("applications.urls")),
    path("liff/richmenus/", include("richmenus.urls")),
    path("liff/facilities/", include("facilities.urls")),
    path("payments/", include("municipalities.payments.urls")),
]
