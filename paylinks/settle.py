"""Recognising kvits' own payments in the merchant's statement: a credit that carries the
end-to-end id of a pay link payment (and its currency and amount) is that payment, with
certainty; it pays the invoice and settles the payment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from invoices.models import Invoice
from core.money import from_minor
from reconciliation.models import BankTransaction
from paylinks.models import PayerPayment, Refund
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
        if credit.payer_iban:  # whom a refund goes back to
            own.payer_iban, own.payer_name = credit.payer_iban[:34], (credit.payer_name or "")[:140] or None
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


_PAYOUT = re.compile(r"\bpo_[0-9a-f]{8,64}\b")
_CARD_DONE = (State.CAPTURED.value, State.SETTLED.value, State.PARTIALLY_REFUNDED.value, State.REFUNDED.value)


def payout_id(credit: IncomingPayment) -> str | None:
    """The acquirer's payout a credit is, by its end-to-end id or its text."""
    for text in (credit.end_to_end_id or "", *credit.texts):
        found = _PAYOUT.search(text)
        if found:
            return found.group(0)
    return None


def payouts(session: Session, merchant_id: int, credits: Sequence[IncomingPayment],
            now: datetime) -> dict[str, str]:
    """Credits that are the card acquirer's payouts of kvits' card payments, recognised
    as the sum of their payments (captures less the refunds netted in the same payout):
    their payments are settled. The invoices were paid at capture, so the credit pays no
    invoice. A payout whose sum differs is left to a person. Returns why, by credit key."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for credit in credits:
        pid = payout_id(credit)
        if pid is None or pid in seen:
            continue  # (a payout booked twice: the second is money to ask the bank about, for a person)
        seen.add(pid)
        if session.scalar(select(BankTransaction.id).where(
                BankTransaction.merchant_id == merchant_id, BankTransaction.end_to_end_id == pid,
                BankTransaction.match_status == "card_payout").limit(1)) is not None:
            continue
        captured = list(session.scalars(select(PayerPayment).where(
            PayerPayment.merchant_id == merchant_id, PayerPayment.method == "card", PayerPayment.payout_id == pid,
            PayerPayment.state.in_(_CARD_DONE)).with_for_update()))
        if not captured:
            continue
        refunded = session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.merchant_id == merchant_id, Refund.payout_id == pid, Refund.state == "succeeded")) or 0
        expected = sum(p.amount_minor for p in captured) - int(refunded)
        if credit.currency != captured[0].currency or credit.amount_minor != expected:
            continue
        for p in captured:
            if p.state == State.CAPTURED.value:
                move(session, p, State.SETTLED, now)
            elif p.settled_at is None:
                p.settled_at = now
        found[credit.key] = (f"card payout {pid}: {len(captured)} card payments"
                             + (f" less {from_minor(int(refunded), credit.currency)} refunded" if refunded else ""))
    return found


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
