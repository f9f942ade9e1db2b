"""ISO 11649 RF creditor references for invoices (checksums by python-stdnum)."""

from __future__ import annotations

import hashlib
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
    """The invoice's RF: the merchant id behind its own length, then the number's letters
    and digits - a prefix-free code, so merchant 1's "12345" (1 1 12345) and merchant
    11's "2345" (2 11 2345) never share a reference. A number too long for the 21
    characters is replaced by a hash of it, so two long numbers of one merchant do not
    collide either."""
    prefix = f"{len(str(merchant_id))}{merchant_id}"
    compact = _BODY.sub("", number.upper())
    if len(prefix) + len(compact) > 21:
        digest = int.from_bytes(hashlib.sha256(compact.encode()).digest()[:12], "big")
        compact = _base36(digest)[: 21 - len(prefix)]
    return rf_from_body(prefix + compact)


def _base36(value: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out or "0"


def compact_rf(value: str) -> str:
    """Validated compact form; raises stdnum.exceptions.ValidationError."""
    return str(iso11649.validate(value))
