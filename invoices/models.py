"""ORM tables of customers and invoices. Money in integer minor units."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, DecimalText, utcnow
from core.ids import PK

INVOICE_STATUSES = ("draft", "issued", "partially_paid", "paid", "cancelled")
LANGUAGES = ("lv", "et", "lt", "en", "ru")


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        CheckConstraint("language IN ('lv','et','lt','en','ru')", name="language"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(2), default="en")
    vat_number: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    ibans: Mapped[list[CustomerIban]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerIban.id"
    )


class CustomerIban(Base):
    """An account a customer pays from; seen before = evidence for matching."""

    __tablename__ = "customer_ibans"
    __table_args__ = (UniqueConstraint("merchant_id", "customer_id", "iban"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    iban: Mapped[str] = mapped_column(String(34), index=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | statement
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="ibans")


class InvoiceSeries(Base):
    """Where invoice numbers come from: one counter per merchant and pattern."""

    __tablename__ = "invoice_series"
    __table_args__ = (UniqueConstraint("merchant_id", "pattern", "year"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    pattern: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    next_seq: Mapped[int] = mapped_column(Integer, default=1)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("merchant_id", "number"),
        UniqueConstraint("merchant_id", "rf_reference"),
        CheckConstraint(
            "status IN ('draft','issued','partially_paid','paid','cancelled')", name="status"
        ),
        CheckConstraint("total_minor >= 0 AND net_minor >= 0 AND vat_minor >= 0", name="amounts"),
        CheckConstraint("paid_minor >= 0", name="paid"),
        CheckConstraint("paid_minor <= total_minor", name="paid_within_total"),
        CheckConstraint("due_date >= issue_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    number: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    rf_reference: Mapped[str | None] = mapped_column(String(25))
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # first opened by the payer through its pay link (the merchant's preview does not count)
    viewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # accepted by the payer's bank through the pay link, not yet on the merchant's statement
    pending_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # given back to the payer (refunds): a credit against what was paid, the invoice stays settled
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # the day the overdue job found it past due and told the merchant (invoice.overdue), once
    overdue_notified_on: Mapped[date | None] = mapped_column(Date)

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )

    @property
    def open_minor(self) -> int:
        return max(self.total_minor - self.paid_minor, 0)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        UniqueConstraint("invoice_id", "position"),
        CheckConstraint("net_minor >= 0", name="net"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    unit_price: Mapped[Decimal] = mapped_column(DecimalText)
    discount_percent: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))
    vat_rate: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(0))
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceEvent(Base):
    """The invoice's history: created, approved, each payment and reversal."""

    __tablename__ = "invoice_events"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
