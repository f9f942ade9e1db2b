"""The invoice status machine. Pure: the caller passes amounts and `today`.

Stored statuses: draft -> issued -> partially_paid -> paid; cancelled from draft or
issued (an invoice with money on it is refunded or credited, not cancelled).
`overdue` is never stored: it is derived from the due date and the date passed in.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


OPEN = frozenset({Status.ISSUED, Status.PARTIALLY_PAID})


class TransitionError(ValueError):
    pass


def status_for_paid(total_minor: int, paid_minor: int) -> Status:
    """Status of an issued invoice given what has been paid (overpayment counts as paid)."""
    if paid_minor < 0:
        raise TransitionError("paid amount cannot be negative")
    if paid_minor == 0:
        return Status.ISSUED
    if paid_minor >= total_minor:
        return Status.PAID
    return Status.PARTIALLY_PAID


def after_payment(current: Status, total_minor: int, paid_minor: int) -> Status:
    if current in (Status.DRAFT, Status.CANCELLED):
        raise TransitionError(f"a {current} invoice cannot take payments")
    return status_for_paid(total_minor, paid_minor)


def approve(current: Status) -> Status:
    if current is not Status.DRAFT:
        raise TransitionError(f"only a draft can be approved, this invoice is {current}")
    return Status.ISSUED


def cancel(current: Status, paid_minor: int) -> Status:
    if current in (Status.PAID, Status.CANCELLED) or paid_minor != 0:
        raise TransitionError(f"a {current} invoice with payments cannot be cancelled")
    return Status.CANCELLED


def is_overdue(status: Status, due_date: date, today: date) -> bool:
    return status in OPEN and due_date < today


def display_status(status: Status, due_date: date, today: date) -> str:
    """What a person should see: 'overdue' for an unpaid invoice past due, and
    'partially_paid, overdue' when part of it came in."""
    if not is_overdue(status, due_date, today):
        return str(status)
    return "partially_paid, overdue" if status is Status.PARTIALLY_PAID else "overdue"
