"""The 受信設定 page: one tap per change, saved through the core service and confirmed on the page;
LINE gets one summary when the resident leaves the page, not a push per tap."""

from __future__ import annotations

import pytest
from django.urls import reverse

from municipalities.line.liff import resident_link
from municipalities.models import Resident, SimulatedDelivery
from tests.conftest import link_button, shown_text

URL = "/liff/broadcasts/settings/"


@pytest.fixture
def signed_in(client, resident):
    response = client.get(resident_link(resident, URL, base_url=""))
    assert response.status_code == 302
    return client


def test_url_and_name():
    assert reverse("broadcasts:receive_settings") == URL


def test_page_needs_a_signed_in_resident(client, resident):
    assert client.get(URL).status_code == 403


def test_page_shows_the_towns_choices_and_the_residents_settings(signed_in, resident, interests, areas):
    # given
    resident.interests.set([interests["bosai"]])
    # when
    response = signed_in.get(URL)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    for name in ["子育て", "健康", "防災", "ごみ", "本町", "東区", "西区", "30代"]:
        assert name in body
    assert body.count('aria-checked="true"') == 1


def test_taps_push_nothing_and_leaving_sends_one_summary(
    signed_in, resident, interests, areas, django_capture_on_commit_callbacks
):
    # when the resident makes three changes on the page
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            URL, {"action": "interest", "interest": interests["kosodate"].pk, "on": "1"}
        )
        signed_in.post(URL, {"action": "area", "area": areas["東区"].pk})
        signed_in.post(URL, {"action": "age", "age_band": "40s"})
    # then each is saved and confirmed on the page, and nothing is pushed yet
    assert response.status_code == 302
    assert list(resident.interests.all()) == [interests["kosodate"]]
    assert "「子育て」のお知らせを受け取ります。" in signed_in.get(URL).content.decode()
    assert not SimulatedDelivery.objects.filter(endpoint="push").exists()
    # when they leave the page (the page's beacon), twice
    with django_capture_on_commit_callbacks(execute=True):
        left = signed_in.post(URL, {"action": "leave"})
        signed_in.post(URL, {"action": "leave"})
    # then one summary of the settings as they ended up
    assert left.status_code == 204
    push = SimulatedDelivery.objects.get(endpoint="push", line_user_id=resident.line_user_id)
    text = shown_text(push.messages[0])
    assert "受信設定を変更しました" in text and "子育て" in text and "東区" in text and "40代" in text
    assert link_button(push.messages[0]) == ("受信設定を開く", URL)


def test_leaving_without_a_change_sends_nothing(signed_in, resident, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_in.post(URL, {"action": "leave"}).status_code == 204
    assert not SimulatedDelivery.objects.filter(endpoint="push").exists()


def test_turning_an_interest_off(signed_in, resident, interests):
    resident.interests.set([interests["kosodate"], interests["gomi"]])
    signed_in.post(URL, {"action": "interest", "interest": interests["gomi"].pk, "on": "0"})
    assert list(resident.interests.all()) == [interests["kosodate"]]


def test_area_age_and_pause(signed_in, resident, areas):
    signed_in.post(URL, {"action": "area", "area": areas["東区"].pk})
    signed_in.post(URL, {"action": "age", "age_band": "40s"})
    signed_in.post(URL, {"action": "pause", "paused": "1"})
    resident.refresh_from_db()
    assert (resident.area, resident.age_band, resident.notices_paused) == (areas["東区"], "40s", True)


def test_another_towns_interest_is_a_404_and_changes_nothing(signed_in, resident, other_town):
    from municipalities.models import Interest

    foreign = Interest.objects.create(municipality=other_town, code="kanko", name="観光")
    response = signed_in.post(URL, {"action": "interest", "interest": foreign.pk, "on": "1"})
    assert response.status_code == 404
    assert not resident.interests.exists()


def test_a_bad_age_band_is_a_clear_message(signed_in, resident):
    response = signed_in.post(URL, {"action": "age", "age_band": "99s"}, follow=True)
    assert "年代の選び方が正しくありません" in response.content.decode()
    assert Resident.objects.get(pk=resident.pk).age_band == ""
