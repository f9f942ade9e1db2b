"""Tables of pay links, payers' payments and the fee ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

import invoices.models  # noqa: F401  (the invoices table the foreign keys point to)
import psd2.models  # noqa: F401
from core.db import Base, utcnow
from core.ids import PK
from paylinks.states import ACTIVE, State

_ACTIVE_SQL = "state IN (" + ", ".join(f"'{s}'" for s in sorted(ACTIVE)) + ")"


class PayLink(Base):
    """`/pay/{token}`: the token itself is never stored, only its SHA-256."""

    __tablename__ = "pay_links"
    __table_args__ = (
        # one live link per invoice: a new one revokes the old in the same transaction
        Index("uq_pay_links_live", "invoice_id", unique=True, sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PayerPayment(Base):
    """A payer's payment of an invoice through its pay link (`pay_…` in the API)."""

    __tablename__ = "payer_payments"
    __table_args__ = (
        UniqueConstraint("merchant_id", "end_to_end_id"),
        # two clicks, two tabs, twenty requests at once: one payment in flight per invoice
        Index("uq_payer_payments_active", "invoice_id", unique=True, sqlite_where=text(_ACTIVE_SQL),
              postgresql_where=text(_ACTIVE_SQL)),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refunded"),
        CheckConstraint("method IN ('bank', 'card')", name="method"),
        CheckConstraint("state IN (" + ", ".join(f"'{s.value}'" for s in State) + ")", name="state"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    pay_link_id: Mapped[int | None] = mapped_column(ForeignKey("pay_links.id"))
    method: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(20), default=State.CREATED.value)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # sent as endToEndIdentification: the merchant's statement brings it back
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    bank_id: Mapped[str | None] = mapped_column(String(64))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("psd2_payment_attempts.id"))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    authorised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeeEntry(Base):
    """The merchant's fee: one row per payment and kind, whatever is retried."""

    __tablename__ = "fee_ledger"
    __table_args__ = (UniqueConstraint("payment_id", "kind"),
                      CheckConstraint("kind IN ('fee', 'refund', 'reversal')", name="kind"))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payer_payments.id"))
    kind: Mapped[str] = mapped_column(String(8))
    base_minor: Mapped[int] = mapped_column(BigInteger)  # the payment's amount the fee is on
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    month: Mapped[str] = mapped_column(String(7), index=True)  # 2026-11: the fee statement it belongs to
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
