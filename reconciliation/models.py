"""ORM tables of imported statements, their transactions and what they paid.

Idempotency lives in the database: a statement is unique per merchant by its content
fingerprint, a bank transaction by its identity, and a payment by (transaction,
invoice, kind) - re-importing cannot pay twice even if two imports race.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.ids import PK


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("merchant_id", "fingerprint"),
        CheckConstraint(
            "balance_check IN ('ok','mismatch','not_applicable')", name="balance_check"
        ),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # camt.053 | camt.052 | camt.054
    version: Mapped[str] = mapped_column(String(8))
    message_id: Mapped[str | None] = mapped_column(String(140))
    statement_id: Mapped[str | None] = mapped_column(String(140))
    electronic_sequence: Mapped[int | None] = mapped_column(BigInteger)
    legal_sequence: Mapped[int | None] = mapped_column(BigInteger)
    created_at_bank: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    from_datetime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    to_datetime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    account: Mapped[str] = mapped_column(String(64), index=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    servicer_bic: Mapped[str | None] = mapped_column(String(11))
    opening_minor: Mapped[int | None] = mapped_column(BigInteger)
    closing_minor: Mapped[int | None] = mapped_column(BigInteger)
    balance_check: Mapped[str] = mapped_column(String(16))
    balance_message: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    transaction_count: Mapped[int] = mapped_column(Integer, default=0)
    new_transaction_count: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BankTransaction(Base):
    """One transaction of one entry, as the bank booked it. Stored once per identity."""

    __tablename__ = "bank_transactions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "identity"),
        CheckConstraint("amount_minor >= 0", name="amount"),
        CheckConstraint("credit_debit IN ('CRDT','DBIT')", name="credit_debit"),
        CheckConstraint(
            "match_status IN ('applied','suggested','unmatched','not_matched','reversed',"
            "'reversal','rejected','card_payout')",
            name="match_status",
        ),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    identity: Mapped[str] = mapped_column(String(64))
    entry_index: Mapped[int] = mapped_column(Integer)
    tx_index: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    credit_debit: Mapped[str] = mapped_column(String(4))
    reversal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8))
    booking_date: Mapped[date | None] = mapped_column(Date, index=True)
    value_date: Mapped[date | None] = mapped_column(Date)
    account_servicer_reference: Mapped[str | None] = mapped_column(String(140))
    end_to_end_id: Mapped[str | None] = mapped_column(String(140), index=True)
    counterparty_name: Mapped[str | None] = mapped_column(String(200))
    counterparty_iban: Mapped[str | None] = mapped_column(String(34))
    creditor_references: Mapped[list[str]] = mapped_column(JSON, default=list)
    remittance: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    match_status: Mapped[str] = mapped_column(String(16), default="not_matched")
    confidence: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    apply_round: Mapped[int] = mapped_column(Integer, default=0)
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("bank_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Payment(Base):
    """Money applied to an invoice from a bank transaction; a reversal is negative."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("bank_transaction_id", "invoice_id", "kind", "round"),
        CheckConstraint("amount_minor <> 0", name="amount"),
        CheckConstraint("kind IN ('payment','reversal')", name="kind"),
        CheckConstraint("source IN ('auto','review','manual')", name="source"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    bank_transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transactions.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16), default="payment")
    # a transaction applied, undone by a person and applied again gets a new round
    round: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(8), default="auto")
    confidence: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CustomerCredit(Base):
    """Overpayments kept for the customer (positive) and their reversal (negative)."""

    __tablename__ = "customer_credits"
    __table_args__ = (
        UniqueConstraint("bank_transaction_id", "kind", "round"),
        CheckConstraint("amount_minor <> 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    bank_transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transactions.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16), default="overpayment")
    round: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Suggestion(Base):
    """A match the engine was not sure of, waiting for a person."""

    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("bank_transaction_id"),
        CheckConstraint("status IN ('open','accepted','rejected','void')", name="status"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    bank_transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transactions.id"))
    confidence: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PayerVerdict(Base):
    """What a person said about a payer and a customer: this payer name pays the
    customer's invoices (confirmed, from accepting or assigning a payment), or this payer
    IBAN or name is not the customer's (rejected, from rejecting a suggestion). The
    matcher reads them as aliases and penalties (docs/matching.md, "Learning")."""

    __tablename__ = "payer_verdicts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "customer_id", "kind", "value", "verdict"),
        CheckConstraint("kind IN ('name','iban')", name="kind"),
        CheckConstraint("verdict IN ('confirmed','rejected')", name="verdict"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(12))
    bank_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("bank_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportJob(Base):
    """A statement file uploaded through the API and imported in the background: its
    state, how far the import has read, and its result or error."""

    __tablename__ = "import_jobs"
    __table_args__ = (CheckConstraint("state IN ('queued','running','done','failed')", name="state"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    file_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)
    progress_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # a running import says it is alive; one that stops saying so lost its worker and is resumed
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class IdempotencyKey(Base):
    """An API request made with an Idempotency-Key: the same key and body get the same
    answer again; the same key with another body is refused."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


FEED_STATES = ("awaiting_sca", "active", "failed", "expired")


class BankFeed(Base):
    """A merchant's account whose statements kvits fetches from its bank through PSD2
    account information, on a schedule, under a consent the merchant gave with SCA."""

    __tablename__ = "bank_feeds"
    __table_args__ = (
        UniqueConstraint("merchant_id", "iban"),
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in FEED_STATES) + ")", name="state"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    iban: Mapped[str] = mapped_column(String(34))
    bank_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="awaiting_sca")
    # the random key of the address the merchant's bank sends them back to
    key: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[str] = mapped_column(String(200))
    sca_url: Mapped[str | None] = mapped_column(Text)
    oauth_state: Mapped[str | None] = mapped_column(String(200))
    oauth_verifier: Mapped[str | None] = mapped_column(String(200))
    valid_until: Mapped[date] = mapped_column(Date)
    account_id: Mapped[str | None] = mapped_column(String(200))
    # statements are complete up to this day (the next fetch starts a little before it)
    fetched_through: Mapped[date | None] = mapped_column(Date)
    last_fetch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
