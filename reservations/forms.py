"""Staff forms: 代理予約 (phone booking), slot pattern, slot file upload, day view."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from municipalities import jp
from municipalities.models import Area

from .models import Menu, Slot
from .parsing import parse_time

WEEKDAY_CHOICES = [(0, "月"), (1, "火"), (2, "水"), (3, "木"), (4, "金"), (5, "土"), (6, "日")]


class PhoneBookingForm(forms.Form):
    """Few fields, in the order a caller gives them; Enter submits."""

    slot = forms.ModelChoiceField(queryset=Slot.objects.none(), label=_("予約枠"))
    name = forms.CharField(label=_("氏名"), max_length=100, required=False)
    kana = forms.CharField(
        label=_("フリガナ"), max_length=100, required=False, help_text=_("ひらがな・半角カナでも可")
    )
    phone = forms.CharField(
        label=_("電話番号"), max_length=20, required=False, help_text=_("ハイフンなしでも可")
    )
    resident = forms.IntegerField(required=False, widget=forms.HiddenInput)
    member = forms.TypedChoiceField(
        label=_("予約する人"), required=False, coerce=int, empty_value=None, choices=[("", "本人")]
    )
    birth_date = forms.CharField(
        label=_("生年月日"),
        max_length=40,
        required=False,
        help_text=_("来る方の。和暦（令和5年4月1日、R5.4.1）でも西暦でも可"),
    )
    area = forms.ModelChoiceField(queryset=None, label=_("お住まいの地区"), required=False, empty_label="―")
    whole_day = forms.BooleanField(label=_("この日のどの時間でもよい"), required=False)

    def __init__(self, *args, slots=None, questions=(), members=(), areas=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].queryset = slots if slots is not None else Slot.objects.none()
        # The LINE user's household members (予約する人); the page fills them in when one is picked.
        self.fields["member"].choices = [("", "本人")] + [(m.pk, str(m)) for m in members]
        self.fields["area"].queryset = areas if areas is not None else Area.objects.none()
        self.fields["slot"].label_from_instance = lambda s: f"{s.menu.name} {s}（{s.reserved}/{s.capacity}）"
        self.questions = list(questions)
        for q in self.questions:
            if q["choices"]:
                field = forms.ChoiceField(
                    label=q["label"], required=False, choices=[("", "―")] + [(c, c) for c in q["choices"]]
                )
            else:
                field = forms.CharField(label=q["label"], required=False, max_length=500)
            self.fields[q["key"]] = field
        self.fields["name"].widget.attrs.update({"autocomplete": "off"})
        self.fields["phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})

    def clean_birth_date(self) -> dt.date | None:
        raw = self.cleaned_data.get("birth_date", "")
        if not jp.normalise_text(raw):
            return None
        try:
            return jp.parse_date(raw)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        if not data.get("resident") and not (data.get("name") or "").strip():
            raise forms.ValidationError(_("住民を選ぶか、氏名と電話番号を入力してください。"))
        return data

    def question_fields(self) -> list[forms.BoundField]:
        """The menu's questions, shown at once on the phone-booking page."""
        return [self[q["key"]] for q in self.questions]

    def answers(self) -> dict[str, str]:
        return {q["key"]: self.cleaned_data.get(q["key"], "") for q in self.questions}


class SlotPatternForm(forms.Form):
    menu = forms.ModelChoiceField(queryset=Menu.objects.none(), label=_("予約メニュー"))
    venue = forms.CharField(label=_("会場"), max_length=100)
    date_from = forms.DateField(label=_("開始日"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("終了日"), widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("曜日"),
        choices=WEEKDAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=[0, 1, 2, 3, 4],
    )
    times = forms.CharField(
        label=_("時間帯"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("1 行に 1 つ「9:00-9:30」の形で。全角や「9時30分」でも可。"),
        initial="9:00-9:30\n9:30-10:00\n10:00-10:30",
    )
    capacity = forms.IntegerField(label=_("定員"), min_value=1, max_value=10000, initial=5)
    skip_holidays = forms.BooleanField(label=_("祝日・年末年始を除く"), required=False, initial=True)

    def __init__(self, *args, menus=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["menu"].queryset = menus if menus is not None else Menu.objects.none()
        today = timezone.localdate()
        self.fields["date_from"].initial = today + dt.timedelta(days=1)
        self.fields["date_to"].initial = today + dt.timedelta(days=30)

    def clean_times(self) -> list[tuple[dt.time, dt.time]]:
        out = []
        for raw in self.cleaned_data["times"].splitlines():
            line = jp.normalise_text(raw)
            if not line:
                continue
            parts = re.split(r"\s*[-~〜ー–]\s*", line)
            try:
                if len(parts) != 2:
                    raise ValueError(f"「{raw}」は「9:00-9:30」の形で書いてください。")
                out.append((parse_time(parts[0]), parse_time(parts[1])))
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        if not out:
            raise forms.ValidationError(_("時間帯を 1 つ以上入力してください。"))
        return out


class SlotFileForm(forms.Form):
    file = forms.FileField(
        label=_("ファイル（CSV または Excel）"),
        help_text=_("見出し: サービス, 会場, 日付, 開始, 終了, 定員。文字コードは自動判別します。"),
    )
    department = forms.ModelChoiceField(queryset=None, label=_("取り込む課"))

    def __init__(self, *args, departments=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        if departments is not None and departments.count() == 1:
            self.fields["department"].initial = departments.first()


_AGE_RE = re.compile(r"^(?:(\d+)\s*歳)?\s*(?:(\d+)\s*(?:か月|ヶ月|カ月|ケ月|ヵ月|月))?$")


class AgeMonthsField(forms.CharField):
    """An age typed as staff say it (「1歳6か月」「65歳」「18か月」, full width too, or plain months
    「18」), stored as months; shown back as 「1歳6か月」."""

    def prepare_value(self, value: object) -> object:
        if isinstance(value, int):
            years, months = divmod(value, 12)
            return f"{years}歳{months}か月" if months else f"{years}歳"
        return value

    def to_python(self, value: object) -> int | None:
        text = jp.normalise_text(str(value or "")).replace(" ", "")
        if not text:
            return None
        if text.isdigit():
            return int(text)
        m = _AGE_RE.match(text)
        if not m or not any(m.groups()):
            raise forms.ValidationError(_("「1歳6か月」「65歳」「18か月」のように入力してください。"))
        return int(m.group(1) or 0) * 12 + int(m.group(2) or 0)


class MenuForm(forms.ModelForm):
    eligible_age_from_months = AgeMonthsField(
        label=_("対象年齢（から）"),
        required=False,
        help_text=_("枠の日にこの年齢以上の人だけが予約できます（例: 1歳6か月、65歳）。空欄なら制限なし。"),
    )
    eligible_age_until_months = AgeMonthsField(
        label=_("対象年齢（未満）"),
        required=False,
        help_text=_("枠の日にこの年齢未満の人だけが予約できます（例: 2歳）。空欄なら制限なし。"),
    )

    class Meta:
        model = Menu
        fields = ["eligible_age_from_months", "eligible_age_until_months"]  # the admin adds its fieldsets

    def clean(self) -> dict[str, object]:
        data = super().clean()
        low, high = data.get("eligible_age_from_months"), data.get("eligible_age_until_months")
        if low is not None and high is not None and low >= high:
            self.add_error("eligible_age_until_months", _("「未満」は「から」より上の年齢にしてください。"))
        return data
