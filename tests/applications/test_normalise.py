"""Every field type: what residents type, what is stored, and the Japanese error otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from applications import normalise as n


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("  山田　花子 ", "山田 花子"), ("ＡＢＣ１２３", "ABC123"), ("ｶﾀｶﾅ", "カタカナ")],
)
def test_short_text_is_nfkc_normalised(raw, stored):
    assert n.normalise_text(raw) == stored


def test_long_text_keeps_line_breaks():
    assert n.normalise_text("１行目 \r\n２行目\n", multiline=True) == "1行目\n2行目"


@pytest.mark.parametrize(
    ("raw", "stored"), [("１２３", "123"), ("1,234", "1234"), ("３．５", "3.5"), ("－２", "-2")]
)
def test_number_accepts_full_width(raw, stored):
    assert n.normalise_number(raw) == stored


@pytest.mark.parametrize("raw", ["十二", "1e", "abc", "inf"])
def test_number_rejects_words(raw):
    with pytest.raises(n.InputError, match="数字で入力してください"):
        n.normalise_number(raw)


def test_email_full_width_and_domain_case():
    assert n.normalise_email("ｔａｒｏ＠Example.JP") == "taro@example.jp"


@pytest.mark.parametrize("raw", ["taro", "taro@", "@example.jp", "ta ro@@example.jp"])
def test_email_invalid(raw):
    with pytest.raises(n.InputError, match="メールアドレスの形式"):
        n.normalise_email(raw)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("０９０ー１２３４ー５６７８", "09012345678"),
        ("(0263) 12-3456", "0263123456"),
        ("+81 90-1234-5678", "09012345678"),
    ],
)
def test_phone_normalised_to_digits(raw, stored):
    assert n.normalise_phone(raw) == stored


@pytest.mark.parametrize("raw", ["12345", "090-1234-56789", "abc", "1901234567"])
def test_phone_invalid(raw):
    with pytest.raises(n.InputError, match="電話番号は 0 から始まる"):
        n.normalise_phone(raw)


def test_phone_display_format():
    assert n.format_phone("09012345678") == "090-1234-5678"
    assert n.format_phone("0312345678") == "03-1234-5678"


@pytest.mark.parametrize("raw", ["1000001", "100-0001", "〒１００－０００１", "１００ー０００１"])
def test_postal_code_hyphen_optional_full_width(raw):
    assert n.normalise_postal_code(raw) == "100-0001"


def test_postal_code_wrong_length():
    with pytest.raises(n.InputError, match="7 桁の数字"):
        n.normalise_postal_code("12345")


def test_postal_code_unknown():
    with pytest.raises(n.InputError, match="見つかりません"):
        n.normalise_postal_code("999-9999")


def test_postal_lookup_offline_dataset():
    found = n.lookup_postal_code("1000001")
    assert found is not None
    assert found.address == "東京都千代田区千代田"


def test_address_dashes_between_digits_only():
    assert n.normalise_address("みどり町本町１ー２ー３　コーポ１０１") == "みどり町本町1-2-3 コーポ101"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("やまだ　はなこ", "ヤマダ ハナコ"),
        ("ﾔﾏﾀﾞ ﾊﾅｺ", "ヤマダ ハナコ"),
        ("サトウ　イチロー", "サトウ イチロー"),
    ],
)
def test_furigana_to_katakana(raw, stored):
    assert n.normalise_furigana(raw) == stored


def test_furigana_rejects_kanji():
    with pytest.raises(n.InputError, match="カタカナ"):
        n.normalise_furigana("山田")


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2026-04-01", date(2026, 4, 1)),
        ("２０２６年４月１日", date(2026, 4, 1)),
        ("2026/4/1", date(2026, 4, 1)),
        ("20260401", date(2026, 4, 1)),
        ("令和8年4月1日", date(2026, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R8.4.1", date(2026, 4, 1)),
        ("ｈ３１．４．３０", date(2019, 4, 30)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
    ],
)
def test_dates_western_and_wareki(raw, day):
    assert n.parse_date(raw) == day


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026年2月30日", "存在しない日付"),
        ("令和8年13月1日", "存在しない日付"),
        ("平成31年5月1日", "ありません"),  # 平成 ended on 30 April 2019
        ("令和元年4月30日", "ありません"),
        ("昭和64年1月8日", "ありません"),
        ("きのう", "日付は"),
    ],
)
def test_impossible_dates(raw, message):
    with pytest.raises(n.InputError, match=message):
        n.parse_date(raw)


def test_wareki_display():
    assert n.wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert n.wareki(date(2026, 11, 23)) == "令和8年11月23日"
