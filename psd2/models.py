"""ORM table of payment attempts at banks: the record that makes one attempt send the
payer to exactly one SCA (see `psd2.attempts`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import core.models  # noqa: F401  (the merchants table the foreign key points to)
from core.db import Base, utcnow
from core.ids import PK

STATES = ("new", "initiating", "uncertain", "awaiting_sca", "pending", "accepted", "completed",
          "rejected", "cancelled", "failed", "timed_out")


class PaymentAttempt(Base):
    __tablename__ = "psd2_payment_attempts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "end_to_end_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")", name="state"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    # kvits' id of the attempt, sent as endToEndIdentification: the statement brings it back
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    bank_id: Mapped[str] = mapped_column(String(64))
    product: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    creditor_iban: Mapped[str] = mapped_column(String(34))
    creditor_name: Mapped[str] = mapped_column(String(70))
    creditor_reference: Mapped[str | None] = mapped_column(String(35))
    unstructured: Mapped[str | None] = mapped_column(String(140))
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    requested_execution_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="new")
    bank_payment_id: Mapped[str | None] = mapped_column(String(200))
    bank_status: Mapped[str | None] = mapped_column(String(8))
    sca_redirect: Mapped[str | None] = mapped_column(Text)
    authorisation_id: Mapped[str | None] = mapped_column(String(200))
    oauth_state: Mapped[str | None] = mapped_column(String(64))
    oauth_verifier: Mapped[str | None] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(Text)
    # who holds the right to POST now: only the holder of this token may store the
    # answer and hand out its SCA address (a takeover after a stall changes it)
    claim: Mapped[str | None] = mapped_column(String(32))
    # how many initiations may have reached the bank without kvits learning the answer:
    # each left an orphan payment nobody can authorise, which the bank rejects on timeout
    orphaned: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
