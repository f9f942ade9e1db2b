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
    # captured beyond what its invoice had open (paid otherwise in the same moment): the
    # payer's money, not the invoice's; a refund gives this part back first
    unapplied_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    authorised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # card payments: the acquirer's payment, the card as the acquirer shows it, and the
    # payout (daily batch) its capture belongs to
    acquirer_id: Mapped[str | None] = mapped_column(String(80), index=True)
    card: Mapped[str | None] = mapped_column(String(40))
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payout_id: Mapped[str | None] = mapped_column(String(80), index=True)
    # who paid: from the statement's credit (bank) or the refund request, for bank refunds
    payer_iban: Mapped[str | None] = mapped_column(String(34))
    payer_name: Mapped[str | None] = mapped_column(String(140))


REFUND_STATES = ("pending", "awaiting_sca", "succeeded", "failed")


class Refund(Base):
    """Money given back on a payment (`re_…` in the API): through the acquirer for a
    card, as an outgoing credit transfer from the merchant's account for a bank payment.
    A pending or awaiting refund already counts against what can still be refunded."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("method IN ('bank', 'card')", name="method"),
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in REFUND_STATES) + ")", name="state"),
        UniqueConstraint("merchant_id", "end_to_end_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payer_payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    method: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500), default="")
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    payee_iban: Mapped[str | None] = mapped_column(String(34))
    payee_name: Mapped[str | None] = mapped_column(String(140))
    acquirer_refund_id: Mapped[str | None] = mapped_column(String(80))
    payout_id: Mapped[str | None] = mapped_column(String(80), index=True)  # the card payout it is netted in
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("psd2_payment_attempts.id"))
    sca_url: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeeEntry(Base):
    """The merchant's fee: one row per payment and kind, whatever is retried."""

    __tablename__ = "fee_ledger"
    __table_args__ = (
        # the fee and its reversal once per payment; a refund's share once per refund
        Index("uq_fee_ledger_payment_kind", "payment_id", "kind", unique=True,
              sqlite_where=text("refund_id IS NULL"), postgresql_where=text("refund_id IS NULL")),
        Index("uq_fee_ledger_refund", "refund_id", unique=True, sqlite_where=text("refund_id IS NOT NULL"),
              postgresql_where=text("refund_id IS NOT NULL")),
        CheckConstraint("kind IN ('fee', 'refund', 'reversal')", name="kind"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payer_payments.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    kind: Mapped[str] = mapped_column(String(8))
    base_minor: Mapped[int] = mapped_column(BigInteger)  # the payment's amount the fee is on
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    month: Mapped[str] = mapped_column(String(7), index=True)  # 2026-11: the fee statement it belongs to
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
