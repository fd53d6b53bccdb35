"""The custom admin pages: every extra URL of every ModelAdmin is an AdminPage (one way to check
permission, fail and render), and the framework itself refuses, fails and renders as it says."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

from municipalities.admin_pages import AdminPage
from municipalities.errors import ServiceError
from reservations.models import Slot

STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change", "autocomplete"}
# Django's own extra pages (UserAdmin's password form), not the project's custom pages.
DJANGO_PAGES = {"auth_user_password_change"}


def _extra_patterns(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    prefix = f"{model_admin.model._meta.app_label}_{model_admin.model._meta.model_name}_"
    return [
        p
        for p in model_admin.get_urls()
        if isinstance(p, URLPattern)
        and p.name
        and p.name.removeprefix(prefix) not in STANDARD_VIEWS
        and p.name not in DJANGO_PAGES
        # import-export's own pages are django-import-export's views, not custom pages
        and not p.name.removeprefix(prefix).startswith(("import", "process_import", "export"))
    ]


def test_every_extra_admin_url_is_an_admin_page() -> None:
    # given every ModelAdmin of the site
    pages = {
        p.name: getattr(p.callback, "admin_page", None)
        for model_admin in admin.site._registry.values()
        for p in _extra_patterns(model_admin)
    }

    # then each extra URL is served by an AdminPage
    assert "reservations_slot_day" in pages and "chatbot_garbage_upload" in pages
    others = sorted(name for name, page in pages.items() if not isinstance(page, AdminPage))
    assert others == []


class _FailingPage(AdminPage):
    action = "change"

    def handle(self, request, **kwargs) -> HttpResponse:
        raise ServiceError("この枠は満席です。")


def _request(user, method: str = "get"):
    request = getattr(RequestFactory(), method)("/admin/reservations/slot/x/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


@pytest.mark.django_db
def test_a_service_error_becomes_a_message_and_a_redirect(kenko_editor) -> None:
    # given a page whose service refuses
    page = _FailingPage(admin.site._registry[Slot])

    # when an editor (who may change slots) opens it
    request = _request(kenko_editor)
    response = page.dispatch(request)

    # then the refusal is a message on the same page, not a traceback
    assert response.status_code == 302 and response["Location"] == "/admin/reservations/slot/x/"
    assert [str(m) for m in get_messages(request)] == ["この枠は満席です。"]


@pytest.mark.django_db
def test_a_user_without_the_action_is_refused_before_the_page_runs(kenko_viewer) -> None:
    # given a page that needs "change" on slots, and a viewer
    page = _FailingPage(admin.site._registry[Slot])

    # when the viewer opens it, then the admin refuses (403) without running the page
    with pytest.raises(PermissionDenied):
        page.dispatch(_request(kenko_viewer))


@pytest.mark.django_db
def test_a_post_only_page_refuses_get(kenko_editor) -> None:
    # given the broadcast buttons (POST only)
    url = reverse("admin:broadcasts_broadcast_transition", args=[1, "submit"])
    client = Client()
    client.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")

    # when opened with GET
    response = client.get(url)

    # then nothing runs
    assert response.status_code == 405
