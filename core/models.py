"""The tenant: every other row carries its merchant and every query is scoped by it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
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
