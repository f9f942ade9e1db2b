"""The merchant's fee on a payment. Pure and exact: integer minor units, the rate in
basis points (100 = 1%), rounded half-up to the minor unit (the cent)."""

from __future__ import annotations

DEFAULT_BP = 100  # 1%


def fee_minor(amount_minor: int, rate_bp: int = DEFAULT_BP) -> int:
    """`rate_bp` basis points of `amount_minor`, half-up: 1% of 0.50 is 0.005 -> 0.01,
    of 0.49 is 0.0049 -> 0.00. A negative amount (a refund) mirrors the positive one."""
    if rate_bp < 0 or rate_bp > 10_000:
        raise ValueError(f"a fee rate of {rate_bp} basis points is not between 0 and 10000")
    sign = -1 if amount_minor < 0 else 1
    whole, rest = divmod(abs(amount_minor) * rate_bp, 10_000)
    return sign * (whole + (1 if rest * 2 >= 10_000 else 0))


def month_bounds(month: str) -> tuple[int, int]:
    """'2026-11' -> (2026, 11); anything else is refused with a message."""
    import re

    found = re.fullmatch(r"([0-9]{4})-([0-9]{2})", month)
    if not found or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= 2199:
        raise ValueError(f"{month[:20]!r} is not a month (YYYY-MM, e.g. 2026-11)")
    return int(found.group(1)), int(found.group(2))
