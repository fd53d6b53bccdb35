"""Query counts of the core changelists: constant in the number of rows (no N+1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from municipalities.models import Department, Role
from tests.municipalities import factories

BACKEND = "municipalities.auth.RoleBackend"
MAX_QUERIES = 16  # session, user, roles, role permissions, counts, rows, filters …

BUILDERS: dict[str, Callable[[Department], object]] = {
    "department": lambda d: factories.DepartmentFactory(municipality=d.municipality),
    "staffuser": factories._staff_user,
    "staffrole": factories._staff_role,
    "interest": factories._interest,
    "area": factories._area,
    "resident": factories._resident,
    "auditentry": factories._audit_entry,
    "talkmessage": factories._talk_message,
    "webhookevent": factories._webhook_event,
}


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("model_name", sorted(BUILDERS))
@pytest.mark.parametrize("who", ["town_admin", "superuser"])
def test_changelist_query_count_is_constant(request, kenko, model_name, who, django_assert_max_num_queries):
    # given: a signed-in user and a few rows
    user = request.getfixturevalue(who)
    client = Client()
    client.force_login(user, backend=BACKEND)
    url = reverse(f"admin:municipalities_{model_name}_changelist")
    build = BUILDERS[model_name]
    for _ in range(2):
        build(kenko)
    client.get(url)  # warm caches (the header badge is computed once, then cached)
    few = _count(client, url)
    # when: many more rows
    for _ in range(15):
        build(kenko)
    # then: the same number of queries, and within the budget
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    assert response.context_data["cl"].result_count >= 17
    assert _count(client, url) == few


def test_head_staffrole_changelist_query_count(kenko, kenko_head, django_assert_max_num_queries):
    client = Client()
    client.force_login(kenko_head, backend=BACKEND)
    for _ in range(12):
        factories.staff_role_in(kenko, Role.VIEWER)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("admin:municipalities_staffrole_changelist"))
    assert response.context_data["cl"].result_count == 13
