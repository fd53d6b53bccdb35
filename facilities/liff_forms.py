"""The resident's details form of a facility booking (and of a lottery application).

Each field is normalised with ``municipalities.jp`` (full-width digits, spaces, kana, phone) and
says what is wrong in Japanese next to the field; the bound form keeps what was typed. The
booking service checks everything again (capacity, window, limits) and has the last word.
"""

from __future__ import annotations

from typing import Any

from django import forms

from facilities.models import Discount, Extra, Facility, Room
from facilities.services import GroupDetails
from municipalities import jp

RATE_CHOICES = [
    ("resident", "町内の団体・個人（町内料金）"),
    ("non_resident", "町外の団体・個人（町外料金）"),
]
NO_DISCOUNT = ""


class GroupForm(forms.Form):
    """団体名, 代表者, 人数, 利用目的, 町内/町外: what a booking and a lottery application both ask."""

    group_name = forms.CharField(
        label="団体名", required=False, max_length=100, help_text="個人で使うときは空欄のままで結構です。"
    )
    representative = forms.CharField(
        label="代表者のお名前",
        max_length=100,
        error_messages={"required": "代表者のお名前を入力してください。"},
    )
    representative_kana = forms.CharField(label="代表者のフリガナ", required=False, max_length=100)
    phone = forms.CharField(
        label="当日連絡のつく電話番号", required=False, max_length=20, help_text="例: 090-1234-5678"
    )
    headcount = forms.CharField(
        label="人数", max_length=6, error_messages={"required": "人数を入力してください。"}
    )
    purpose = forms.CharField(
        label="利用目的",
        max_length=200,
        error_messages={"required": "利用目的を入力してください（例: バレーボールの練習）。"},
    )
    rate = forms.ChoiceField(
        label="料金の区分",
        choices=RATE_CHOICES,
        initial="resident",
        widget=forms.RadioSelect,
        error_messages={"required": "町内か町外かを選んでください。"},
    )

    def __init__(self, *args: Any, room: Room, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.room = room

    def clean_group_name(self) -> str:
        return jp.normalise_text(self.cleaned_data["group_name"])

    def clean_representative(self) -> str:
        value = jp.normalise_text(self.cleaned_data["representative"])
        if not value:
            raise forms.ValidationError("代表者のお名前を入力してください。")
        return value

    def clean_representative_kana(self) -> str:
        value = self.cleaned_data["representative_kana"]
        if not value.strip():
            return ""
        try:
            return jp.normalise_furigana(value)
        except jp.InputError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_phone(self) -> str:
        value = self.cleaned_data["phone"]
        if not value.strip():
            return ""
        try:
            return jp.normalise_phone(value)
        except jp.InputError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_headcount(self) -> int:
        try:
            text = jp.normalise_number(self.cleaned_data["headcount"])
        except jp.InputError:
            raise forms.ValidationError("人数は数字で入力してください（例: 12）。") from None
        if not text.isdigit() or int(text) < 1:
            raise forms.ValidationError("人数は1人以上の数字で入力してください。")
        headcount = int(text)
        room = self.room
        if room.is_exclusive and headcount > room.capacity:
            raise forms.ValidationError(f"{room.name} の定員は {room.capacity} 人です。")
        if not room.is_exclusive and headcount > room.capacity:
            raise forms.ValidationError(f"{room.name} は {room.capacity} 人までです。")
        return headcount

    def clean_purpose(self) -> str:
        value = jp.normalise_text(self.cleaned_data["purpose"])
        if not value:
            raise forms.ValidationError("利用目的を入力してください（例: バレーボールの練習）。")
        return value

    def group(self) -> GroupDetails:
        data = self.cleaned_data
        return GroupDetails(
            representative=data["representative"],
            purpose=data["purpose"],
            headcount=data["headcount"],
            group_name=data["group_name"],
            representative_kana=data["representative_kana"],
            phone=data["phone"],
            is_resident_rate=data["rate"] == "resident",
        )


class BookingForm(GroupForm):
    """The details of a booking: the group, the 減免 a resident may choose (with its reason), the
    extras, and how to pay."""

    discount = forms.ChoiceField(label="減免", required=False, widget=forms.RadioSelect)
    discount_reason = forms.CharField(
        label="減免の理由", required=False, max_length=200, help_text="例: 会員の過半数が65歳以上"
    )
    extras = forms.MultipleChoiceField(label="付帯設備", required=False, widget=forms.CheckboxSelectMultiple)
    payment_method = forms.ChoiceField(
        label="お支払い方法",
        widget=forms.RadioSelect,
        error_messages={"required": "お支払い方法を選んでください。"},
    )

    def __init__(self, *args: Any, room: Room, payment_methods: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, room=room, **kwargs)
        facility: Facility = room.facility
        self.discounts = list(
            Discount.objects.filter(facility=facility, is_active=True, residents_may_choose=True).order_by(
                "name", "pk"
            )
        )
        self.extra_rows = list(Extra.objects.filter(facility=facility, is_active=True).order_by("name", "pk"))
        self.fields["discount"].choices = [(NO_DISCOUNT, "減免なし")] + [
            (str(d.pk), f"{d.name}（使用料の {d.percent}% 減額）") for d in self.discounts
        ]
        self.fields["discount"].initial = NO_DISCOUNT
        self.fields["extras"].choices = [
            (str(e.pk), f"{e.name}（1枠 {e.price_per_frame:,}円）") for e in self.extra_rows
        ]
        self.fields["payment_method"].choices = payment_methods
        if len(payment_methods) == 1:
            self.fields["payment_method"].initial = payment_methods[0][0]

    def clean_discount_reason(self) -> str:
        return jp.normalise_text(self.cleaned_data["discount_reason"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("discount") and not data.get("discount_reason"):
            self.add_error("discount_reason", "減免を受ける理由を入力してください。")
        return data

    def fee_inputs(self) -> tuple[bool, Discount | None, list[Extra]]:
        """町内料金?, 減免, extras as chosen on the page so far (typed or not yet valid): the fee shown."""
        if self.is_bound:
            rate, discount, extras = (
                self.data.get("rate", "resident"),
                self.data.get("discount", ""),
                set(self.data.getlist("extras")),
            )
        else:
            rate, discount, extras = self.initial.get("rate", "resident"), "", set()
        return (
            rate != "non_resident",
            next((d for d in self.discounts if str(d.pk) == discount), None),
            [e for e in self.extra_rows if str(e.pk) in extras],
        )

    def chosen_discount(self) -> Discount | None:
        value = self.cleaned_data.get("discount") or ""
        return next((d for d in self.discounts if str(d.pk) == value), None)

    def chosen_extras(self) -> list[Extra]:
        values = set(self.cleaned_data.get("extras") or [])
        return [e for e in self.extra_rows if str(e.pk) in values]


# Which field a service error belongs next to (FacilityError.code → field name).
ERROR_FIELDS = {
    "representative": "representative",
    "purpose": "purpose",
    "headcount": "headcount",
    "discount": "discount",
    "discount_reason": "discount_reason",
    "extra": "extras",
    "payment_method": "payment_method",
}
