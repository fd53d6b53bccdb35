"""The audit log: ``audit_log()`` is called by services inside their transaction."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils.translation import gettext as _

from municipalities.models import AuditEntry, Department, Municipality
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
) -> AuditEntry:
    """Record that ``actor`` did ``action`` (dotted: "broadcasts.broadcast.approved") to ``obj``.

    Must run inside the service's transaction, so the entry exists exactly when the change
    does. Secret-looking keys in ``data`` are masked.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_log() must be called inside the service's transaction")
    municipality_id, department_id = _tenant_of(obj)
    if actor_label is None:
        actor_label = str(actor) if actor is not None else _("システム")
    clean = DjangoJSONEncoder().encode(mask(data or {}))
    return AuditEntry.objects.create(
        municipality_id=municipality_id,
        department_id=department_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label[:150],
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        data=json.loads(clean),
    )


def changes(instance: models.Model, fields: list[str], before: dict[str, Any]) -> dict[str, Any]:
    """{field: [before, after]} for the fields that changed; for ``data=`` of audit_log()."""
    out: dict[str, Any] = {}
    for name in fields:
        after = getattr(instance, name)
        if before.get(name) != after:
            out[name] = [before.get(name), after]
    return out


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}
