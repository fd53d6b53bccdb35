"""Factories of the applications app and its permission-matrix builders."""

from __future__ import annotations

import uuid
from typing import Any

import factory

from applications.models import ApplicationForm, FieldKind, FormField, Submission
from applications.services import payment_record_counter, submission_submit
from municipalities.models import Department, Payment, Resident
from tests.matrix import matrix_builder
from tests.municipalities.factories import resident_in


class ApplicationFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApplicationForm

    department = None
    title = factory.Sequence(lambda n: f"申請フォーム{n}")
    description = "必要事項を入力してください。"
    is_published = True
    fee = 0
    payment_methods = factory.LazyFunction(list)
    completion_message = "3 日以内に郵送します。"


class FormFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormField

    form = factory.SubFactory(ApplicationFormFactory)
    position = factory.Sequence(lambda n: n)
    kind = FieldKind.SHORT_TEXT
    label = factory.Sequence(lambda n: f"項目{n}")
    key = factory.Sequence(lambda n: f"k{n}")


def simple_form(department: Department, **kwargs: Any) -> ApplicationForm:
    """A form with a required name and an optional note."""
    form = ApplicationFormFactory(department=department, **kwargs)
    FormFieldFactory(
        form=form, position=1, kind=FieldKind.SHORT_TEXT, label="氏名", key="name", required=True
    )
    FormFieldFactory(form=form, position=2, kind=FieldKind.LONG_TEXT, label="備考", key="note")
    return form


def submit(
    form: ApplicationForm, resident: Resident, *, answers: dict | None = None, **kwargs: Any
) -> Submission:
    submission, _created = submission_submit(
        form=form,
        resident=resident,
        answers=answers if answers is not None else {"name": "山田 花子", "note": ""},
        attachment_ids=kwargs.pop("attachment_ids", {}),
        token=kwargs.pop("token", uuid.uuid4()),
        **kwargs,
    )
    return submission


@matrix_builder(ApplicationForm)
def _form(department: Department) -> ApplicationForm:
    return simple_form(department)


@matrix_builder(Submission)
def _submission(department: Department) -> Submission:
    return submit(simple_form(department), resident_in(department.municipality))


@matrix_builder(Payment)
def _payment(department: Department) -> Payment:
    from tests.conftest import make_staff

    form = simple_form(department, fee=300, payment_methods=["counter"])
    submission = submit(form, resident_in(department.municipality), payment_method="counter")
    staff = make_staff(f"cashier{submission.pk}", department.municipality, "editor", department)
    return payment_record_counter(submission=submission, actor=staff)
