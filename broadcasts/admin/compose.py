"""Composing a broadcast: the broadcast and message forms, the message inline, and the live
「約 N 人に届きます」 recipient count."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from broadcasts import rendering
from broadcasts.models import Broadcast, BroadcastMessage, SendMode
from broadcasts.selectors import recipients_for_segment
from municipalities.admin_pages import AdminPage
from municipalities.line import quota
from municipalities.models import AgeBand, Interest
from municipalities.permissions import departments_for_staff, policy_for
from municipalities.scoping import ScopedStackedInline


class BroadcastMessageForm(forms.ModelForm):
    image_url = forms.URLField(
        label=gettext_lazy("画像の URL"),
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text=gettext_lazy("ファイルの代わりに https の URL を指定できます。"),
    )
    link_url = forms.URLField(
        label=gettext_lazy("ボタンのリンク先"), required=False, max_length=1000, assume_scheme="https"
    )

    class Meta:
        model = BroadcastMessage
        fields = ["kind", "text", "image", "image_url", "card_title", "link_label", "link_url"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "data-utf16-max": rendering.MAX_TEXT_UTF16})}

    def clean_image(self) -> Any:
        image = self.cleaned_data.get("image")
        if image and hasattr(image, "content_type"):  # a new upload
            for problem in rendering.check_image_upload(image):
                raise forms.ValidationError(problem)
        return image

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.cleaned_data.get("DELETE"):
            return data
        errors = rendering.check_message(
            kind=data.get("kind") or "",
            text=data.get("text") or "",
            has_image=bool(data.get("image")),
            image_url=data.get("image_url") or "",
            card_title=data.get("card_title") or "",
            link_label=data.get("link_label") or "",
            link_url=data.get("link_url") or "",
        )
        for field, message in errors.items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, message)
        return data


class BroadcastMessageFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.has_changed() or f.instance.pk]
        kept = [f for f in kept if not (f.cleaned_data or {}).get("DELETE")]
        if not kept:
            raise forms.ValidationError(_("メッセージを 1 件以上入力してください。"))
        if len(kept) > rendering.MAX_MESSAGES:
            raise forms.ValidationError(
                _("メッセージは 5 件までです（%(n)s 件あります）。") % {"n": len(kept)}
            )


class BroadcastMessageInline(ScopedStackedInline):
    model = BroadcastMessage
    form = BroadcastMessageForm
    formset = BroadcastMessageFormSet
    extra = 0
    min_num = 1
    max_num = rendering.MAX_MESSAGES
    validate_max = True
    classes = ["broadcast-messages"]
    verbose_name = gettext_lazy("メッセージ")
    verbose_name_plural = gettext_lazy("メッセージ（1〜5 件。LINE では上から順に表示されます）")

    def _editable(self, request: HttpRequest, obj: Broadcast | None) -> bool:
        if obj is not None and not obj.is_editable:
            return False
        return policy_for(Broadcast).user_has_permission(request.user, "add" if obj is None else "change")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_delete_permission(request, obj)


class BroadcastForm(forms.ModelForm):
    age_bands = forms.MultipleChoiceField(
        label=gettext_lazy("年代"),
        choices=AgeBand.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("選ばないときはすべての年代です。"),
    )

    class Meta:
        model = Broadcast
        fields = [
            "title",
            "department",
            "is_emergency",
            "category",
            "areas",
            "age_bands",
            "send_mode",
            "scheduled_at",
            "recurrence",
            "recurrence_until",
        ]
        widgets = {"send_mode": forms.RadioSelect}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "category" not in self.fields:  # read-only (not a draft): the service refuses changes
            return data
        if data.get("is_emergency"):
            data["category"] = None
        elif not data.get("category"):
            self.add_error("category", _("分野を選ぶか、「緊急」にしてください。"))
        if data.get("send_mode") == SendMode.AT:
            at = data.get("scheduled_at")
            if at is None:
                self.add_error("scheduled_at", _("配信日時を入力してください。"))
            elif at <= timezone.now():
                self.add_error("scheduled_at", _("配信日時が過去です。これから先の日時にしてください。"))
        if data.get("recurrence"):
            if data.get("send_mode") != SendMode.AT:
                self.add_error(
                    "recurrence", _("繰り返し配信は「日時を指定して配信」で最初の配信日時を決めてください。")
                )
            until = data.get("recurrence_until")
            if until is None:
                self.add_error("recurrence_until", _("繰り返しの終了日を入力してください。"))
            elif data.get("scheduled_at") and until < timezone.localdate(data["scheduled_at"]):
                self.add_error("recurrence_until", _("終了日が最初の配信日より前です。"))
        return data


class RecipientCountPage(AdminPage):
    """「約 N 人に届きます」: the count for the segment being composed (GET parameters), as JSON."""

    def handle(self, request: HttpRequest) -> HttpResponse:
        departments = departments_for_staff(user=request.user, perm="broadcasts.view_broadcast")
        department = departments.filter(pk=_int(request.GET.get("department"))).first()
        municipality = department.municipality if department else request.user.municipality
        if municipality is None:
            return JsonResponse({"count": None, "label": _("担当課を選ぶと人数を表示します。")})
        emergency = request.GET.get("is_emergency") in {"1", "true", "on"}
        category = Interest.objects.filter(
            municipality=municipality, pk=_int(request.GET.get("category"))
        ).first()
        if not emergency and category is None:
            return JsonResponse({"count": None, "label": _("分野を選ぶと人数を表示します。")})
        area_ids = [_int(v) for v in request.GET.getlist("areas")]
        bands = [b for b in request.GET.getlist("age_bands") if b in AgeBand.values]
        count = recipients_for_segment(
            municipality=municipality,
            category_id=category.pk if category else None,
            area_ids=[a for a in area_ids if a],
            age_bands=bands,
            emergency=emergency,
        ).count()
        if count == 0:
            label = _("この条件に当てはまる住民がいません。")
        else:
            label = _("約 %(n)s 人に届きます") % {"n": f"{count:,}"}
        # The town's monthly message budget (its LINE plan): warn before composing past it.
        warning = quota.budget_check(municipality, adding=count).warning()
        return JsonResponse({"count": count, "label": f"{label} {warning}".strip(), "warning": warning})


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
