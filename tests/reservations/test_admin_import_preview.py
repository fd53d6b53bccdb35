"""Slot import page: the template to fill in (defect 5) and holidays in the preview (defect 4)."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from reservations.models import Slot, SlotImportJob
from tests.reservations.factories import MenuFactory
from tests.reservations.test_admin import staff_client  # noqa: F401 - fixture


def _upload(client, kenko, text: str) -> str:
    upload = SimpleUploadedFile("slots.csv", text.encode("utf-8"), content_type="text/csv")
    response = client.post(
        reverse("admin:reservations_slot_upload"), {"file": upload, "department": kenko.pk}
    )
    return response["Location"]


def test_templates_download_and_import_as_they_are(staff_client, kenko):  # noqa: F811
    # given: a menu of the clerk's department
    MenuFactory(department=kenko, name="乳幼児歯科健診", venues="保健センター")
    url = reverse("admin:reservations_slot_upload")
    assert "?template=xlsx" in staff_client.get(url).content.decode()
    # when: the Excel template is downloaded
    xlsx = staff_client.get(url, {"template": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    # then: the six headings and two example rows naming the department's menu and venue
    assert [c.value for c in sheet[1]] == ["サービス", "会場", "日付", "開始", "終了", "定員"]
    assert sheet.cell(2, 1).value == "乳幼児歯科健診" and sheet.cell(2, 2).value == "保健センター"
    assert str(sheet.cell(3, 3).value).startswith("令和")
    # and: the CSV template imports as it is
    csv = staff_client.get(url, {"template": "csv"})
    assert csv["Content-Disposition"].endswith('.csv"') or ".csv" in csv["Content-Disposition"]
    location = _upload(staff_client, kenko, csv.content.decode("utf-8-sig"))
    staff_client.post(location)
    assert Slot.objects.count() == 2


def test_preview_shows_weekdays_and_holidays_and_needs_a_confirmation(staff_client, kenko):  # noqa: F811
    # given: one ordinary day, one public holiday (2027-01-11 成人の日), one 年末年始 day
    MenuFactory(department=kenko, name="乳幼児歯科健診")
    location = _upload(
        staff_client,
        kenko,
        "サービス,会場,日付,開始,終了,定員\n"
        "乳幼児歯科健診,保健センター,2027/01/12,9:00,9:30,5\n"
        "乳幼児歯科健診,保健センター,2027/01/11,9:00,9:30,5\n"
        "乳幼児歯科健診,保健センター,2026/12/30,9:00,9:30,5\n",
    )
    # when
    page = staff_client.get(location).content.decode()
    # then: a weekday column and the holiday named, with a warning
    assert "<th>曜日</th>" in page and "<td>火</td>" in page
    assert "成人の日" in page and "年末年始" in page
    assert "祝日・年末年始（12/29〜1/3）の枠が 2 件あります" in page
    # when: confirmed without the check box, nothing is imported
    staff_client.post(location)
    assert Slot.objects.count() == 0 and SlotImportJob.objects.get().status == "checked"
    # when: confirmed with it
    staff_client.post(location, {"confirm_closed_days": "1"})
    assert Slot.objects.count() == 3
