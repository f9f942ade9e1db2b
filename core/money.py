"""Money: Decimal amounts and integer minor units, never float.

Rounding happens only where a function says so, always ROUND_HALF_UP.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision

from core.errors import KvitsError

__all__ = [
    "AmountError",
    "minor_unit",
    "to_minor",
    "from_minor",
    "parse_amount",
    "round_money",
    "format_minor",
]


# ISO 20022 amounts have at most 18 digits (totalDigits); so do the BigInteger minor units
MAX_DIGITS = 18
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class AmountError(KvitsError):
    """An amount that cannot be a money amount in its currency."""


@lru_cache(maxsize=512)
def minor_unit(currency: str) -> int:
    """Number of decimals of an ISO 4217 currency (EUR 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency.upper()))


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def parse_amount(text: str, currency: str) -> Decimal:
    """Parse a decimal amount exactly; refuse digits beyond the currency's minor unit.

    Trailing zeros are fine ("12.3400000" is 12.34 in EUR); a non-zero digit past the
    minor unit ("10.005" in EUR) is refused, never rounded.
    """
    raw = text.strip()
    if not _PLAIN.fullmatch(raw):
        # Decimal() alone would take "1_000", "1e5", "NaN" and non-ASCII digits
        raise AmountError(f"{text!r} is not a plain non-negative decimal amount")
    whole, _, fraction = raw.partition(".")
    if len(whole.lstrip("0")) + len(fraction.rstrip("0")) > MAX_DIGITS:
        raise AmountError(f"{text!r} has more than {MAX_DIGITS} digits")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"{text!r} is not a decimal amount") from None
    quantum = _quantum(currency)
    exact = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if exact != value:
        raise AmountError(
            f"{text!r} has more decimals than {currency} allows ({minor_unit(currency)})"
        )
    return exact


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion of a Decimal amount to integer minor units; refuses fractions
    and amounts beyond 18 digits (what ISO 20022 and a BigInteger column hold)."""
    if not amount.is_finite():
        raise AmountError(f"{amount} is not an amount")
    scaled = amount.scaleb(minor_unit(currency))
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{amount} is not a whole number of {currency} minor units")
    minor = int(scaled)
    if abs(minor) >= 10**MAX_DIGITS:
        raise AmountError(f"{amount} {currency} has more than {MAX_DIGITS} digits")
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_unit(currency)).quantize(_quantum(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (the documented rounding points)."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def format_minor(minor: int, currency: str) -> str:
    """Plain machine-neutral text, e.g. '1 234.50 EUR' -> '1234.50 EUR'."""
    return f"{from_minor(minor, currency)} {currency}"
