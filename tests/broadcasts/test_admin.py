"""The broadcast console: composing through the form, bad input row by row, buttons, counts."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastMessage, BroadcastStatus
from broadcasts.services import broadcast_submit
from municipalities.models import AuditEntry
from tests.broadcasts.factories import make_broadcast, make_residents

ADD_URL = "/admin/broadcasts/broadcast/add/"


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


def login(user) -> Client:
    client = Client()
    client.force_login(user, backend="municipalities.auth.RoleBackend")
    return client


def form_data(department, category, messages: list[dict], extra: dict | None = None) -> dict:
    data = {
        "title": "特定健診のご案内",
        "department": department.pk,
        "category": category.pk if category else "",
        "send_mode": "now",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        "recurrence": "",
        "recurrence_until": "",
        "messages-TOTAL_FORMS": str(len(messages)),
        "messages-INITIAL_FORMS": "0",
        "messages-MIN_NUM_FORMS": "1",
        "messages-MAX_NUM_FORMS": "5",
        "batches-TOTAL_FORMS": "0",
        "batches-INITIAL_FORMS": "0",
        "batches-MIN_NUM_FORMS": "0",
        "batches-MAX_NUM_FORMS": "0",
        "_save": "保存",
    }
    for n, message in enumerate(messages):
        for key, value in {
            "kind": "text",
            "text": "",
            "image_url": "",
            "card_title": "",
            "link_label": "",
            "link_url": "",
            **message,
        }.items():
            data[f"messages-{n}-{key}"] = value
    data.update(extra or {})
    return data


def errors_of(response) -> str:
    return response.content.decode()


def test_editor_composes_a_draft_with_text_image_and_card(kenko, kenko_editor, interests):
    # given
    client = login(kenko_editor)
    messages = [
        {"text": "今年度の特定健診のご案内です。"},
        {"kind": "image", "image": SimpleUploadedFile("poster.png", PNG, content_type="image/png")},
        {
            "kind": "card",
            "card_title": "特定健診",
            "text": "6月1日から受付",
            "link_label": "予約する",
            "link_url": "https://example.jp/yoyaku",
        },
    ]
    # when
    response = client.post(ADD_URL, form_data(kenko, interests["kenko"], messages))
    # then
    assert response.status_code == 302, errors_of(response)
    broadcast = Broadcast.objects.get()
    assert broadcast.status == BroadcastStatus.DRAFT
    assert [m.kind for m in broadcast.messages.all()] == ["text", "image", "card"]
    assert [m.position for m in broadcast.messages.all()] == [0, 1, 2]
    assert AuditEntry.objects.filter(
        action="broadcasts.broadcast.created", object_id=str(broadcast.pk)
    ).exists()


@pytest.mark.parametrize(
    ("messages", "extra", "error"),
    [
        ([{"text": "😀" * 2501}], {}, "本文が長すぎます"),
        ([{"text": f"{n}"} for n in range(6)], {}, "5"),
        (
            [
                {
                    "kind": "image",
                    "image": SimpleUploadedFile("fake.png", b"GIF89a" + b"0" * 30, content_type="image/png"),
                }
            ],
            {},
            "JPEG または PNG",
        ),
        (
            [
                {
                    "kind": "image",
                    "image": SimpleUploadedFile(
                        "big.png", PNG + b"0" * (10 * 1024 * 1024), content_type="image/png"
                    ),
                }
            ],
            {},
            "画像が大きすぎます",
        ),
        ([{"kind": "image", "image_url": "http://example.jp/a.png"}], {}, "https://"),
        ([{"kind": "card", "card_title": "題", "text": "本文", "link_label": "開く"}], {}, "両方入力"),
        (
            [{"text": "ok"}],
            {"send_mode": "at", "scheduled_at_0": "2020-01-01", "scheduled_at_1": "09:00"},
            "過去",
        ),
        ([{"text": "ok"}], {"category": ""}, "分野を選ぶか"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(
    kenko, kenko_editor, interests, messages, extra, error
):
    client = login(kenko_editor)
    response = client.post(ADD_URL, form_data(kenko, interests["kenko"], messages, extra))
    assert response.status_code == 200
    assert error in errors_of(response)
    assert not Broadcast.objects.exists()
    assert not BroadcastMessage.objects.exists()


def test_a_pending_broadcast_cannot_be_edited(kenko, kenko_editor, interests, town):
    # given
    make_residents(town, 2, interests=[interests["kenko"]])
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    client = login(kenko_editor)
    # when
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])).content.decode()
    client.post(
        reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk]),
        form_data(kenko, interests["kenko"], [{"text": "書き換え"}], {"title": "書き換え"}),
    )
    # then
    assert "編集できません" in page
    broadcast.refresh_from_db()
    assert broadcast.title != "書き換え"
    assert [m.text for m in broadcast.messages.all()] == ["健康診断のお知らせです。"]


def test_recipient_count_endpoint(kenko, kenko_editor, interests, areas, town):
    # given
    make_residents(town, 3, interests=[interests["kenko"]], area=areas["東区"])
    make_residents(town, 2, interests=[interests["kenko"]], area=areas["西区"])
    client = login(kenko_editor)
    url = reverse("admin:broadcasts_broadcast_recipient_count")
    # when
    everyone = client.get(url, {"department": kenko.pk, "category": interests["kenko"].pk}).json()
    east = client.get(
        url, {"department": kenko.pk, "category": interests["kenko"].pk, "areas": [areas["東区"].pk]}
    ).json()
    nobody = client.get(url, {"department": kenko.pk, "category": interests["gomi"].pk}).json()
    emergency = client.get(url, {"department": kenko.pk, "is_emergency": "1"}).json()
    # then
    assert (everyone["count"], everyone["label"]) == (5, "約 5 人に届きます")
    assert east["count"] == 3
    assert nobody["count"] == 0 and "いません" in nobody["label"]
    assert emergency["count"] == 5


def test_buttons_call_the_services_and_show_their_errors(kenko, kenko_editor, kenko_head, interests, town):
    # given
    make_residents(town, 2, interests=[interests["kenko"]])
    broadcast = make_broadcast(
        kenko, category=interests["kenko"], send_mode="at", scheduled_at=timezone.now() + timedelta(hours=3)
    )
    editor, head = login(kenko_editor), login(kenko_head)

    def press(client, verb):
        url = reverse("admin:broadcasts_broadcast_transition", args=[broadcast.pk, verb])
        return [str(m) for m in client.post(url, follow=True).context["messages"]]

    # when / then
    assert press(editor, "submit") == ["承認を申請しました。所属長の承認をお待ちください。"]
    assert "承認する権限がありません" in press(editor, "approve")[0]
    assert press(head, "approve") == ["承認しました。"]
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert "取り消す権限" in press(editor, "cancel")[0]
    assert press(head, "cancel") == ["取り消しました。"]


def test_button_of_another_departments_broadcast_is_a_404(kenko, somu_editor, interests):
    broadcast = make_broadcast(kenko, category=interests["kenko"])
    response = login(somu_editor).post(
        reverse("admin:broadcasts_broadcast_transition", args=[broadcast.pk, "submit"])
    )
    assert response.status_code == 404


def test_change_page_shows_progress_and_figures(
    kenko, kenko_head, interests, town, django_capture_on_commit_callbacks
):
    # given: a sent emergency broadcast
    make_residents(town, 4)
    broadcast = make_broadcast(kenko, emergency=True)
    client = login(kenko_head)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:broadcasts_broadcast_transition", args=[broadcast.pk, "emergency"]))
    # when
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])).content.decode()
    progress = client.get(reverse("admin:broadcasts_broadcast_progress", args=[broadcast.pk])).json()
    # then
    assert "配信完了" in page
    assert "4 / 4（100%）" in page
    assert progress == {
        "status": "sent",
        "status_label": "配信完了",
        "total": 4,
        "sent": 4,
        "failed": 0,
        "pending": 0,
        "percent": 100,
    }


def test_changelist_query_count_does_not_grow_with_rows(
    kenko, kenko_head, interests, django_assert_max_num_queries
):
    client = login(kenko_head)
    for _ in range(3):
        make_broadcast(kenko, category=interests["kenko"])
    client.get("/admin/broadcasts/broadcast/")  # warm caches (permissions, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/broadcasts/broadcast/").status_code == 200
    for _ in range(6):
        make_broadcast(kenko, category=interests["kenko"], emergency=False)
    with CaptureQueriesContext(connection) as more:
        client.get("/admin/broadcasts/broadcast/")
    assert len(more) == len(few)
