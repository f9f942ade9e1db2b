"""Recognising kvits' own payments in the merchant's statement: a credit that carries the
end-to-end id of a pay link payment (and its currency and amount) is that payment, with
certainty; it pays the invoice and settles the payment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from invoices.models import Invoice
from paylinks.models import PayerPayment
from paylinks.service import move
from paylinks.states import State
from reconciliation.model import Allocation, Candidate, IncomingPayment, MatchResult, Reason

# a payment still waiting for its bank, or accepted by it: the statement decides
_SETTLEABLE = (State.CREATED.value, State.AWAITING_SCA.value, State.PENDING.value, State.AUTHORISED.value)


def recognise(session: Session, merchant_id: int, payments: Sequence[IncomingPayment]) -> dict[str, MatchResult]:
    """Results for the credits that are pay link payments, by the credit's key."""
    by_e2e: dict[str, IncomingPayment] = {}
    for p in payments:  # the first credit with the id is the payment; a second is ordinary money
        if p.end_to_end_id and p.end_to_end_id.startswith("KV"):
            by_e2e.setdefault(p.end_to_end_id, p)
    if not by_e2e:
        return {}
    results: dict[str, MatchResult] = {}
    ours = session.scalars(select(PayerPayment).where(
        PayerPayment.merchant_id == merchant_id, PayerPayment.method == "bank",
        PayerPayment.end_to_end_id.in_(list(by_e2e)), PayerPayment.state.in_(_SETTLEABLE)))
    for own in ours:
        credit = by_e2e[own.end_to_end_id]
        if credit.currency != own.currency:
            continue  # not what was sent: the ordinary matcher (and a person) decide
        invoice = session.get(Invoice, own.invoice_id)
        assert invoice is not None
        applied = min(credit.amount_minor, invoice.open_minor)
        allocations = (Allocation(invoice.id, applied),) if applied > 0 else ()
        differs = "" if credit.amount_minor == own.amount_minor else \
            f"; {own.amount_minor / 100:.2f} was sent, {credit.amount_minor / 100:.2f} arrived"
        reason = Reason("paylink", f"paid through the pay link of invoice {invoice.number} "
                                   f"(end-to-end id {own.end_to_end_id}{differs})", 100)
        best = Candidate(invoice_ids=tuple(a.invoice_id for a in allocations), allocations=allocations,
                         overpayment_minor=credit.amount_minor - applied, confidence=100, reasons=(reason,),
                         customer_id=invoice.customer_id)
        results[credit.key] = MatchResult(credit.key, "apply", best, customer_id=invoice.customer_id)
    return results


def settled(session: Session, merchant_id: int, end_to_end_id: str, now: datetime) -> None:
    """The credit of this pay link payment was applied: the payment is settled."""
    own = _own(session, merchant_id, end_to_end_id)
    if own is not None:
        move(session, own, State.SETTLED, now)


def reversed_by_bank(session: Session, merchant_id: int, end_to_end_id: str | None, now: datetime) -> None:
    """The bank took back the credit of a settled pay link payment: it failed after all,
    and its fee is returned."""
    own = _own(session, merchant_id, end_to_end_id)
    if own is not None and own.state == State.SETTLED.value:
        move(session, own, State.FAILED, now, failure="the bank took the payment back (reversal)")


def match_undone(session: Session, merchant_id: int, end_to_end_id: str | None, now: datetime) -> None:
    """A person undid the match of a pay link payment's credit: the payment is accepted
    by the bank but not booked to the invoice (payment pending again)."""
    own = _own(session, merchant_id, end_to_end_id)
    if own is not None and own.state == State.SETTLED.value:
        move(session, own, State.AUTHORISED, now)


def _own(session: Session, merchant_id: int, end_to_end_id: str | None) -> PayerPayment | None:
    if not end_to_end_id or not end_to_end_id.startswith("KV"):
        return None
    return session.scalar(select(PayerPayment).where(
        PayerPayment.merchant_id == merchant_id, PayerPayment.end_to_end_id == end_to_end_id).with_for_update())
