"""The resident form built from fields: normalisation, Japanese errors next to each field."""

from __future__ import annotations

import pytest
from django.utils.datastructures import MultiValueDict

from applications.forms import AnswersForm, CheckedFile, detect_file_type, display_value
from applications.models import FieldKind, FileType
from tests.applications.factories import ApplicationFormFactory, FormFieldFactory
from tests.applications.files import EXE, PDF, PNG, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_kind(kenko):
    form = ApplicationFormFactory(department=kenko)
    specs = [
        (FieldKind.SHORT_TEXT, "氏名", {"required": True, "max_length": 10}),
        (FieldKind.LONG_TEXT, "備考", {}),
        (FieldKind.NUMBER, "枚数", {"required": True}),
        (FieldKind.EMAIL, "メール", {}),
        (FieldKind.PHONE, "電話", {"required": True}),
        (FieldKind.POSTAL_CODE, "郵便番号", {"required": True}),
        (FieldKind.ADDRESS, "住所", {"required": True}),
        (FieldKind.DATE, "生年月日", {"required": True}),
        (FieldKind.SINGLE_CHOICE, "受取方法", {"required": True, "choices": "窓口\n郵送"}),
        (
            FieldKind.MULTIPLE_CHOICE,
            "品目",
            {"choices": "たんす\n自転車\nソファ", "min_choices": 1, "max_choices": 2},
        ),
        (FieldKind.DROPDOWN, "地区", {"required": True, "choices": "本町\n東区"}),
        (FieldKind.FILE, "本人確認書類", {"required": True, "file_types": ["pdf", "png"], "max_file_mb": 1}),
        (FieldKind.FURIGANA, "フリガナ", {"required": True}),
        (FieldKind.CONSENT, "個人情報の取扱いに同意する", {"required": True}),
        (FieldKind.EXPLANATION, "ご注意", {"help_text": "本人以外は委任状が必要です。"}),
        (FieldKind.SHORT_TEXT, "処理番号", {"staff_only": True}),
    ]
    for i, (kind, label, extra) in enumerate(specs):
        FormFieldFactory(form=form, position=i, kind=kind, label=label, key=f"f{i}", **extra)
    return list(form.fields.all())


GOOD = {
    "f0": "山田　花子",
    "f1": "",
    "f2": "２",
    "f3": "",
    "f4": "０９０ー１２３４ー５６７８",
    "f5": "１００ー０００１",
    "f6": "東京都千代田区千代田１ー１",
    "f7": "昭和50年1月2日",
    "f8": "郵送",
    "f9": ["たんす", "ソファ"],
    "f10": "東区",
    "f12": "やまだ　はなこ",
    "f13": "on",
}


def bind(fields, data, files=None):
    post = MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in data.items()})
    return AnswersForm(post, MultiValueDict(files or {}), form_fields=fields)


def test_valid_input_is_normalised(every_kind):
    form = bind(every_kind, GOOD, {"f11": [upload("id.pdf", PDF)]})
    assert form.is_valid(), form.errors
    answers, files = form.answers()
    assert answers["f0"] == "山田 花子"
    assert answers["f2"] == "2"
    assert answers["f4"] == "09012345678"
    assert answers["f5"] == "100-0001"
    assert answers["f6"] == "東京都千代田区千代田1-1"
    assert answers["f7"] == "1975-01-02"
    assert answers["f9"] == ["たんす", "ソファ"]
    assert answers["f12"] == "ヤマダ ハナコ"
    assert answers["f13"] is True
    assert "f15" not in answers  # staff-only: not on the resident form
    assert isinstance(files["f11"], CheckedFile) and files["f11"].file_type == FileType.PDF


def test_explanation_keeps_its_place_and_takes_no_input(every_kind):
    form = AnswersForm(form_fields=every_kind)
    kinds = [(item[0], item[2].label) for item in form.layout]
    assert ("text", "ご注意") in kinds
    assert kinds.index(("text", "ご注意")) == len(kinds) - 1
    assert "f14" not in form.fields and "f15" not in form.fields


def test_missing_required_fields_get_japanese_messages(every_kind):
    form = bind(every_kind, {})
    assert not form.is_valid()
    assert form.errors["f0"] == ["入力してください。"]
    assert form.errors["f8"] == ["選んでください。"]
    assert form.errors["f9"] == ["選んでください。"]
    assert form.errors["f11"] == ["ファイルを選んでください。"]
    assert "同意が必要です" in form.errors["f13"][0]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("f0", "あ" * 11, "10 文字以内"),
        ("f2", "たくさん", "数字で入力"),
        ("f3", "taro@", "メールアドレスの形式"),
        ("f4", "12345", "電話番号"),
        ("f5", "12-345", "7 桁"),
        ("f5", "999-9999", "見つかりません"),
        ("f7", "2025年2月29日", "存在しない日付"),
        ("f8", "宅配", "正しく選択"),
        ("f9", ["たんす", "自転車", "ソファ"], "2 つまで"),
        ("f12", "山田", "カタカナ"),
    ],
)
def test_bad_values_errors_next_to_the_field_and_input_kept(every_kind, key, value, message):
    form = bind(every_kind, {**GOOD, key: value}, {"f11": [upload("id.png", PNG)]})
    assert not form.is_valid()
    assert message in " ".join(form.errors[key])
    assert form[key].value() == value  # the page shows what was typed


def test_file_type_checked_by_content_not_extension(every_kind):
    form = bind(every_kind, GOOD, {"f11": [upload("id.pdf", EXE, "application/pdf")]})
    assert not form.is_valid()
    assert "このファイル形式は受け付けていません（PDF・PNG 画像 のみ）" in form.errors["f11"][0]


def test_file_type_not_in_the_allowed_list(every_kind):
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 32
    form = bind(every_kind, GOOD, {"f11": [upload("photo.jpg", jpeg, "image/jpeg")]})
    assert not form.is_valid()
    assert "受け付けていません" in form.errors["f11"][0]


def test_oversize_file(every_kind):
    big = PDF + b"0" * (1024 * 1024)
    form = bind(every_kind, GOOD, {"f11": [upload("big.pdf", big)]})
    assert not form.is_valid()
    assert form.errors["f11"] == ["ファイルが大きすぎます（1 MB まで）。"]


def test_file_not_required_when_already_attached(every_kind):
    form = AnswersForm(
        MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in GOOD.items()}),
        MultiValueDict(),
        form_fields=every_kind,
        existing_files={"f11": ["existing"]},
    )
    assert form.is_valid(), form.errors


def test_staff_only_form_has_only_staff_fields(every_kind):
    form = AnswersForm(form_fields=every_kind, staff_only=True)
    assert list(form.fields) == ["f15"]


@pytest.mark.parametrize(("head", "kind"), [(PDF, "pdf"), (PNG, "png"), (EXE, None), (b"hello", None)])
def test_detect_file_type(head, kind):
    assert detect_file_type(head) == kind


def test_display_values(every_kind):
    by_key = {f.key: f for f in every_kind}
    assert display_value(by_key["f4"], "09012345678") == "090-1234-5678"
    assert display_value(by_key["f7"], "2019-05-01") == "2019年5月1日（令和元年5月1日）"
    assert display_value(by_key["f9"], ["たんす", "ソファ"]) == "たんす、ソファ"
    assert display_value(by_key["f13"], True) == "同意する"
