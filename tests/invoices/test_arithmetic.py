from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoices.arithmetic import InvoiceMathError, LineInput, compute_totals, line_net


def test_line_net_rounds_half_up_after_discount() -> None:
    line = LineInput("x", D("3"), D("0.335"), D("21"), D("10"))
    # 3 x 0.335 = 1.005; less 10% = 0.9045 -> 0.90
    assert line_net(line, "EUR") == D("0.90")


def test_vat_is_rounded_per_rate_not_per_line() -> None:
    lines = [LineInput(f"item {i}", D(1), D("0.05"), D(21)) for i in range(100)]
    totals = compute_totals(lines, "EUR")
    assert totals.net == D("5.00")
    assert totals.vat == D("1.05")  # 21% of 5.00; per line it would be 100 x 0.01 = 1.00
    assert totals.total == D("6.05")
    assert all(lt.vat == D("0.01") for lt in totals.lines)


def test_several_rates_break_down() -> None:
    totals = compute_totals(
        [LineInput("a", D(2), D("272.36"), D(21)), LineInput("b", D(1), D("10"), D(12)),
         LineInput("c", D(1), D("99.99"), D(0))],
        "EUR",
    )
    assert [(b.rate, b.taxable, b.vat) for b in totals.vat_breakdown] == [
        (D(0), D("99.99"), D("0.00")), (D(12), D("10.00"), D("1.20")), (D(21), D("544.72"), D("114.39")),
    ]
    assert totals.net == D("654.71")
    assert totals.total == D("770.30")


def test_zero_decimal_currency() -> None:
    totals = compute_totals([LineInput("yen", D(3), D("333.5"), D(10))], "JPY")
    assert totals.net == D("1001")  # 1000.5 rounds half up
    assert totals.vat == D("100")


@pytest.mark.parametrize(
    "line, message",
    [
        (LineInput("q", D(0), D(1)), "quantity"),
        (LineInput("p", D(1), D(-1)), "unit price"),
        (LineInput("v", D(1), D(1), D(101)), "VAT"),
        (LineInput("d", D(1), D(1), D(0), D(-5)), "discount"),
    ],
)
def test_bad_lines_are_refused(line: LineInput, message: str) -> None:
    with pytest.raises(InvoiceMathError, match=message):
        compute_totals([line], "EUR")


def test_no_lines() -> None:
    with pytest.raises(InvoiceMathError):
        compute_totals([], "EUR")


money = st.decimals(min_value=D("0.00"), max_value=D("99999.99"), places=2)
rates = st.sampled_from([D(0), D(5), D(12), D(21), D("9.5")])


@given(st.lists(st.tuples(st.integers(1, 50), money, rates), min_size=1, max_size=20))
def test_totals_are_exact_cents_and_add_up(items: list[tuple[int, D, D]]) -> None:
    lines = [LineInput("x", D(q), p, r) for q, p, r in items]
    totals = compute_totals(lines, "EUR")
    for value in (totals.net, totals.vat, totals.total):
        assert value == value.quantize(D("0.01"))
    assert totals.net == sum(lt.net for lt in totals.lines)
    assert totals.total == totals.net + sum(b.vat for b in totals.vat_breakdown)
    # per-rate rounding is never further than half a cent per rate from the exact VAT
    exact = sum(lt.net * r / 100 for lt, (_, _, r) in zip(totals.lines, items, strict=True))
    assert abs(totals.vat - exact) <= D("0.005") * len(totals.vat_breakdown)
