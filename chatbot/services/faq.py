"""FAQ entries and keyword rules: validated, audited, the answer index rebuilt on commit."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils.translation import gettext as _

from chatbot.errors import ChatbotError
from chatbot.matching import invalidate
from chatbot.models import Faq, KeywordRule
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.errors import full_clean_or
from municipalities.models import StaffUser


def invalidate_on_commit(municipality_id: int) -> None:
    transaction.on_commit(lambda: invalidate(municipality_id))


# --- FAQ and keyword rules --------------------------------------------------------------------


def faq_write(*, faq: Faq, actor: StaffUser | None, created: bool, changed: list[str] | None = None) -> Faq:
    """Validate and save an FAQ inside the caller's transaction (admin save, import rows).

    Checks the policy in the FAQ's department, audits, and rebuilds the answer index on commit
    (an import dry run rolls back, so nothing is invalidated then).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("faq_write() runs inside a transaction")
    if actor is not None:
        permissions.require_save(
            actor,
            faq,
            created=created,
            error=ChatbotError,
            message=_("この課の FAQ を変更する権限がありません。"),
        )
    full_clean_or(faq, error=ChatbotError)
    faq.save()
    audit_log(
        actor=actor,
        action="chatbot.faq." + ("created" if created else "changed"),
        obj=faq,
        data={"question": faq.question, "fields": changed or []},
    )
    invalidate_on_commit(faq.department.municipality_id)
    return faq


@transaction.atomic(durable=True)
def faq_save(*, faq: Faq, actor: StaffUser | None, created: bool, changed: list[str] | None = None) -> Faq:
    """Create or change an FAQ entry (see ``faq_write``). Raises ChatbotError on bad data or
    without the permission."""
    return faq_write(faq=faq, actor=actor, created=created, changed=changed)


@transaction.atomic(durable=True)
def faq_delete(*, faq: Faq, actor: StaffUser | None) -> None:
    """Delete an FAQ entry. Audited; the index is rebuilt on commit."""
    if actor is not None:
        permissions.require(
            actor, "delete", faq, error=ChatbotError, message=_("この課の FAQ を削除する権限がありません。")
        )
    municipality_id = faq.department.municipality_id
    audit_log(actor=actor, action="chatbot.faq.deleted", obj=faq, data={"question": faq.question})
    faq.delete()
    invalidate_on_commit(municipality_id)


@transaction.atomic(durable=True)
def keyword_rule_save(*, rule: KeywordRule, actor: StaffUser | None, created: bool) -> KeywordRule:
    """Create or change a keyword rule. Audited; the index is rebuilt on commit."""
    if actor is not None:
        permissions.require_save(
            actor,
            rule,
            created=created,
            error=ChatbotError,
            message=_("この課のキーワード応答を変更する権限がありません。"),
        )
    full_clean_or(rule, error=ChatbotError)
    rule.save()
    audit_log(
        actor=actor,
        action="chatbot.keywordrule." + ("created" if created else "changed"),
        obj=rule,
        data={"keyword": rule.keyword, "is_active": rule.is_active},
    )
    invalidate_on_commit(rule.department.municipality_id)
    return rule


@transaction.atomic(durable=True)
def keyword_rule_delete(*, rule: KeywordRule, actor: StaffUser | None) -> None:
    if actor is not None:
        permissions.require(
            actor,
            "delete",
            rule,
            error=ChatbotError,
            message=_("この課のキーワード応答を削除する権限がありません。"),
        )
    municipality_id = rule.department.municipality_id
    audit_log(actor=actor, action="chatbot.keywordrule.deleted", obj=rule, data={"keyword": rule.keyword})
    rule.delete()
    invalidate_on_commit(municipality_id)
