"""Staff never see internal codes: audit actions and filters in Japanese, 年代 as 「70代以上」,
the talk log's kinds in words."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from municipalities.audit import (
    VERB_LABELS,
    VERB_SENTENCES,
    action_label,
    audit_log,
    audit_sentence,
    data_lines,
)
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
    assert sorted(v for v in verbs if v not in VERB_SENTENCES) == []


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


def test_audit_entries_read_as_sentences_of_who_did_what_to_what_and_when(
    client, town, kenko, resident, kenko_head, town_admin
):
    from chatbot.models import HandoffRoute
    from chatbot.services import handoff_route_save

    # given an entry by a member of staff, one by a resident and one by the system
    route = handoff_route_save(
        route=HandoffRoute(department=kenko, topic="予防接種", keywords="予防接種"),
        actor=kenko_head,
        created=True,
    )
    with transaction.atomic():
        by_resident = audit_log(
            actor=None, actor_resident=resident, action="chatbot.handoff.requested", obj=resident
        )
        by_system = audit_log(actor=None, action="reservations.reservation.booked", obj=resident)
    staff_entry = AuditEntry.objects.get(action="chatbot.handoffroute.created")
    # then each is a sentence: who, what, to what, and when (和暦)
    assert (
        audit_sentence(staff_entry, with_time=False)
        == "kenko_headさんが問い合わせの振り分け「予防接種」を作成しました。"
    )
    assert audit_sentence(staff_entry).startswith("令和")
    assert "、kenko_headさんが" in audit_sentence(staff_entry)
    assert audit_sentence(by_resident, with_time=False).startswith(
        "住民の山田 花子さんが職員との会話を依頼しました"
    )
    assert audit_sentence(by_system, with_time=False) == "システムが予約「山田 花子」を受け付けました。"
    # and the audit log, an object's history and the admin home show the sentences, not codes
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    listing = client.get(reverse("admin:municipalities_auditentry_changelist")).content.decode()
    assert "問い合わせの振り分け「予防接種」を作成しました。" in listing
    assert ">chatbot.handoffroute.created<" not in listing  # (the code is only in the filter's links)
    history = client.get(reverse("admin:chatbot_handoffroute_history", args=[route.pk])).content.decode()
    assert "問い合わせの振り分け「予防接種」を作成しました。" in history
    client.force_login(kenko_head, backend="municipalities.auth.RoleBackend")
    home = client.get(reverse("admin:index")).content.decode()
    assert "kenko_headさんが問い合わせの振り分け「予防接種」を作成しました。" in home
