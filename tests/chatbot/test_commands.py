"""``manage.py import_garbage``."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from chatbot.models import GarbageItem

from .conftest import KYOTANGO


def test_import_garbage_command(town):
    out = io.StringIO()
    call_command("import_garbage", "midori", str(KYOTANGO), stdout=out)
    assert "品目 776" in out.getvalue() and "地区 169" in out.getvalue()
    assert GarbageItem.objects.filter(municipality=town).count() == 776


def test_import_garbage_command_errors(town, tmp_path):
    with pytest.raises(CommandError, match="自治体「nowhere」"):
        call_command("import_garbage", "nowhere", str(KYOTANGO))
    (tmp_path / "area_days.csv").write_text("地名,燃やすごみ\nA,毎日\n", encoding="utf-8")
    (tmp_path / "target.csv").write_text("label,name\n燃やすごみ,紙\n", encoding="utf-8")
    with pytest.raises(CommandError, match="area_days.csv 2行目"):
        call_command("import_garbage", "midori", str(tmp_path))
