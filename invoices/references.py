"""ISO 11649 RF creditor references for invoices (checksums by python-stdnum)."""

from __future__ import annotations

import re

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

_BODY = re.compile(r"[^0-9A-Z]")


def rf_from_body(body: str) -> str:
    """RF + two check digits + body (1..21 alphanumerics), e.g. RF18539007547034."""
    clean = _BODY.sub("", body.upper())
    if not 1 <= len(clean) <= 21:
        raise ValueError(f"an RF reference body needs 1..21 letters or digits, got {body!r}")
    check = mod_97_10.calc_check_digits(clean + "RF")
    ref = f"RF{check}{clean}"
    iso11649.validate(ref)
    return ref


def rf_for_invoice(merchant_id: int, number: str) -> str:
    """The invoice's RF: its number's letters and digits, prefixed by the merchant so
    references of two merchants never collide. Long numbers keep their tail."""
    body = f"{merchant_id}{_BODY.sub('', number.upper())}"
    return rf_from_body(body[-21:])


def compact_rf(value: str) -> str:
    """Validated compact form; raises stdnum.exceptions.ValidationError."""
    return str(iso11649.validate(value))
