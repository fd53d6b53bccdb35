"""Staff never see internal codes: audit actions and filters in Japanese, 年代 as 「70代以上」,
the talk log's kinds in words."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from municipalities.audit import VERB_LABELS, action_label, audit_log, data_lines
from municipalities.models import AuditEntry, TalkMessage


def test_every_audited_verb_in_the_code_has_words():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    verbs = set()
    for app in ("municipalities", "broadcasts", "reservations", "applications", "chatbot"):
        for path in (root / app).rglob("*.py"):
            verbs |= set(
                re.findall(r'action="[a-z_]+\.[a-z_]+\.([a-z_]+)"', path.read_text(encoding="utf-8"))
            )
    assert verbs and sorted(v for v in verbs if v not in VERB_LABELS) == []


def test_action_label_and_age_band_words(town, resident):
    assert action_label("reservations.reservation.booked") == "予約: 予約を受付"
    with transaction.atomic():
        entry = audit_log(
            actor=None,
            action="municipalities.resident.preferences_changed",
            obj=resident,
            data={"age_bands": ["70p", "60s", "u20"]},
        )
    assert ("年代", "70代以上、60代、10代以下") in data_lines(entry)


def test_audit_and_talk_filters_are_in_japanese(client, town, resident, town_admin):
    with transaction.atomic():
        audit_log(actor=None, action="chatbot.handoff.requested", obj=resident)
    TalkMessage.objects.create(
        municipality=town, resident=resident, direction="in", kind="postback", text="bc:t:3"
    )
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    audit_page = client.get(reverse("admin:municipalities_auditentry_changelist")).content.decode()
    assert "職員対応の依頼: 職員との会話を依頼" in audit_page
    talk_page = client.get(reverse("admin:municipalities_talkmessage_changelist")).content.decode()
    assert "ボタンの操作" in talk_page
    assert AuditEntry.objects.exists()


def test_a_sent_broadcasts_age_bands_read_as_words(client, town, kenko, kenko_editor, interests):
    from broadcasts.models import Broadcast
    from broadcasts.services import broadcast_submit
    from tests.broadcasts.factories import make_broadcast, make_residents

    make_residents(town, 1, interests=[interests["kenko"]], age_band="70p")
    broadcast = make_broadcast(kenko, category=interests["kenko"])
    Broadcast.objects.filter(pk=broadcast.pk).update(age_bands=["70p", "60s"])
    broadcast.refresh_from_db()
    broadcast_submit(broadcast=broadcast, actor=kenko_editor)  # no longer editable: read-only page
    client.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])).content.decode()
    assert "70代以上、60代" in page and "70p" not in page
