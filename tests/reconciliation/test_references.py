from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_97_10

from reconciliation.references import (
    compact_reference,
    find_rf_references,
    number_keys,
    strip_zeros,
    text_number_keys,
)


def keys_of(text: str) -> set[str]:
    return {k.key for k in text_number_keys(text)} | {k.stripped for k in text_number_keys(text)}


@pytest.mark.parametrize(
    "text",
    [
        "RF94 2026 1001",
        "rf94 2026 1001",
        "Ref: RF94 2026 1001 / thanks",
        "RF9420261001PAID",  # a glued word must not hide the reference
        "xxRF94-2026-1001",
        "Apmaksa RF 94 20 26 10 01",
    ],
)
def test_rf_found_despite_spacing_case_and_neighbours(text: str) -> None:
    assert find_rf_references(text) == ("RF9420261001",)


def test_rf_with_wrong_checksum_is_no_reference() -> None:
    assert find_rf_references("RF95 2026 1001") == ()
    assert find_rf_references("RF18539007547035") == ()


def test_shared_digit_groups_do_not_make_the_sibling_reference() -> None:
    assert "RF6720261002" not in find_rf_references("RF94 2026 1001")


def test_two_references_in_one_text() -> None:
    assert find_rf_references("RF18539007547034 and RF06INV1001") == ("RF18539007547034", "RF06INV1001")


@st.composite
def rf_references(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=21))
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


@given(
    ref=rf_references(),
    seps=st.lists(st.sampled_from(["", " ", "  ", "-", "\u00a0"]), min_size=25, max_size=25),
    prefix=st.sampled_from(["", "Ref ", "Apmaksa: ", "Invoice paid, "]),
    suffix=st.sampled_from(["", " thanks", ", 2026-11-03", " / 240.00 EUR"]),
    lower=st.booleans(),
)
def test_valid_rf_is_always_found_with_any_spacing(
    ref: str, seps: list[str], prefix: str, suffix: str, lower: bool
) -> None:
    spaced = "".join(ch + sep for ch, sep in zip(ref, seps, strict=False)).strip()
    text = prefix + (spaced.lower() if lower else spaced) + suffix
    assert ref in find_rf_references(text)


def test_compact_and_zero_stripping() -> None:
    assert compact_reference("lv-2026/0101") == "LV20260101"
    assert compact_reference("Счёт 12") == "SCHET12"
    assert strip_zeros("INV0012") == "INV12"
    assert strip_zeros("LV20260101") == "LV20260101"  # one digit run, no leading zero
    assert strip_zeros("000") == "0"


def test_number_keys() -> None:
    assert number_keys("LV-2026-0101").full == "LV20260101"
    # zeros are dropped per number part as written: LV 2026 0101 -> LV2026101
    assert number_keys("LV-2026-0101").variants == ("LV2026101", "20260101", "2026101")
    # the running number alone, as payers quote it ("Rēķins Nr. 46", "INV-0046")
    assert number_keys("INV-2026-0046").variants == ("INV202646", "20260046", "202646")
    assert number_keys("INV-2026-0046").short == ("46", "INV46")
    # ... unless it reads like another part of the number: every INV-2026-… has "2026"
    assert number_keys("INV-2026-02026").short == ()
    assert number_keys("INV-0012").variants == ("INV12", "0012", "12")
    assert number_keys("12").variants == ()


@pytest.mark.parametrize(
    "text",
    [
        "Rēķins Nr. LV-2026-0101",
        "rek lv 2026 0101",
        "LV2026/0101",
        "apmaksa par LV-2026-0101.",
    ],
)
def test_invoice_number_found_through_separators_and_words(text: str) -> None:
    assert "LV20260101" in keys_of(text)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        ("INV-2026-0046", "Invoice INV2026-46 thank you"),
        ("INV-2026-00002", "inv 2026 2"),
        ("INV-2026-00002", "INV-2026-0002"),
        ("LV-2026-0101", "lv 2026 101"),
        ("INV-2026-00012", "Rēķins Nr. 12"),
        ("INV-2026-00012", "rek12"),
        ("INV-2026-00012", "INV-0012"),
    ],
)
def test_leading_zeros_of_each_part_do_not_matter(number: str, text: str) -> None:
    """The payer drops (or adds) zeros in any part of the number, not only the first."""
    keys = number_keys(number)
    found = text_number_keys(text)
    text_keys = {k.stripped for k in found} | {k.key for k in found}
    isolated = {k.stripped for k in found if k.isolated} | {k.key for k in found if k.isolated}
    assert {keys.full, *keys.variants} & text_keys or set(keys.short) & isolated


def test_a_running_number_inside_a_longer_number_is_not_isolated() -> None:
    """'INV2026' and '2026' inside 'INV-2026-00012' are parts of that number: they must
    not match an invoice INV-2026-02026 by its running number."""
    found = {k.key: k.isolated for k in text_number_keys("INV-2026-00012")}
    assert found["INV2026"] is False and found["2026"] is False and found["INV202600012"] is True
    assert {k.key: k.isolated for k in text_number_keys("Rēķins Nr. 12")}["12"] is True


def test_short_number_after_invoice_word_is_marked() -> None:
    [key] = [k for k in text_number_keys("Счёт № 15") if k.key == "15"]
    assert key.after_word
    [bare] = [k for k in text_number_keys("paid 15 items") if k.key == "15"]
    assert not bare.after_word


def test_a_number_never_yields_a_prefix_of_its_last_group() -> None:
    assert "LV20261" not in keys_of("LV-2026-10")
    assert "LV202610" in keys_of("LV-2026-10")


def test_list_separators_do_not_glue_numbers() -> None:
    assert "1213" not in keys_of("Invoices 12, 13")


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("paid on 2026-11-03", "20261103"),
        ("paid on 03.11.2026", "03112026"),
        ("amount 1 185,80 EUR", "118580"),
        ("amount 240.00", "24000"),
        ("from LV87HABA0551012345678", "0551012345678"),
        ("from LV87 HABA 0551 0123 4567 8", "05510123"),
        ("call +371 2912 3456", "29123456"),
    ],
)
def test_dates_amounts_ibans_phones_are_no_numbers(text: str, absent: str) -> None:
    assert not any(absent in k for k in keys_of(text))
