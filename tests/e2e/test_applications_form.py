"""Browser test: a resident fills in a form on a phone, uploads a file, confirms and submits once."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from applications.models import FieldKind, Submission
from applications.workflow import SubmissionStatus as S
from municipalities.line.liff import resident_token
from municipalities.models import SimulatedDelivery
from tests.applications.factories import FormFieldFactory, simple_form
from tests.applications.files import EXE, PNG
from tests.conftest import shown_text

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def _private(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def test_resident_submits_a_form_with_an_upload(mobile_page, live_server, somu, resident, _private, tmp_path):
    # given: a bulky-waste form with a postal code, an address, a furigana and a photo
    form = simple_form(somu, title="粗大ごみ収集の申込")
    FormFieldFactory(
        form=form, position=3, kind=FieldKind.FURIGANA, label="フリガナ", key="kana", required=True
    )
    FormFieldFactory(
        form=form, position=4, kind=FieldKind.POSTAL_CODE, label="郵便番号", key="postal", required=True
    )
    FormFieldFactory(
        form=form, position=5, kind=FieldKind.ADDRESS, label="住所", key="address", required=True
    )
    FormFieldFactory(
        form=form,
        position=6,
        kind=FieldKind.FILE,
        label="写真",
        key="photo",
        required=True,
        file_types=["png", "jpeg"],
    )
    good, bad = tmp_path / "sofa.png", tmp_path / "sofa-really-an-exe.png"
    good.write_bytes(PNG)
    bad.write_bytes(EXE)
    page = mobile_page
    page.goto(
        live_server.url
        + reverse(
            "line:resident_link",
            kwargs={"token": resident_token(resident, f"/liff/applications/forms/{form.pk}/")},
        )
    )

    # when: the resident types full-width digits and hiragana and picks a file that is not an image
    page.fill("#id_name", "山田　花子")
    page.fill("#id_kana", "やまだ　はなこ")
    page.fill("#id_postal", "１００ー０００１")
    expect(page.locator("#id_address")).to_have_value(
        "東京都千代田区千代田"
    )  # completed from the offline dataset
    page.fill("#id_address", page.input_value("#id_address") + "１ー１")
    page.set_input_files("#id_photo", str(bad))
    page.locator("button[type=submit]").tap()
    page.wait_for_selector("#error-photo")
    # then: a Japanese error next to the file field, the input kept
    assert "このファイル形式は受け付けていません" in page.inner_text("#error-photo")
    assert page.input_value("#id_kana") == "やまだ　はなこ"

    # when: the right file, then confirm
    page.set_input_files("#id_photo", str(good))
    page.locator("button[type=submit]").tap()
    page.wait_for_url("**/confirm/**")
    text = page.inner_text("main")
    assert (
        "ヤマダ ハナコ" in text
        and "100-0001" in text
        and "東京都千代田区千代田1-1" in text
        and "sofa.png" in text
    )
    # a double tap on 送信する sends once
    page.locator("button[data-once]").dblclick()
    page.wait_for_selector(".app-reference")

    # then: one submission, the file attached, the 受付番号 on screen and pushed to LINE
    submission = Submission.objects.get()
    assert submission.status == S.RECEIVED
    assert page.inner_text(".app-reference") == submission.reference
    assert submission.attachments.get().original_name == "sofa.png"
    assert submission.answers["kana"] == "ヤマダ ハナコ"
    push = SimulatedDelivery.objects.get(line_user_id=resident.line_user_id, endpoint="push")
    assert submission.reference in shown_text(push.messages[0])
