"""Demo data of the applications app: two forms in みどり町 and a few submissions in each state.

Idempotent: a form that already exists (same title in the department) is left as it is.
Everything is created through the services, so the audit log and the LINE notices (simulator)
look as they would in real use.
"""

from __future__ import annotations

import uuid
from typing import Any

import jaconv
from django.db import transaction

from applications.models import ApplicationForm, DateRange, FieldKind, FileType, FormField, PaymentMethod
from applications.services import (
    payment_record_counter,
    submission_cancel,
    submission_submit,
    submission_transition,
)
from municipalities.models import Department, Municipality, Resident, StaffUser
from municipalities.payments import CallbackRequest
from municipalities.payments.sandbox import signed_result
from municipalities.services.payments import payment_checkout_url, payment_record_callback

CERTIFICATE = "住民票の写しの請求"
BULKY_WASTE = "粗大ごみ収集の申込"

CERTIFICATE_FIELDS: list[dict[str, Any]] = [
    {
        "kind": FieldKind.EXPLANATION,
        "label": "ご請求の前に",
        "help_text": "ご本人または同じ世帯の方が請求できます。代理の方は委任状の画像を添付してください。\n手数料は 1 通 300 円です。",
    },
    {
        "kind": FieldKind.SHORT_TEXT,
        "label": "請求者の氏名",
        "key": "name",
        "required": True,
        "max_length": 50,
    },
    {"kind": FieldKind.FURIGANA, "label": "フリガナ", "key": "kana", "required": True},
    {
        "kind": FieldKind.DATE,
        "label": "生年月日",
        "key": "birthday",
        "required": True,
        "date_range": DateRange.PAST,
        "help_text": "和暦でも西暦でも入力できます（例: 昭和50年1月2日、1975/1/2）。",
    },
    {"kind": FieldKind.PHONE, "label": "日中の電話番号", "key": "tel", "required": True},
    {
        "kind": FieldKind.SINGLE_CHOICE,
        "label": "本籍・筆頭者の記載",
        "key": "honseki",
        "required": True,
        "choices": "記載しない\n記載する",
    },
    {
        "kind": FieldKind.DROPDOWN,
        "label": "使いみち",
        "key": "purpose",
        "required": True,
        "choices": "年金の手続き\n運転免許の手続き\n相続の手続き\nその他",
    },
    {
        "kind": FieldKind.SINGLE_CHOICE,
        "label": "受け取り方法",
        "key": "delivery",
        "required": True,
        "choices": "郵送（住民登録の住所へ）\n窓口で受け取る",
    },
    {
        "kind": FieldKind.FILE,
        "label": "本人確認書類の画像",
        "key": "id_doc",
        "required": False,
        "file_types": [FileType.JPEG, FileType.PNG, FileType.HEIC, FileType.PDF],
        "max_file_mb": 10,
        "help_text": "運転免許証・マイナンバーカード（表面のみ）など。",
    },
    {
        "kind": FieldKind.CONSENT,
        "label": "記載内容に誤りがないことを確認しました",
        "key": "consent",
        "required": True,
        "help_text": "偽りその他不正な手段による請求は、住民基本台帳法により処罰されることがあります。",
    },
    {"kind": FieldKind.SHORT_TEXT, "label": "発行番号", "key": "issue_no", "staff_only": True},
]

BULKY_FIELDS: list[dict[str, Any]] = [
    {
        "kind": FieldKind.EXPLANATION,
        "label": "収集について",
        "help_text": "収集は毎週水曜日です。品目ごとに「粗大ごみ処理券」を町内の取扱店でお求めください。",
    },
    {"kind": FieldKind.SHORT_TEXT, "label": "氏名", "key": "name", "required": True, "max_length": 50},
    {"kind": FieldKind.FURIGANA, "label": "フリガナ", "key": "kana", "required": True},
    {"kind": FieldKind.PHONE, "label": "電話番号", "key": "tel", "required": True},
    {
        "kind": FieldKind.POSTAL_CODE,
        "label": "郵便番号",
        "key": "postal",
        "required": True,
        "help_text": "入力すると住所の町名まで自動で入ります。",
    },
    {
        "kind": FieldKind.ADDRESS,
        "label": "収集先の住所",
        "key": "address",
        "required": True,
        "max_length": 200,
    },
    {
        "kind": FieldKind.MULTIPLE_CHOICE,
        "label": "出す品目",
        "key": "items",
        "required": True,
        "choices": "たんす\nソファ\nベッド・マットレス\n自転車\n電子レンジ\nその他",
        "min_choices": 1,
        "max_choices": 5,
    },
    {
        "kind": FieldKind.DATE,
        "label": "収集希望日",
        "key": "wish_date",
        "required": True,
        "date_range": DateRange.FUTURE,
        "allowed_weekdays": "水",
        "help_text": "粗大ごみの戸別収集は水曜日です。明日以降の水曜日を入力してください。",
    },
    {
        "kind": FieldKind.FILE,
        "label": "品物の写真",
        "key": "photo",
        "file_types": [FileType.JPEG, FileType.PNG, FileType.HEIC],
        "max_file_mb": 10,
    },
    {
        "kind": FieldKind.LONG_TEXT,
        "label": "備考",
        "key": "note",
        "help_text": "置き場所など、収集のときに知っておいてほしいこと。",
    },
    {"kind": FieldKind.SHORT_TEXT, "label": "収集日（確定）", "key": "fixed_date", "staff_only": True},
]


@transaction.atomic
def _create_form(
    department: Department, title: str, fields: list[dict[str, Any]], **kwargs: Any
) -> ApplicationForm:
    form = ApplicationForm.objects.create(department=department, title=title, is_published=True, **kwargs)
    FormField.objects.bulk_create(
        [
            FormField(
                form=form,
                position=(i + 1) * 10,
                key=spec.get("key", f"info{i}"),
                **{k: v for k, v in spec.items() if k != "key"},
            )
            for i, spec in enumerate(fields)
        ]
    )
    return form


FAMILY_KANA = {
    "佐藤": "サトウ",
    "鈴木": "スズキ",
    "高橋": "タカハシ",
    "田中": "タナカ",
    "伊藤": "イトウ",
    "渡辺": "ワタナベ",
    "山本": "ヤマモト",
    "中村": "ナカムラ",
    "小林": "コバヤシ",
    "加藤": "カトウ",
}


def _person(resident: Resident) -> dict[str, str]:
    """The resident's demo name as they would type it, with its reading."""
    family, _, given = resident.display_name.partition(" ")
    return {
        "name": resident.display_name,
        "kana": f"{FAMILY_KANA.get(family, 'ミドリ')} {jaconv.hira2kata(given) or 'タロウ'}",
    }


def _submit(form: ApplicationForm, resident: Resident, answers: dict[str, Any], method: str = ""):
    submission, _created = submission_submit(
        form=form,
        resident=resident,
        answers=answers,
        attachment_ids={},
        token=uuid.uuid4(),
        payment_method=method,
    )
    return submission


def seed(municipality: Municipality) -> None:
    somu = Department.objects.filter(municipality=municipality, code="somu").first()
    if somu is None:
        return
    staff = StaffUser.objects.filter(username="somu_staff").first()
    residents = list(Resident.objects.filter(municipality=municipality, is_following=True).order_by("pk")[:8])
    if len(residents) < 8:
        return

    if not ApplicationForm.objects.filter(department=somu, title=CERTIFICATE).exists():
        form = _create_form(
            somu,
            CERTIFICATE,
            CERTIFICATE_FIELDS,
            description="住民票の写しを LINE で請求できます。お支払いはオンライン決済または窓口で。",
            fee=300,
            payment_methods=[PaymentMethod.SANDBOX, PaymentMethod.COUNTER],
            completion_message="お支払いの確認後、3 開庁日以内に郵送します（窓口受け取りの方は準備ができたらお知らせします）。",
        )
        base = {
            "honseki": "記載しない",
            "purpose": "年金の手続き",
            "delivery": "郵送（住民登録の住所へ）",
            "consent": True,
        }
        people = [
            ("1980-04-01", "09011112222"),
            ("1975-01-02", "0263123456"),
            ("1990-12-24", "08033334444"),
            ("1962-07-07", "09055556666"),
        ]
        made = []
        for resident, (birthday, tel) in zip(residents[:4], people, strict=True):
            method = PaymentMethod.COUNTER if len(made) == 0 else PaymentMethod.SANDBOX
            made.append(
                _submit(
                    form, resident, {**base, **_person(resident), "birthday": birthday, "tel": tel}, method
                )
            )
        # 1: waits for payment at the counter. 2–4: paid online; 3 in review; 4 completed.
        for submission in made[1:]:
            payment = submission.payments.get()
            payment_checkout_url(payment=payment, return_url="")  # the resident opens the gateway
            payment.refresh_from_db()
            payment_record_callback(
                provider_code="sandbox",
                municipality=None,
                request=CallbackRequest(
                    params=signed_result(reference=payment.reference, outcome="paid", amount=payment.amount)
                ),
            )
        if staff is not None:
            submission_transition(submission=made[2], name="review", actor=staff)
            for name in ("review", "approve", "complete"):
                submission_transition(submission=made[3], name=name, actor=staff)
            # a counter payment from an earlier day's visit would look like this:
            extra = _submit(
                form,
                residents[4],
                {**base, **_person(residents[4]), "birthday": "1988-03-03", "tel": "09077778888"},
                PaymentMethod.COUNTER,
            )
            payment_record_counter(submission=extra, actor=staff, receipt_number="窓口-0001")

    if not ApplicationForm.objects.filter(department=somu, title=BULKY_WASTE).exists():
        form = _create_form(
            somu,
            BULKY_WASTE,
            BULKY_FIELDS,
            description="粗大ごみの戸別収集を申し込めます。収集日は担当者から LINE でお知らせします。",
            completion_message="収集日が決まりしだい LINE でお知らせします。当日の朝 8 時までに玄関先に出してください。",
        )
        base = {
            "postal": "399-0001",
            "address": "長野県松本市宮田1-2-3",
            "wish_date": "2026-12-02",
            "note": "",
        }
        entries = [
            (residents[4], ["たんす", "自転車"]),
            (residents[5], ["ソファ"]),
            (residents[6], ["ベッド・マットレス"]),
            (residents[7], ["電子レンジ"]),
        ]
        made = [
            _submit(form, resident, {**base, **_person(resident), "tel": "0263000000", "items": items})
            for resident, items in entries
        ]
        if staff is not None:
            submission_transition(
                submission=made[1],
                name="request_correction",
                actor=staff,
                reason="住所の番地（部屋番号）まで入力してください。",
            )
            submission_transition(submission=made[2], name="review", actor=staff)
            submission_transition(submission=made[2], name="approve", actor=staff)
        submission_cancel(submission=made[3], resident=entries[3][0])
