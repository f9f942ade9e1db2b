"""The merchant's monthly fee statement, from the fee ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from paylinks.fees import month_bounds
from paylinks.models import FeeEntry, PayerPayment


@dataclass
class Line:
    payment_id: int
    end_to_end_id: str
    kind: str  # fee, reversal, refund (the refunded part's fee given back)
    base_minor: int
    fee_minor: int
    rate_bp: int


@dataclass
class CurrencyTotal:
    currency: str
    payments: int = 0
    base_minor: int = 0
    fee_minor: int = 0
    lines: list[Line] = field(default_factory=list)


def fee_statement(session: Session, merchant_id: int, month: str) -> list[CurrencyTotal]:
    """Every fee entry of the month, by currency: a payment's fee in the month its bank
    accepted it, a reversal in the month the bank took the payment back, a refund's share
    of the fee in the month the refund went through."""
    month_bounds(month)
    rows = session.execute(
        select(FeeEntry, PayerPayment.end_to_end_id).join(PayerPayment, PayerPayment.id == FeeEntry.payment_id)
        .where(FeeEntry.merchant_id == merchant_id, FeeEntry.month == month).order_by(FeeEntry.id))
    totals: dict[str, CurrencyTotal] = {}
    for entry, e2e in rows:
        total = totals.setdefault(entry.currency, CurrencyTotal(entry.currency))
        total.payments += 1 if entry.kind == "fee" else -1 if entry.kind == "reversal" else 0
        total.base_minor += entry.base_minor
        total.fee_minor += entry.fee_minor
        total.lines.append(Line(entry.payment_id, e2e, entry.kind, entry.base_minor, entry.fee_minor, entry.rate_bp))
    return [totals[c] for c in sorted(totals)]
