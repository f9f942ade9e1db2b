"""Invoice arithmetic as EN 16931 does it. Pure: Decimal in, Decimal out.

Rules (rounding ROUND_HALF_UP to the currency's minor unit, at these points only):
- line net (BT-131) = round(quantity x unit price x (1 - discount% / 100));
- invoice net (BT-106) = sum of line nets (already rounded, so exact);
- VAT is computed per VAT rate on the sum of the line nets at that rate (BG-23:
  BT-116 taxable amount, BT-117 = round(taxable x rate / 100)), not per line, so a
  hundred lines of 0.05 at 21% give 1.05 VAT, not 100 x 0.01;
- total (BT-112) = net + VAT.
Each line's own VAT is also given for display; it is never summed into the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.money import round_money

HUNDRED = Decimal(100)


class InvoiceMathError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal = Decimal(0)  # percent, e.g. 21
    discount_percent: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class LineTotals:
    net: Decimal
    vat: Decimal  # informational, per line


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    rate: Decimal
    taxable: Decimal
    vat: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    lines: tuple[LineTotals, ...]
    vat_breakdown: tuple[VatBreakdown, ...]
    net: Decimal
    vat: Decimal
    total: Decimal


def _check(line: LineInput) -> None:
    if not line.description.strip():
        raise InvoiceMathError("a line needs a description")
    if line.quantity <= 0:
        raise InvoiceMathError(f"line '{line.description}': quantity must be positive")
    if line.unit_price < 0:
        raise InvoiceMathError(f"line '{line.description}': unit price must not be negative")
    if not Decimal(0) <= line.vat_rate <= HUNDRED:
        raise InvoiceMathError(f"line '{line.description}': VAT rate must be 0..100")
    if not Decimal(0) <= line.discount_percent <= HUNDRED:
        raise InvoiceMathError(f"line '{line.description}': discount must be 0..100 %")


def line_net(line: LineInput, currency: str) -> Decimal:
    _check(line)
    gross = line.quantity * line.unit_price
    return round_money(gross * (HUNDRED - line.discount_percent) / HUNDRED, currency)


def compute_totals(lines: Sequence[LineInput], currency: str) -> InvoiceTotals:
    if not lines:
        raise InvoiceMathError("an invoice needs at least one line")
    line_totals: list[LineTotals] = []
    taxable: dict[Decimal, Decimal] = {}
    for line in lines:
        net = line_net(line, currency)
        rate = line.vat_rate.normalize()
        line_totals.append(LineTotals(net, round_money(net * rate / HUNDRED, currency)))
        taxable[rate] = taxable.get(rate, Decimal(0)) + net
    breakdown = tuple(
        VatBreakdown(rate, base, round_money(base * rate / HUNDRED, currency))
        for rate, base in sorted(taxable.items())
    )
    net_total = sum((lt.net for lt in line_totals), Decimal(0))
    vat_total = sum((b.vat for b in breakdown), Decimal(0))
    return InvoiceTotals(tuple(line_totals), breakdown, net_total, vat_total, net_total + vat_total)
