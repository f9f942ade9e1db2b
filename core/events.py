"""Recording what happened, for webhooks: `emit` inside the caller's transaction."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from core.models import OutboxEvent

EVENT_TYPES = ("invoice.viewed", "invoice.paid", "invoice.partially_paid", "invoice.overdue", "payment.succeeded",
               "payment.failed", "refund.succeeded", "statement.imported", "reconciliation.suggestion_created")


_EMITTED = threading.Event()


def emit(session: Session, merchant_id: int, type: str, **data: Any) -> None:
    assert type in EVENT_TYPES, type
    session.add(OutboxEvent(merchant_id=merchant_id, type=type, data=data, fanned_out=False))
    _EMITTED.set()


def take_emitted() -> bool:
    """Whether this process emitted anything since the last call: a request that emitted
    nothing need not wake the webhook sender (and its database transaction)."""
    emitted = _EMITTED.is_set()
    _EMITTED.clear()
    return emitted
