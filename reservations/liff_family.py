"""Resident pages (LIFF): 「家族の登録」, the household members a resident books for.

The members belong to the resident (``municipalities.HouseholdMember``); these pages only parse
the form, call the core's services and show their Japanese errors next to each field.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from municipalities.errors import MunicipalityError
from municipalities.line.liff import resident_required
from municipalities.models import HouseholdMember, Relationship
from municipalities.services import (
    HouseholdMemberError,
    household_member_remove,
    household_member_save,
    household_members_for_resident,
)

FIELDS = ("name", "kana", "birth_date", "relationship")


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/liff/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return ""


def _member(request: HttpRequest, member_id: int) -> HouseholdMember:
    member = household_members_for_resident(resident=request.resident).filter(pk=member_id).first()
    if member is None:
        raise Http404
    return member


@resident_required
@require_http_methods(["GET", "POST"])
def family(request: HttpRequest) -> HttpResponse:
    """The list, and the form to add one (or correct one with ``?edit=<id>``)."""
    editing = None
    if request.GET.get("edit", "").isdigit():
        editing = _member(request, int(request.GET["edit"]))
    values = {k: "" for k in FIELDS}
    if editing is not None:
        values = {
            "name": editing.name,
            "kana": editing.kana,
            "birth_date": editing.birth_date_wareki,
            "relationship": editing.relationship,
        }
    errors: dict[str, str] = {}
    error = ""
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in FIELDS}
        try:
            household_member_save(resident=request.resident, member=editing, **values)
        except HouseholdMemberError as exc:
            errors, error = exc.fields, ("" if exc.fields else exc.message)
        except MunicipalityError as exc:
            error = exc.message
        else:
            return redirect(_next(request) or "reservations:family")
    return render(
        request,
        "liff/reservations/family.html",
        {
            "members": household_members_for_resident(resident=request.resident),
            "values": values,
            "errors": errors,
            "error": error,
            "editing": editing,
            "relationships": Relationship.choices,
            "next": _next(request),
            "page_title": "家族の登録",
        },
        status=400 if errors or error else 200,
    )


@resident_required
@require_POST
def family_remove(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member(request, member_id)
    try:
        household_member_remove(resident=request.resident, member=member)
    except MunicipalityError:
        raise Http404 from None
    return redirect("reservations:family")
