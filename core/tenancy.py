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


def get_or_create_merchant(session: Session, code: str, name: str | None = None) -> Merchant:
    if not _CODE.match(code):
        raise MerchantError(
            f"merchant code {code!r} must be 1-64 lower-case letters, digits, '-' or '_'"
        )
    merchant = session.scalar(select(Merchant).where(Merchant.code == code))
    if merchant is None:
        merchant = Merchant(code=code, name=name or code)
        session.add(merchant)
        session.flush()
    return merchant
