"""Date questions that declare what they accept: past only (生年月日), future only (収集日), some
weekdays (収集のある曜日); the errors say what is accepted, and the placeholder obeys the rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from applications.forms import build_field
from applications.models import DateRange, FieldKind
from tests.applications.factories import ApplicationFormFactory, FormFieldFactory

pytestmark = pytest.mark.django_db


def _field(kenko, **kwargs):
    kwargs.setdefault("label", "日付")
    return FormFieldFactory(form=ApplicationFormFactory(department=kenko), kind=FieldKind.DATE, **kwargs)


def _clean(field, value):
    return build_field(field).clean(value)


def test_birth_date_refuses_a_future_date_and_shows_a_past_example(kenko):
    field = _field(kenko, date_range=DateRange.PAST, label="生年月日")
    assert _clean(field, "昭和50年1月2日") == "1975-01-02"
    with pytest.raises(Exception, match="より後の日付は選べません"):
        _clean(field, "令和20年1月1日")
    assert "昭和" in build_field(field).widget.attrs["placeholder"]


def test_collection_date_refuses_today_and_the_past(kenko):
    field = _field(kenko, date_range=DateRange.FUTURE)
    today = timezone.localdate()
    with pytest.raises(Exception, match="明日以降"):
        _clean(field, today.isoformat())
    with pytest.raises(Exception, match="明日以降"):
        _clean(field, "2020/1/1")
    assert (
        _clean(field, (today + dt.timedelta(days=3)).isoformat())
        == (today + dt.timedelta(days=3)).isoformat()
    )


def test_only_the_allowed_weekdays(kenko):
    field = _field(kenko, allowed_weekdays="火金")
    assert _clean(field, "2026/6/2") == "2026-06-02"  # a Tuesday
    with pytest.raises(Exception, match="水曜日です。火・金曜日の日付を入力してください"):
        _clean(field, "2026/6/3")


def test_the_admin_form_reads_weekdays_as_staff_type_them(kenko):
    from applications.admin import FormFieldForm

    form = FormFieldForm(
        data={
            "position": 1,
            "kind": FieldKind.DATE,
            "label": "収集希望日",
            "allowed_weekdays": "金曜、火曜",
            "date_range": "future",
            "max_file_mb": 5,
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["allowed_weekdays"] == "火金"
    bad = FormFieldForm(
        data={
            "position": 1,
            "kind": FieldKind.DATE,
            "label": "x",
            "allowed_weekdays": "週末",
            "max_file_mb": 5,
        }
    )
    assert not bad.is_valid() and "月火水木金土日" in str(bad.errors["allowed_weekdays"])
