"""Every admin surface goes through the tenancy mixin: inlines and relation list filters
(issue 18, findings 6 and 7)."""

from __future__ import annotations

from django.contrib import admin
from django.test import Client
from django.urls import reverse

from chatbot.models import AreaCalendar, CollectionRule
from municipalities.models import Department, Role, StaffUser
from municipalities.scoping import ScopedInline
from municipalities.services import staff_role_grant
from tests.applications.factories import _payment
from tests.chatbot.factories import GarbageCategoryFactory, _calendar
from tests.conftest import make_staff

BACKEND = "municipalities.auth.RoleBackend"


def client_for(user: StaffUser) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def test_every_registered_inline_is_built_on_the_scoped_base():
    # given: every inline of every registered admin (a new one joins by itself)
    inlines = [
        (model_admin, inline)
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    ]
    # then
    assert inlines, "no admin has an inline: the test would prove nothing"
    plain = [
        f"{type(model_admin).__name__}.{inline.__name__}"
        for model_admin, inline in inlines
        if not issubclass(inline, ScopedInline)
    ]
    assert not plain, f"inlines not built on municipalities.scoping.ScopedInline: {plain}"


def test_collection_rule_inline_offers_only_the_towns_categories(town, other_town, kenko):
    # given
    calendar = _calendar(kenko)
    own = GarbageCategoryFactory(municipality=town)
    foreign = GarbageCategoryFactory(municipality=other_town)
    admin_user = make_staff("m_admin", town, Role.MUNICIPALITY_ADMIN)
    # when
    response = client_for(admin_user).get(reverse("admin:chatbot_areacalendar_change", args=[calendar.pk]))
    # then
    (inline,) = response.context_data["inline_admin_formsets"]
    choices = set(inline.formset.empty_form.fields["category"].queryset)
    assert own in choices
    assert foreign not in choices


def _post_rule_row(calendar, user, category, rule: str):
    """The calendar's change form with one new collection-rule row, as the browser posts it."""
    data = {
        "municipality": calendar.municipality_id,
        "area": calendar.area_id,
        "center": calendar.center,
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-0-category": category.pk,
        "rules-0-rule": rule,
        "_save": "保存",
    }
    return client_for(user).post(reverse("admin:chatbot_areacalendar_change", args=[calendar.pk]), data)


def test_adding_a_collection_rule_row_sets_the_town_from_the_calendar(town, other_town, kenko):
    # given
    calendar = _calendar(kenko)
    category = GarbageCategoryFactory(municipality=town)
    admin_user = make_staff("m_admin", town, Role.MUNICIPALITY_ADMIN)
    # when
    response = _post_rule_row(calendar, admin_user, category, "月 木")
    # then
    assert response.status_code == 302
    rule = CollectionRule.objects.get(calendar=calendar)
    assert (rule.municipality, rule.category) == (town, category)


def test_a_forged_inline_row_with_another_towns_category_is_refused(town, other_town, kenko):
    # given
    calendar = _calendar(kenko)
    foreign = GarbageCategoryFactory(municipality=other_town)
    admin_user = make_staff("m_admin", town, Role.MUNICIPALITY_ADMIN)
    # when
    response = _post_rule_row(calendar, admin_user, foreign, "月")
    # then
    assert response.status_code == 200
    assert not CollectionRule.objects.filter(calendar=calendar).exists()
    assert AreaCalendar.objects.filter(pk=calendar.pk).exists()


def test_payment_list_filters_over_relations_list_only_the_users_departments(
    town, kenko, somu, other_department
):
    # given: a payment in each place, and a staff member who is editor of 健康福祉課 and viewer
    # of 総務課 (a filter with one choice is not shown, so they need two)
    payments = {dept.pk: _payment(dept) for dept in (kenko, somu, other_department)}
    editor = make_staff("m_editor", town, Role.EDITOR, kenko)
    staff_role_grant(user=editor, role=Role.VIEWER, department=somu, actor=None)
    # when
    response = client_for(editor).get(reverse("admin:municipalities_payment_changelist"))
    # then
    assert response.status_code == 200
    offered: dict[type, set[int]] = {Department: set()}
    for spec in response.context_data["cl"].filter_specs:
        related = getattr(getattr(spec, "field", None), "related_model", None)
        if related in offered:
            offered[related] |= {pk for pk, _label in spec.lookup_choices}
    assert offered[Department] == {kenko.pk, somu.pk}
    listed = {p.pk for p in response.context_data["cl"].result_list}
    assert listed == {payments[kenko.pk].pk, payments[somu.pk].pk}
