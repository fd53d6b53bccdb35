from django.urls import path

from municipalities.payments import views

app_name = "payments"

urlpatterns = [
    path("<int:pk>/checkout/", views.checkout_view, name="checkout"),
    path("<int:pk>/return/", views.return_view, name="return"),
    path("stripe/<slug:slug>/webhook/", views.stripe_webhook_view, name="stripe_webhook"),
    path("sandbox/checkout/<str:reference>/", views.sandbox_checkout_view, name="sandbox_checkout"),
    path("sandbox/callback/", views.sandbox_callback_view, name="sandbox_callback"),
]
