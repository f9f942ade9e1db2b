"""The tenant: every other row carries its merchant and every query is scoped by it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.ids import PK


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), default="LV")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # where payers' bank payments go (the creditor of PSD2 payment initiation)
    iban: Mapped[str | None] = mapped_column(String(34))
    # the fee on each payment, in basis points (100 = 1%)
    fee_bp: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    # may a payer pay part of what is due through the pay link
    partial_payments: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiClient(Base):
    """A merchant's machine client of the HTTP API (OAuth2 client credentials). The
    secret is kept only as an argon2 hash; `scopes` is space-separated."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who did what, for a merchant: a person or an API client deciding on money."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxEvent(Base):
    """Something that happened, written in the same transaction as the change itself,
    so that webhooks report exactly what was committed (and nothing rolled back)."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    type: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fanned_out: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    """A person of a merchant who signs in to the web pages; `role` is owner, finance or
    read_only. The password is kept only as an argon2 hash."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('owner','finance','read_only')", name="role"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobLease(Base):
    """Scheduled work runs once at a time, however many beats or workers send it: a job
    takes its lease (until a time, in case its process dies) and gives it back."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
