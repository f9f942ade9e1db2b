"""Pay link tokens: 256 random bits, shown once, kept only as their SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import KvitsError
from invoices.models import Invoice
from invoices.status import OPEN, Status
from paylinks.models import PayLink

TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what token_urlsafe(32) gives


class PayLinkError(KvitsError):
    pass


def pay_url(public_url: str, token: str, page: str = "") -> str:
    """The link as payers (and, with page="/return", banks) reach it."""
    return f"{public_url.rstrip('/')}/pay/{token}{page}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue(session: Session, invoice: Invoice, now: datetime, days: int) -> str:
    """A new link for the invoice; the one it had stops working. Returns the token (the
    only time it exists outside the payer's hands)."""
    if Status(invoice.status) not in OPEN:
        raise PayLinkError(f"invoice {invoice.number} is {invoice.status}: there is nothing to pay")
    session.execute(update(PayLink).where(PayLink.invoice_id == invoice.id, PayLink.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PayLink(merchant_id=invoice.merchant_id, invoice_id=invoice.id, token_hash=token_hash(token),
                        created_at=now, expires_at=now + timedelta(days=days)))
    session.flush()
    return token


@dataclass(frozen=True)
class Found:
    link: PayLink
    invoice: Invoice
    live: bool  # not replaced and not expired
    why_not: str | None  # "replaced" or "expired" when not live


def find(session: Session, token: str, now: datetime) -> Found | None:
    """The link and its invoice, or None for a token that was never given out (a guess,
    a typo, a tampered link: all look the same to the caller)."""
    if not _TOKEN.fullmatch(token):
        return None
    link = session.scalar(select(PayLink).where(PayLink.token_hash == token_hash(token)))
    if link is None:
        return None
    invoice = session.get(Invoice, link.invoice_id)
    assert invoice is not None
    expires = link.expires_at if link.expires_at.tzinfo else link.expires_at.replace(tzinfo=now.tzinfo)
    if link.revoked_at is not None:
        return Found(link, invoice, False, "replaced")
    if expires <= now:
        return Found(link, invoice, False, "expired")
    return Found(link, invoice, True, None)


def close(session: Session, invoice: Invoice, now: datetime) -> list[int]:
    """The invoice was cancelled: its link is revoked; returns the payments still in
    flight, for the caller to cancel at their banks once this is committed."""
    from paylinks.models import PayerPayment
    from paylinks.states import ACTIVE

    session.execute(update(PayLink).where(PayLink.invoice_id == invoice.id, PayLink.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    return list(session.scalars(select(PayerPayment.id).where(
        PayerPayment.invoice_id == invoice.id, PayerPayment.state.in_([a.value for a in ACTIVE]))))
