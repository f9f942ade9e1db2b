"""Finding or creating the merchant a command works for."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import KvitsError
from core.models import Merchant

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class MerchantError(KvitsError):
    pass


def _checked(code: str) -> str:
    if not _CODE.match(code):
        raise MerchantError(
            f"merchant code {code!r} must be 1-64 lower-case letters, digits, '-' or '_'"
        )
    return code


def find_merchant(session: Session, code: str) -> Merchant:
    """The merchant `code`, or an error that lists the ones there are (a typo in
    `-m` must not look like an empty merchant)."""
    merchant = session.scalar(select(Merchant).where(Merchant.code == _checked(code)))
    if merchant is None:
        known = list(session.scalars(select(Merchant.code).order_by(Merchant.code).limit(20)))
        there = f"merchants here: {', '.join(known)}" if known else "no merchants yet"
        raise MerchantError(f"no merchant {code!r} ({there}); importing customers, invoices or a "
                            "statement for a new code creates it")
    return merchant


def get_or_create_merchant(session: Session, code: str, name: str | None = None) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.code == _checked(code)))
    if merchant is None:
        merchant = Merchant(code=code, name=name or code)
        session.add(merchant)
        session.flush()
    return merchant


def set_iban(session: Session, merchant: Merchant, iban: str) -> None:
    """The account payers' money goes to. One merchant's only: two merchants on one account
    would see each other's payments in its statements, and a card payout for both in one
    credit that neither could recognise."""
    other = session.scalar(select(Merchant.code).where(Merchant.iban == iban, Merchant.id != merchant.id))
    if other is not None:
        raise MerchantError(f"IBAN {iban} is merchant {other!r}'s account already; each merchant needs its own")
    merchant.iban = iban
