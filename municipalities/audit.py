"""The audit log: ``audit_log()`` is called by services inside their transaction."""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from municipalities.jp import format_wareki
from municipalities.models import AgeBand, AuditEntry, Department, Municipality, Resident
from municipalities.permissions import walk_id

SECRET_MARKERS = ("secret", "token", "password", "key")


def mask(data: Any) -> Any:
    """Replace the values of secret-looking keys, at any depth."""
    if isinstance(data, dict):
        return {
            k: ("********" if any(m in str(k).lower() for m in SECRET_MARKERS) and v else mask(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask(v) for v in data]
    return data


def _tenant_of(obj: models.Model) -> tuple[int | None, int | None]:
    if isinstance(obj, Municipality):
        return obj.pk, None
    if isinstance(obj, Department):
        return obj.municipality_id, obj.pk
    dept_path = getattr(type(obj), "department_path", None)
    muni_path = getattr(type(obj), "municipality_path", None)
    department_id = walk_id(obj, dept_path) if dept_path else None
    municipality_id = walk_id(obj, muni_path) if muni_path is not None else None
    return municipality_id, department_id


def audit_log(
    *,
    actor: Any | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
    object_repr: str | None = None,
    actor_resident: Resident | None = None,
) -> AuditEntry:
    """Record that ``actor`` did ``action`` (dotted: "broadcasts.broadcast.approved") to ``obj``.

    Must run inside the service's transaction, so the entry exists exactly when the change
    does. Secret-looking keys in ``data`` are masked. ``object_repr`` replaces ``str(obj)``
    when that alone would not tell staff which object it was.

    ``actor_resident`` names the resident who acted on their own (a cancel from the LIFF page);
    it is ignored when a staff ``actor`` is given: staff acting for a resident (代理予約) are
    audited as themselves.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_log() must be called inside the service's transaction")
    entry = audit_entry(
        actor=actor,
        action=action,
        obj=obj,
        data=data,
        actor_label=actor_label,
        object_repr=object_repr,
        actor_resident=actor_resident,
    )
    entry.save(force_insert=True)
    return entry


def audit_entry(
    *,
    actor: Any | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
    object_repr: str | None = None,
    actor_resident: Resident | None = None,
) -> AuditEntry:
    """The entry ``audit_log`` writes, not saved: for a statement that writes it with ``obj``
    (whose ``pk`` may not be known yet)."""
    municipality_id, department_id = _tenant_of(obj)
    if actor is not None:
        actor_resident = None
    if actor_label is None:
        actor_label = (
            str(actor)
            if actor is not None
            else resident_label(actor_resident)
            if actor_resident is not None
            else _("システム")
        )
    clean = DjangoJSONEncoder().encode(mask(data or {}))
    return AuditEntry(
        municipality_id=municipality_id,
        department_id=department_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_resident=actor_resident,
        actor_label=actor_label[:150],
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=(object_repr or str(obj))[:200],
        data=json.loads(clean),
    )


def resident_label(resident: Resident) -> str:
    """How a resident acting on their own appears as the actor: 「住民: 山田花子」."""
    return _("住民: %(name)s") % {"name": str(resident)}


def changes(instance: models.Model, fields: list[str], before: dict[str, Any]) -> dict[str, Any]:
    """{field: [before, after]} for the fields that changed; for ``data=`` of audit_log()."""
    out: dict[str, Any] = {}
    for name in fields:
        after = getattr(instance, name)
        if before.get(name) != after:
            out[name] = [before.get(name), after]
    return out


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """The current values of ``fields``, to compare with ``changes()`` after the write."""
    return {name: getattr(instance, name) for name in fields}


# --- Showing entries to staff ------------------------------------------------------------------

# The last part of an action code, in words. Apps add their own verbs with register_verbs().
VERB_LABELS: dict[str, str] = {
    "created": "作成",
    "changed": "変更",
    "updated": "変更",
    "deleted": "削除",
    "granted": "役割を付与",
    "revoked": "役割を取消",
    "submitted": "申請",
    "approved": "承認",
    "rejected": "差し戻し",
    "cancelled": "取消",
    "canceled": "取消",
    "published": "公開",
    "paid_after_cancel": "取消後の入金（要返金）",
    "unpublished": "公開停止",
    "scheduled": "予約",
    "sent": "送信",
    "imported": "取込",
    "exported": "書き出し",
    "replied": "返信",
    "preferences_changed": "受信設定を変更",
    "unlocked": "ログイン制限を解除",
    "two_factor_enrolled": "二段階認証を設定",
    "two_factor_reset": "二段階認証をリセット",
    "password_changed": "パスワードを変更",
    "booked": "予約を受付",
    "attendance_marked": "出欠を記録",
    "offered": "キャンセル待ちの順番を案内",
    "joined": "キャンセル待ちに登録",
    "left": "キャンセル待ちを取消",
    "expired": "期限切れ",
    "generated": "枠を作成",
    "copied": "複製",
    "applied": "反映",
    "status_changed": "状態を変更",
    "returned": "差し戻し",
    "reopened": "再開",
    "closed": "終了",
    "opened": "開始",
    "paid": "支払い済み",
    "refunded": "返金",
    "removed": "削除",
    "started": "配信を開始",
    "finished": "配信を完了",
    "interrupted": "中断",
    "retried": "再実行",
    "failed": "失敗",
    "prepared": "準備",
    "test_sent": "テスト送信",
    "emergency_sent": "緊急配信",
    "publish_requested": "公開を申請",
    "next_scheduled": "次回の配信を予約",
    "on": "オン",
    "requested": "職員との会話を依頼",
    "bot_paused": "自動応答を停止",
    "handoff_ended": "職員対応を完了",
    "resolved": "FAQ に登録",
    "answer_sent": "回答を質問した住民に送信",
}


def register_verbs(labels: dict[str, str]) -> None:
    """Let an app name its own action verbs ("reserved": "予約") in the audit log."""
    VERB_LABELS.update(labels)


def action_label(action: str) -> str:
    """ "municipalities.staffrole.granted" → "職員の役割: 役割を付与" (falls back to the code)."""
    parts = action.split(".")
    if len(parts) != 3:
        return action
    app_label, model_name, verb = parts
    try:
        model_label = str(apps.get_model(app_label, model_name)._meta.verbose_name)
    except LookupError:
        model_label = model_name
    return f"{model_label}: {VERB_LABELS.get(verb, verb)}"


# Each verb as the end of a sentence; ``{target}`` is 「<model>「<object>」」. Keep in step with
# VERB_LABELS (tests/municipalities/test_staff_words.py holds every verb in the code to both).
VERB_SENTENCES: dict[str, str] = {
    "created": "{target}を作成しました",
    "changed": "{target}を変更しました",
    "updated": "{target}を変更しました",
    "deleted": "{target}を削除しました",
    "granted": "{target}を付与しました",
    "revoked": "{target}を取り消しました",
    "submitted": "{target}を申請しました",
    "approved": "{target}を承認しました",
    "rejected": "{target}を差し戻しました",
    "cancelled": "{target}を取り消しました",
    "canceled": "{target}を取り消しました",
    "published": "{target}を公開しました",
    "unpublished": "{target}の公開を停止しました",
    "scheduled": "{target}を予約しました",
    "sent": "{target}を送信しました",
    "imported": "{target}を取り込みました",
    "exported": "{target}を書き出しました",
    "replied": "{target}に返信しました",
    "preferences_changed": "{target}の受信設定を変更しました",
    "unlocked": "{target}のログイン制限を解除しました",
    "two_factor_enrolled": "{target}の二段階認証を設定しました",
    "two_factor_reset": "{target}の二段階認証をリセットしました",
    "password_changed": "{target}のパスワードを変更しました",
    "booked": "{target}を受け付けました",
    "attendance_marked": "{target}の出欠を記録しました",
    "offered": "{target}に空きの順番を案内しました",
    "joined": "{target}に登録しました",
    "left": "{target}を取り消しました",
    "expired": "{target}の期限が切れました",
    "generated": "{target}の枠を作成しました",
    "copied": "{target}を複製しました",
    "applied": "{target}を反映しました",
    "status_changed": "{target}の状態を変更しました",
    "returned": "{target}を差し戻しました",
    "reopened": "{target}を再開しました",
    "closed": "{target}を締め切りました",
    "opened": "{target}を開きました",
    "paid": "{target}の支払いを受け付けました",
    "paid_after_cancel": "{target}の取消後の入金を記録しました（要返金）",
    "refunded": "{target}を返金しました",
    "removed": "{target}を削除しました",
    "started": "{target}の配信を開始しました",
    "finished": "{target}の配信を完了しました",
    "interrupted": "{target}を中断しました",
    "retried": "{target}を再実行しました",
    "failed": "{target}に失敗しました",
    "prepared": "{target}を作成しました",
    "test_sent": "{target}をテスト送信しました",
    "emergency_sent": "{target}を緊急配信しました",
    "publish_requested": "{target}の公開を申請しました",
    "next_scheduled": "{target}の次回の配信を予約しました",
    "on": "{target}をオンにしました",
    "requested": "職員との会話を依頼しました（{target}）",
    "bot_paused": "住民とのトークでチャットボットの自動応答を止めました",
    "handoff_ended": "住民との職員対応を完了にしました",
    "resolved": "{target}を FAQ に登録しました",
    "answer_sent": "{target}の回答を、質問した住民に送りました",
}


def register_sentences(sentences: dict[str, str]) -> None:
    """Let an app word its own verbs as sentence ends ("reserved": "{target}を予約しました")."""
    VERB_SENTENCES.update(sentences)


def _actor_phrase(entry: AuditEntry) -> str:
    label = entry.actor_label or _("システム")
    if label == _("システム"):
        return label
    resident_prefix = _("住民: ")
    if label.startswith(resident_prefix):  # 「住民: 山田 花子」 → 住民の山田 花子さん
        return _("住民の%(name)sさん") % {"name": label.removeprefix(resident_prefix)}
    return _("%(name)sさん") % {"name": label}


def audit_sentence(entry: AuditEntry, *, with_time: bool = True) -> str:
    """The entry as a sentence staff read: 「令和8年12月4日 10:15、kenko_head さんが
    お知らせ「健診のご案内」を承認しました。」 (who did what to what, and when). Unknown verbs fall
    back to the action's label; no query (the content type is cached by Django)."""
    parts = entry.action.split(".")
    model_label = ""
    if len(parts) == 3:
        try:
            model_label = str(apps.get_model(parts[0], parts[1])._meta.verbose_name)
        except LookupError:
            model_label = ""
    target = f"{model_label}「{entry.object_repr}」" if model_label else f"「{entry.object_repr}」"
    template = VERB_SENTENCES.get(parts[-1]) if len(parts) == 3 else None
    what = template.format(target=target) if template else f"{target}: {action_label(entry.action)}"
    sentence = _("%(actor)sが%(what)s。") % {"actor": _actor_phrase(entry), "what": what}
    if not with_time or entry.created_at is None:
        return sentence
    local = timezone.localtime(entry.created_at)
    return f"{format_wareki(local.date())} {local:%H:%M}、{sentence}"


def _value_text(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list | tuple):
        return "、".join(_value_text(v) for v in value)
    return str(value)


# Data keys that hold codes without a model field to name them: label and the codes' words.
CODED_KEYS: dict[str, tuple[str, dict[str, str]]] = {
    "age_band": ("年代", {k: str(v) for k, v in AgeBand.choices}),
    "age_bands": ("年代", {k: str(v) for k, v in AgeBand.choices}),
    "budget_warning": ("月間の送信上限", {}),
    "holiday_policy": (
        "センター休止期間の収集",
        {
            "cancel": "休止（収集なし）",
            "shift": "振替（休止明けに収集）",
            "week": "1 週ずらし（5374 の WeekShift）",
        },
    ),
}


def data_lines(entry: AuditEntry) -> list[tuple[str, str]]:
    """The entry's data as (label, text) for staff: field names in Japanese, "before → after"."""
    model = entry.content_type.model_class() if entry.content_type_id else None
    lines = []
    for key, value in (entry.data or {}).items():
        label, choices = key, {}
        if model is not None:
            try:
                field = model._meta.get_field(key)
            except FieldDoesNotExist:
                field = None
            if field is not None and hasattr(field, "verbose_name"):
                label = str(field.verbose_name)
                choices = {k: str(v) for k, v in getattr(field, "flatchoices", []) or []}
        if not choices and key in CODED_KEYS:  # codes kept in JSON (a segment's 年代: ["70p"])
            label, choices = CODED_KEYS[key]
        if choices:
            value = (
                [choices.get(v, v) for v in value] if isinstance(value, list) else choices.get(value, value)
            )
        if isinstance(value, list) and len(value) == 2 and not any(isinstance(v, list | dict) for v in value):
            text = f"{_value_text(value[0])} → {_value_text(value[1])}"
        else:
            text = _value_text(value)
        lines.append((label, text))
    return lines
