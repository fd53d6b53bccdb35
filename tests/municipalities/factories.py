"""Factories of the core app, and the permission-matrix builders of its admin models.

Each builder takes a Department and returns a saved object owned by that department (or, for
models owned by the municipality as a whole, by its municipality). See tests/matrix.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import factory
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.db import transaction
from django.utils import timezone

from municipalities.audit import audit_log
from municipalities.models import (
    Area,
    AuditEntry,
    Department,
    HouseholdMember,
    Interest,
    Municipality,
    Resident,
    Role,
    StaffRole,
    StaffUser,
    TalkMessage,
    WebhookEvent,
)
from municipalities.services import household_member_save, resident_follow, staff_role_grant
from tests.matrix import matrix_builder

_serial = itertools.count(1)


def serial() -> int:
    """A number unique within the test run (for codes that must be unique per town)."""
    return next(_serial)


class MunicipalityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Municipality
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"テスト町{n}")
    slug = factory.Sequence(lambda n: f"town{n}")
    prefecture = "長野県"
    line_channel_id = "1234567890"
    channel_secret = factory.Sequence(lambda n: f"secret-{n}")
    channel_access_token = factory.Sequence(lambda n: f"token-{n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    municipality = factory.SubFactory(MunicipalityFactory)
    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.Sequence(lambda n: f"第{n}課")


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    last_name = "職員"
    first_name = factory.Sequence(lambda n: f"{n}号")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.jp")
    municipality = factory.SubFactory(MunicipalityFactory)
    is_staff = True
    password = factory.django.Password("test-pass-2026")


class InterestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interest

    municipality = factory.SubFactory(MunicipalityFactory)
    code = factory.Sequence(lambda n: f"interest{n}")
    name = factory.Sequence(lambda n: f"分野{n}")


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    municipality = factory.SubFactory(MunicipalityFactory)
    name = factory.Sequence(lambda n: f"地区{n}")
    kana = factory.Sequence(lambda n: f"ちく{n}")


def resident_in(municipality: Municipality, **kwargs: Any) -> Resident:
    """A following resident, created as the webhook does (through the service)."""
    number = serial()
    resident, _ = resident_follow(
        municipality=municipality,
        line_user_id=f"U{number:032x}",
        display_name=kwargs.pop("display_name", f"住民 {number}"),
    )
    return resident


def staff_role_in(department: Department, role: str = Role.EDITOR) -> StaffRole:
    """A new staff member holding ``role`` in ``department`` (granted by the system)."""
    user = StaffUserFactory(municipality=department.municipality)
    return staff_role_grant(user=user, role=role, department=department, actor=None)


# --- permission-matrix builders ----------------------------------------------------------------


@matrix_builder(Municipality)
def _municipality(department: Department) -> Municipality:
    return department.municipality


@matrix_builder(Department)
def _department(department: Department) -> Department:
    return department


@matrix_builder(StaffUser)
def _staff_user(department: Department) -> StaffUser:
    return StaffUserFactory(municipality=department.municipality)


@matrix_builder(StaffRole)
def _staff_role(department: Department) -> StaffRole:
    return staff_role_in(department)


@matrix_builder(Interest)
def _interest(department: Department) -> Interest:
    return InterestFactory(municipality=department.municipality)


@matrix_builder(Area)
def _area(department: Department) -> Area:
    return AreaFactory(municipality=department.municipality)


@matrix_builder(Resident)
def _resident(department: Department) -> Resident:
    return resident_in(department.municipality)


@matrix_builder(HouseholdMember)
def _household_member(department: Department) -> HouseholdMember:
    return household_member_save(
        resident=resident_in(department.municipality),
        name="山田 はると",
        kana="ヤマダ ハルト",
        birth_date="令和6年5月10日",
        relationship="child",
    )


@matrix_builder(AuditEntry)
def _audit_entry(department: Department) -> AuditEntry:
    with transaction.atomic():
        return audit_log(
            actor=None,
            action="municipalities.department.changed",
            obj=department,
            data={"name": ["旧", "新"]},
        )


@matrix_builder(TalkMessage)
def _talk_message(department: Department) -> TalkMessage:
    # A notice sent for the department (the department-owned case); the general chat, town-wide
    # for the roles that answer residents, is covered by tests/municipalities/test_talklog.py.
    resident = resident_in(department.municipality)
    return TalkMessage.objects.create(
        municipality=department.municipality,
        resident=resident,
        department=department,
        direction=TalkMessage.Direction.OUTBOUND,
        kind="text",
        text="予約が確定しました。",
        payload={"type": "text", "text": "予約が確定しました。"},
    )


@matrix_builder(WebhookEvent)
def _webhook_event(department: Department) -> WebhookEvent:
    number = serial()
    return WebhookEvent.objects.create(
        municipality=department.municipality,
        webhook_event_id=f"01TESTEVENT{number:015d}",
        event_type="follow",
        line_user_id=f"U{number:032x}",
        occurred_at=timezone.now(),
        payload={"type": "follow"},
    )


# django-axes records: not tenant data, operated by superusers only.


@matrix_builder(AccessAttempt)
def _access_attempt(department: Department) -> AccessAttempt:
    return AccessAttempt.objects.create(
        username=f"someone{serial()}",
        ip_address="192.0.2.1",
        user_agent="pytest",
        path_info="/admin/login/",
        get_data="",
        post_data="",
        http_accept="text/html",
        failures_since_start=1,
    )


@matrix_builder(AccessLog)
def _access_log(department: Department) -> AccessLog:
    return AccessLog.objects.create(
        username=f"someone{serial()}", ip_address="192.0.2.1", user_agent="pytest", path_info="/admin/login/"
    )


@matrix_builder(AccessFailureLog)
def _access_failure_log(department: Department) -> AccessFailureLog:
    return AccessFailureLog.objects.create(
        username=f"someone{serial()}",
        ip_address="192.0.2.1",
        user_agent="pytest",
        path_info="/admin/login/",
        locked_out=False,
    )
