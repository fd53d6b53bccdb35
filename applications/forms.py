"""Django forms built from a form's fields, for residents (LIFF) and for staff-only fields.

Each field type normalises what was typed (``municipalities.jp``) and reports errors in Japanese next
to the field; the bound form keeps the input on error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import puremagic
from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Attachment, DateRange, FieldKind, FileType, FormField
from municipalities import jp

DEFAULT_MAX_LENGTH = {FieldKind.LONG_TEXT: 2000}
SHORT_MAX_LENGTH = 200

MIME_TO_TYPE = {
    "application/pdf": FileType.PDF,
    "image/jpeg": FileType.JPEG,
    "image/png": FileType.PNG,
    "image/heic": FileType.HEIC,
    "image/heif": FileType.HEIC,
    "image/gif": FileType.GIF,
}
TYPE_TO_MIME = {
    FileType.PDF: "application/pdf",
    FileType.JPEG: "image/jpeg",
    FileType.PNG: "image/png",
    FileType.HEIC: "image/heic",
    FileType.GIF: "image/gif",
}
TYPE_TO_ACCEPT = {
    FileType.PDF: ".pdf,application/pdf",
    FileType.JPEG: ".jpg,.jpeg,image/jpeg",
    FileType.PNG: ".png,image/png",
    FileType.HEIC: ".heic,.heif,image/heic,image/heif",
    FileType.GIF: ".gif,image/gif",
}


def detect_file_type(head: bytes) -> str | None:
    """The FileType of a file from its first bytes (magic numbers), or None."""
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return None
    for match in matches:
        kind = MIME_TO_TYPE.get(match.mime_type)
        if kind is not None:
            return kind
    return None


@dataclass
class CheckedFile:
    upload: UploadedFile
    file_type: str
    size: int
    sha256: str

    @property
    def content_type(self) -> str:
        return TYPE_TO_MIME[self.file_type]


def check_upload(upload: UploadedFile, *, allowed: list[str], max_mb: int) -> CheckedFile:
    """Check size and type by content; raise InputError with a message for residents."""
    if upload.size is None or upload.size == 0:
        raise jp.InputError(_("ファイルが空です。"))
    if upload.size > max_mb * 1024 * 1024:
        raise jp.InputError(_("ファイルが大きすぎます（%(max)d MB まで）。") % {"max": max_mb})
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    file_type = detect_file_type(head)
    if file_type is None or file_type not in allowed:
        names = "・".join(str(FileType(t).label) for t in allowed)
        raise jp.InputError(_("このファイル形式は受け付けていません（%(types)s のみ）。") % {"types": names})
    return CheckedFile(upload=upload, file_type=file_type, size=upload.size, sha256=digest.hexdigest())


class NormalisedCharField(forms.CharField):
    """A CharField whose value is normalised before the length and required checks."""

    def __init__(self, *, normaliser: Callable[[str], str], **kwargs: Any) -> None:
        self.normaliser = normaliser
        kwargs.setdefault("strip", True)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        value = super().to_python(value)
        if value in self.empty_values:
            return ""
        try:
            return self.normaliser(value)
        except jp.InputError as exc:
            raise forms.ValidationError(exc.message, code="invalid") from None


class CountedMultipleChoiceField(forms.MultipleChoiceField):
    def __init__(self, *, min_choices: int | None, max_choices: int | None, **kwargs: Any) -> None:
        self.min_choices = min_choices
        self.max_choices = max_choices
        super().__init__(**kwargs)

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if value and self.min_choices and len(value) < self.min_choices:
            raise forms.ValidationError(_("%(n)d つ以上選んでください。") % {"n": self.min_choices})
        if self.max_choices and len(value) > self.max_choices:
            raise forms.ValidationError(_("%(n)d つまで選べます。") % {"n": self.max_choices})


class CheckedFileField(forms.FileField):
    def __init__(self, *, allowed: list[str], max_mb: int, **kwargs: Any) -> None:
        self.allowed = allowed
        self.max_mb = max_mb
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        value = super().clean(data, initial)
        if isinstance(value, UploadedFile):
            try:
                return check_upload(value, allowed=self.allowed, max_mb=self.max_mb)
            except jp.InputError as exc:
                raise forms.ValidationError(exc.message, code="invalid") from None
        return value


def _text_input(**attrs: str) -> forms.TextInput:
    return forms.TextInput(attrs=attrs)


REQUIRED_MESSAGES = {
    FieldKind.SINGLE_CHOICE: "選んでください。",
    FieldKind.MULTIPLE_CHOICE: "選んでください。",
    FieldKind.DROPDOWN: "選んでください。",
    FieldKind.FILE: "ファイルを選んでください。",
    FieldKind.CONSENT: "同意が必要です。内容をご確認のうえ、チェックを入れてください。",
}


WEEKDAY_CHARS = "月火水木金土日"  # date.weekday(): Monday is 0


def allowed_weekdays(field: FormField) -> list[int]:
    """The weekdays a date question accepts (0 = Monday), from its 「火金」; [] = every day."""
    text = jp.normalise_text(field.allowed_weekdays or "")
    return sorted({WEEKDAY_CHARS.index(c) for c in text if c in WEEKDAY_CHARS})


def date_placeholder(field: FormField) -> str:
    """An example that obeys the question's own rule (a 生年月日 is never shown a future date)."""
    if field.date_range == DateRange.PAST:
        return "例: 昭和30年4月1日、1955/4/1"
    return "例: 令和8年4月1日、2026/4/1"


def date_normaliser(field: FormField) -> Callable[[str], str]:
    """``jp.normalise_date`` plus the question's rules: past only, future only, some weekdays.
    The errors say what is accepted, in the resident's words."""
    weekdays = allowed_weekdays(field)

    def normalise(value: str) -> str:
        iso = jp.normalise_date(value)
        day = date.fromisoformat(iso)
        today = timezone.localdate()
        if field.date_range == DateRange.PAST and day > today:
            raise forms.ValidationError(
                _("今日（%(today)s）より後の日付は選べません。") % {"today": jp.format_wareki(today)},
                code="future",
            )
        if field.date_range == DateRange.FUTURE and day <= today:
            raise forms.ValidationError(_("明日以降の日付を入力してください。"), code="past")
        if weekdays and day.weekday() not in weekdays:
            raise forms.ValidationError(
                _("%(day)sは%(weekday)s曜日です。%(allowed)s曜日の日付を入力してください。")
                % {
                    "day": jp.format_wareki(day),
                    "weekday": WEEKDAY_CHARS[day.weekday()],
                    "allowed": "・".join(WEEKDAY_CHARS[w] for w in weekdays),
                },
                code="weekday",
            )
        return iso

    return normalise


def build_field(field: FormField, *, has_existing_file: bool = False) -> forms.Field | None:
    """The Django form field for one FormField (None for explanatory text)."""
    kind = field.kind
    required = field.required
    messages = {"required": _(REQUIRED_MESSAGES.get(kind, "入力してください。"))}
    common: dict[str, Any] = {"label": field.label, "help_text": field.help_text, "error_messages": messages}
    max_length = field.max_length or DEFAULT_MAX_LENGTH.get(kind, SHORT_MAX_LENGTH)
    messages["max_length"] = _("%(max)d 文字以内で入力してください。") % {"max": max_length}
    text_kinds: dict[str, tuple[Callable[[str], str], forms.Widget]] = {
        FieldKind.SHORT_TEXT: (jp.normalise_text, _text_input()),
        FieldKind.LONG_TEXT: (
            lambda v: jp.normalise_text(v, multiline=True),
            forms.Textarea(attrs={"rows": 5}),
        ),
        FieldKind.NUMBER: (jp.normalise_number, _text_input(inputmode="decimal")),
        FieldKind.EMAIL: (jp.normalise_email, _text_input(inputmode="email", autocomplete="email")),
        FieldKind.PHONE: (jp.normalise_phone, _text_input(inputmode="tel", autocomplete="tel", type="tel")),
        FieldKind.POSTAL_CODE: (
            jp.normalise_postal_code,
            _text_input(
                inputmode="numeric",
                autocomplete="postal-code",
                placeholder="例: 399-0001",
                **{"data-postal": "1"},
            ),
        ),
        FieldKind.ADDRESS: (
            jp.normalise_address,
            _text_input(autocomplete="street-address", **{"data-address": "1"}),
        ),
        FieldKind.DATE: (date_normaliser(field), _text_input(placeholder=date_placeholder(field))),
        FieldKind.FURIGANA: (jp.normalise_furigana, _text_input(placeholder="例: ヤマダ ハナコ")),
    }
    if kind in text_kinds:
        normaliser, widget = text_kinds[kind]
        return NormalisedCharField(
            normaliser=normaliser, required=required, max_length=max_length, widget=widget, **common
        )
    choices = [(c, c) for c in field.choice_list]
    if kind == FieldKind.SINGLE_CHOICE:
        return forms.ChoiceField(choices=choices, required=required, widget=forms.RadioSelect, **common)
    if kind == FieldKind.DROPDOWN:
        return forms.ChoiceField(choices=[("", _("選んでください")), *choices], required=required, **common)
    if kind == FieldKind.MULTIPLE_CHOICE:
        return CountedMultipleChoiceField(
            choices=choices,
            required=required or bool(field.min_choices),
            widget=forms.CheckboxSelectMultiple,
            min_choices=field.min_choices,
            max_choices=field.max_choices,
            **common,
        )
    if kind == FieldKind.CONSENT:
        return forms.BooleanField(required=required, **common)
    if kind == FieldKind.FILE:
        accept = ",".join(TYPE_TO_ACCEPT[t] for t in field.allowed_file_types)
        return CheckedFileField(
            allowed=field.allowed_file_types,
            max_mb=field.max_file_mb,
            required=required and not has_existing_file,
            widget=forms.FileInput(attrs={"accept": accept}),
            **common,
        )
    return None


class AnswersForm(forms.Form):
    """The questions of one form as a bound Django form (resident or staff-only fields).

    ``layout`` lists, in order, ``("field", bound_field, FormField)`` or
    ``("text", None, FormField)`` for explanatory text.
    """

    def __init__(
        self,
        *args: Any,
        form_fields: list[FormField],
        staff_only: bool = False,
        existing_files: dict[str, list[Attachment]] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "id_%s")
        super().__init__(*args, **kwargs)
        self.form_fields = [f for f in form_fields if f.staff_only == staff_only]
        self.existing_files = existing_files or {}
        self.layout: list[tuple[str, Any, FormField]] = []
        for field in self.form_fields:
            django_field = build_field(field, has_existing_file=bool(self.existing_files.get(field.key)))
            if django_field is None:
                self.layout.append(("text", None, field))
                continue
            self.fields[field.key] = django_field
        for field in self.form_fields:
            if field.key in self.fields:
                self.layout.append(("field", self[field.key], field))
        # Explanatory text stays in its place among the questions.
        order = {f.pk: i for i, f in enumerate(self.form_fields)}
        self.layout.sort(key=lambda item: order[item[2].pk])

    def answers(self) -> tuple[dict[str, Any], dict[str, CheckedFile]]:
        """(answers without files, {key: checked upload}) after ``is_valid()``."""
        values: dict[str, Any] = {}
        files: dict[str, CheckedFile] = {}
        for field in self.form_fields:
            if field.key not in self.cleaned_data:
                continue
            value = self.cleaned_data[field.key]
            if isinstance(value, CheckedFile):
                files[field.key] = value
            elif field.kind == FieldKind.FILE:
                continue
            else:
                values[field.key] = value
        return values, files


def display_value(field: FormField, value: Any) -> str:
    """An answer as people read it (confirm step, admin, exports)."""
    if value in (None, "", []):
        return ""
    if field.kind == FieldKind.MULTIPLE_CHOICE and isinstance(value, list):
        return "、".join(value)
    if field.kind == FieldKind.CONSENT:
        return _("同意する") if value else _("同意しない")
    if field.kind == FieldKind.PHONE:
        return jp.format_phone(str(value))
    if field.kind == FieldKind.DATE:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return f"{day.year}年{day.month}月{day.day}日（{jp.format_wareki(day)}）"
    return str(value)
