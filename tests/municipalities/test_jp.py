"""The Japanese-input kernel: widths, kana, phone, postal code, 和暦, and the text of uploaded CSVs.

Property tests (hypothesis) prove the round trips; the example tests carry over what the copies
this kernel replaced had pinned (the application form's normalise.py, the slot import's
parsing.py, the garbage import's date and decoding).
"""

from __future__ import annotations

from datetime import date, timedelta

import jaconv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from municipalities import files, jp

FIRST_MEIJI = date(1868, 1, 25)
LAST_TESTED = date(2100, 12, 31)
DASH_KINDS = ["-", "‐", "‑", "–", "—", "―", "−", "ー", "－", "ｰ"]
HIRAGANA = "あいうえおかきくけこがぎぐげごさしすせそざじずぜぞたちつてとだぢづでどなにぬねのはひふへほばびぶべぼぱぴぷぺぽまみむめもやゆよらりるれろわをんぁぃぅぇぉっゃゅょ"

full_width = lambda text: jaconv.h2z(text, kana=False, ascii=True, digit=True)  # noqa: E731


# --- 和暦: round trips over every day -----------------------------------------------------------


@given(st.dates(min_value=FIRST_MEIJI, max_value=LAST_TESTED))
def test_parse_is_the_inverse_of_format_wareki(day):
    assert jp.parse_date(jp.format_wareki(day)) == day


@given(st.dates(min_value=FIRST_MEIJI, max_value=LAST_TESTED))
def test_every_written_form_of_a_day_reads_as_that_day(day):
    # given
    era = jp.era_of(day)
    year = day.year - era.first.year + 1
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02}.{day.day:02}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
        f"{era.initial}{year}.{day.month}.{day.day}",
        f"{era.initial.lower()}{year}/{day.month}/{day.day}",
        f"{era.name}{year}年{day.month}月{day.day}日",
        full_width(f"{era.name}{year}年{day.month}月{day.day}日"),
        full_width(f"{day.year}/{day.month:02}/{day.day:02}"),
        f"{day.year}年{day.month}月{day.day}日(火)",
    ]
    # when / then
    for text in forms:
        assert jp.parse_date(text) == day, text


def test_every_day_from_meiji_to_2100_round_trips():
    day = FIRST_MEIJI
    while day <= LAST_TESTED:
        assert jp.parse_date(jp.format_wareki(day)) == day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("last", "last_text", "first_text"),
    [
        (date(1912, 7, 29), "明治45年7月29日", "大正元年7月30日"),
        (date(1926, 12, 24), "大正15年12月24日", "昭和元年12月25日"),
        (date(1989, 1, 7), "昭和64年1月7日", "平成元年1月8日"),
        (date(2019, 4, 30), "平成31年4月30日", "令和元年5月1日"),
    ],
)
def test_era_boundaries_are_the_days_of_the_change(last, last_text, first_text):
    # given
    first = last + timedelta(days=1)
    old_era, new_era = jp.era_of(last), jp.era_of(first)
    # then: each side of the change is written in its own era and read back
    assert old_era != new_era
    assert jp.format_wareki(last) == last_text
    assert jp.format_wareki(first) == first_text
    assert jp.parse_date(last_text) == last
    assert jp.parse_date(first_text) == first
    # and the old era does not run into the new one, nor the new one back into the old
    with pytest.raises(jp.InputError, match="ありません"):
        jp.parse_date(f"{old_era.name}{last.year - old_era.first.year + 1}年{first.month}月{first.day}日")
    with pytest.raises(jp.InputError, match="ありません"):
        jp.parse_date(f"{new_era.name}元年{last.month}月{last.day}日")


def test_before_meiji_is_written_in_the_western_calendar():
    assert jp.format_wareki(date(1868, 1, 24)) == "1868年1月24日"
    assert jp.format_wareki(date(1868, 1, 25)) == "明治元年1月25日"
    with pytest.raises(jp.InputError, match="明治は1868年1月25日から"):
        jp.parse_date("明治元年1月24日")


def test_a_1985_date_is_showa():
    # The slot import's copy printed 「平成-3年」 for this day.
    assert jp.format_wareki(date(1985, 6, 1)) == "昭和60年6月1日"


def test_an_out_of_era_year_is_refused_with_the_right_spelling():
    # 「平成35年」 is 2023 on a form printed before the change of era: refused, and the message
    # gives the date in the era it belongs to, so one correction finishes the field.
    with pytest.raises(jp.InputError) as refused:
        jp.parse_date("平成35年1月10日")
    assert "平成35年1月10日はありません" in refused.value.message
    assert "平成は2019年4月30日まで" in refused.value.message
    assert "2023年1月10日でしたら「令和5年1月10日」" in refused.value.message


def test_zero_and_impossible_era_years_are_refused():
    for text in ("令和0年1月1日", "R1.4.1", "平成31年2月29日"):
        with pytest.raises(jp.InputError):
            jp.parse_date(text)


# --- 和暦 and dates: what the application form pinned --------------------------------------------


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
    assert jp.parse_date(raw) == day


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
    with pytest.raises(jp.InputError, match=message):
        jp.parse_date(raw)


def test_wareki_display():
    assert jp.format_wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert jp.format_wareki(date(2026, 11, 23)) == "令和8年11月23日"


def test_date_is_stored_as_iso():
    assert jp.normalise_date("令和8年4月1日") == "2026-04-01"


# --- 和暦 and dates: what the slot import pinned --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026/12/01",
        "2026-12-01",
        "令和8年12月1日",
        "R8.12.1",
        "r8/12/1",
        "２０２６／１２／０１",
        "2026年12月1日(火)",
        "2026年12月1日（火）",
        "20261201",
        "令和８年１２月１日",
    ],
)
def test_every_slot_file_date_form_reads_the_same_day(text):
    assert jp.parse_date(text) == date(2026, 12, 1)


# --- what the garbage import's date regex read ----------------------------------------------------


@pytest.mark.parametrize("text", ["2024/12/29", "2024-12-29", "2024.12.29", "2024年12月29日", " 2024/12/29 "])
def test_garbage_calendar_dates(text):
    assert jp.parse_date(text) == date(2024, 12, 29)


# --- phone ----------------------------------------------------------------------------------------

phone_digits = st.from_regex(r"0[1-9][0-9]{8,9}", fullmatch=True)


@given(phone_digits, st.sampled_from(DASH_KINDS), st.booleans(), st.sampled_from(["", "+81", "81", "+81(0)"]))
def test_phone_round_trips_through_every_way_of_writing_it(digits, dash, wide, country):
    # given: the number as people write it
    text = jp.format_phone(digits).replace("-", dash)
    if country:
        text = f"{country} {text[1:]}"
    if wide:
        text = full_width(text)
    # when / then
    assert jp.normalise_phone(text) == digits


@given(phone_digits)
def test_phone_display_reads_back(digits):
    assert jp.normalise_phone(jp.format_phone(digits)) == digits


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("０９０ー１２３４ー５６７８", "09012345678"),
        ("(0263) 12-3456", "0263123456"),
        ("+81 90-1234-5678", "09012345678"),
        ("(０３)１２３４-５６７８", "0312345678"),
        ("81-90-1234-5678", "09012345678"),
        ("+81 (0)3-1234-5678", "0312345678"),
        ("０９０―１２３４‐５６７８", "09012345678"),
    ],
)
def test_phone_normalised_to_digits(raw, stored):
    assert jp.normalise_phone(raw) == stored


@pytest.mark.parametrize("raw", ["12345", "090-1234-56789", "abc", "1901234567", "03-1234-5678 自宅"])
def test_phone_invalid(raw):
    with pytest.raises(jp.InputError, match="電話番号は 0 から始まる"):
        jp.normalise_phone(raw)


def test_phone_display_format():
    assert jp.format_phone("09012345678") == "090-1234-5678"
    assert jp.format_phone("0312345678") == "03-1234-5678"
    assert jp.format_phone("0263123456") == "0263-12-3456"


# --- postal code ----------------------------------------------------------------------------------


@given(
    st.from_regex(r"[0-9]{7}", fullmatch=True),
    st.sampled_from(["", *DASH_KINDS]),
    st.booleans(),
    st.sampled_from(["", "〒", "〒 "]),
)
def test_postal_code_round_trips(digits, dash, wide, mark):
    # given
    text = f"{mark}{digits[:3]}{dash}{digits[3:]}"
    if wide:
        text = full_width(text)
    # when
    code = jp.parse_postal_code(text)
    # then
    assert code == f"{digits[:3]}-{digits[3:]}"
    assert jp.parse_postal_code(code) == code


@pytest.mark.parametrize("raw", ["1000001", "100-0001", "〒１００－０００１", "１００ー０００１"])
def test_postal_code_hyphen_optional_full_width(raw):
    assert jp.normalise_postal_code(raw) == "100-0001"


def test_postal_code_wrong_length():
    with pytest.raises(jp.InputError, match="7 桁の数字"):
        jp.normalise_postal_code("12345")


def test_postal_code_unknown():
    with pytest.raises(jp.InputError, match="見つかりません"):
        jp.normalise_postal_code("999-9999")


def test_postal_lookup_offline_dataset():
    found = jp.lookup_postal_code("１００－０００１")
    assert found is not None
    assert found.address == "東京都千代田区千代田"


# --- widths and kana ------------------------------------------------------------------------------


@given(st.text(alphabet=HIRAGANA, min_size=1, max_size=20))
def test_kana_scripts_and_widths_fold_into_each_other(hiragana):
    # given
    katakana = jaconv.hira2kata(hiragana)
    half_width = jaconv.z2h(katakana, kana=True, ascii=False, digit=False)
    # then
    assert jp.to_katakana(hiragana) == katakana
    assert jp.to_katakana(half_width) == katakana
    assert jp.to_hiragana(katakana) == hiragana
    assert jp.to_hiragana(half_width) == hiragana
    assert jp.normalise_furigana(half_width) == katakana


@given(st.text(alphabet="abcxyzABCXYZ0123456789", min_size=1, max_size=20))
def test_full_width_letters_and_digits_become_half_width(text):
    assert jp.nfkc(full_width(text)) == text
    assert jp.squash(full_width(f" {text} {text} ")) == text + text


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("  山田　花子 ", "山田 花子"), ("ＡＢＣ１２３", "ABC123"), ("ｶﾀｶﾅ", "カタカナ")],
)
def test_short_text_is_nfkc_normalised(raw, stored):
    assert jp.normalise_text(raw) == stored


def test_long_text_keeps_line_breaks():
    assert jp.normalise_text("１行目 \r\n２行目\n", multiline=True) == "1行目\n2行目"


@pytest.mark.parametrize(
    ("raw", "stored"), [("１２３", "123"), ("1,234", "1234"), ("３．５", "3.5"), ("－２", "-2")]
)
def test_number_accepts_full_width(raw, stored):
    assert jp.normalise_number(raw) == stored


@pytest.mark.parametrize("raw", ["十二", "1e", "abc", "inf"])
def test_number_rejects_words(raw):
    with pytest.raises(jp.InputError, match="数字で入力してください"):
        jp.normalise_number(raw)


def test_email_full_width_and_domain_case():
    assert jp.normalise_email("ｔａｒｏ＠Example.JP") == "taro@example.jp"


@pytest.mark.parametrize("raw", ["taro", "taro@", "@example.jp", "ta ro@@example.jp"])
def test_email_invalid(raw):
    with pytest.raises(jp.InputError, match="メールアドレスの形式"):
        jp.normalise_email(raw)


def test_address_dashes_between_digits_only():
    assert jp.normalise_address("みどり町本町１ー２ー３　コーポ１０１") == "みどり町本町1-2-3 コーポ101"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("やまだ　はなこ", "ヤマダ ハナコ"),
        ("ﾔﾏﾀﾞ ﾊﾅｺ", "ヤマダ ハナコ"),
        ("サトウ　イチロー", "サトウ イチロー"),
        ("さとう いちろ－", "サトウ イチロー"),
    ],
)
def test_furigana_to_katakana(raw, stored):
    assert jp.normalise_furigana(raw) == stored


def test_furigana_rejects_kanji():
    with pytest.raises(jp.InputError, match="カタカナ"):
        jp.normalise_furigana("山田")


def test_kana_of_a_phone_booking():
    # What the slot import's copy pinned for phone bookings.
    assert jp.to_katakana("やまだ　はなこ") == "ヤマダ ハナコ"
    assert jp.to_katakana("ﾔﾏﾀﾞ") == "ヤマダ"


# --- decoding uploaded CSV text (municipalities.files) ----------------------------------------


@given(st.text(alphabet=HIRAGANA + "漢字東西南北髙﨑①,\n0123abc ", max_size=40))
def test_uploaded_text_reads_in_each_encoding_excel_writes(text):
    # Half-width kana are left out: see the next test and decode_text's docstring.
    for data in (text.encode("utf-8"), "\ufeff".encode() + text.encode("utf-8"), text.encode("cp932")):
        assert files.decode_text(data) == text


def test_half_width_kana_in_shift_jis_is_not_mistaken_for_euc_jp():
    assert files.decode_text("ｶﾀｶﾅ,1".encode("cp932")) == "ｶﾀｶﾅ,1"


def test_text_in_neither_encoding_is_refused():
    with pytest.raises(files.TextDecodeError, match="文字コード"):
        files.decode_text(b"\x80\x81\xff")
