"""Custom staff pages of a ModelAdmin: one way to authorise, fail and render (STYLE R8, R9).

Every extra URL a ModelAdmin adds in ``get_urls`` is an ``AdminPage``: the page names the model
and the action it needs, the policy decides before ``handle`` runs, a ``ServiceError`` becomes an
error message and a redirect instead of a traceback, and pages render with the admin's own
context (site header, ``opts``) so they look like the rest of the console.

    class DayView(AdminPage):
        template = "admin/reservations/day.html"
        title = "日別の予約枠"

        def handle(self, request): ...

    path("day/", DayView(self).as_view(), name="reservations_slot_day")

Objects are looked up through the ModelAdmin's scoped queryset (``get_object``), so another
department's or town's row is a 404, never a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse

from municipalities.errors import ServiceError
from municipalities.permissions import policy_for


class AdminPage:
    """One custom page of ``model_admin``; subclasses implement ``handle(request, **url_kwargs)``.

    ``model`` (default: the ModelAdmin's model) and ``action`` ("view", "change", "import", …)
    name what the page needs: a user who may not ``action`` that model anywhere gets a 403 before
    anything is read. Viewing is also open to those who may change, as in the admin itself.
    ``methods`` limits the HTTP methods (a state change is a POST only).
    """

    template: str = ""
    title: str = ""
    action: str = "view"
    model: type[models.Model] | None = None
    methods: tuple[str, ...] = ("GET", "HEAD", "POST")

    def __init__(
        self, model_admin: Any, *, model: type[models.Model] | None = None, action: str | None = None
    ) -> None:
        self.model_admin = model_admin
        self.model = model or self.model or model_admin.model
        self.action = action or self.action

    # --- the one entry point --------------------------------------------------------------------

    def as_view(self) -> Callable[..., HttpResponse]:
        """The view for ``path()``, wrapped by the admin site (login, staff, CSRF, never cached)."""

        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            return self.dispatch(request, **kwargs)

        view.__name__ = type(self).__name__
        view.admin_page = self  # type: ignore[attr-defined]  # kept by admin_view's wraps()
        return self.model_admin.admin_site.admin_view(view)

    def dispatch(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Method, then permission, then the page; a ServiceError is shown, not raised."""
        if request.method not in self.methods:
            return HttpResponseNotAllowed(self.methods)
        if not self.has_permission(request):
            raise PermissionDenied
        try:
            return self.handle(request, **kwargs)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self.error_redirect_url(request, **kwargs))

    def has_permission(self, request: HttpRequest) -> bool:
        policy = policy_for(self.model)
        if policy.user_has_permission(request.user, self.action):
            return True
        return self.action == "view" and policy.user_has_permission(request.user, "change")

    def handle(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError

    def error_redirect_url(self, request: HttpRequest, **kwargs: Any) -> str:
        """Where a refused service call sends the user (default: the same page, GET)."""
        return request.get_full_path()

    # --- helpers for handle() -------------------------------------------------------------------

    def get_object(self, request: HttpRequest, object_id: Any, action: str = "view") -> Any:
        """The ModelAdmin's object, looked up through its scoped queryset: 404 when out of reach,
        also when the user may not ``action`` it ("view" includes "change")."""
        obj = self.model_admin.get_object(request, str(object_id))
        if obj is None:
            raise Http404
        policy = policy_for(obj)
        allowed = policy.user_has_permission_for_instance(request.user, action, obj) or (
            action == "view" and policy.user_has_permission_for_instance(request.user, "change", obj)
        )
        if not allowed:
            raise Http404
        return obj

    def context(self, request: HttpRequest) -> dict[str, Any]:
        opts = self.model_admin.model._meta
        return {
            **self.model_admin.admin_site.each_context(request),
            "opts": opts,
            "app_label": opts.app_label,
            "title": self.title,
        }

    def render(
        self, request: HttpRequest, context: dict[str, Any], template: str | None = None
    ) -> TemplateResponse:
        return TemplateResponse(request, template or self.template, {**self.context(request), **context})
