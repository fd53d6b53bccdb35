from django.urls import path

from applications import views

app_name = "applications"

urlpatterns = [
    path("", views.form_list, name="form_list"),
    path("forms/<int:form_id>/", views.form_view, name="form"),
    path("confirm/<str:token>/", views.confirm_view, name="confirm"),
    path("mine/", views.submission_list, name="submission_list"),
    path("mine/<str:reference>/", views.submission_detail, name="submission_detail"),
    path("mine/<str:reference>/edit/", views.submission_edit, name="submission_edit"),
    path("mine/<str:reference>/cancel/", views.submission_cancel_view, name="submission_cancel"),
    path("mine/<str:reference>/pay/", views.submission_pay, name="submission_pay"),
    path(
        "mine/<str:reference>/files/<int:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
    path("staged/<int:attachment_id>/", views.staged_download, name="staged_download"),
    path("postal/<str:code>/", views.postal_lookup, name="postal_lookup"),
]
