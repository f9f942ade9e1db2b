"""What a person does with the engine's results: look, accept, reject, undo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.money import from_minor
from invoices import service as invoice_service
from invoices.models import Customer, CustomerIban, Invoice
from reconciliation.engine import compact_iban
from reconciliation.errors import ImportRefused, ReviewError, StaleMatch
from reconciliation.model import Allocation, Candidate, MatchSettings
from reconciliation.models import BankTransaction, CustomerCredit, PayerVerdict, Payment, Statement, Suggestion
from reconciliation.normalize import name_similarity
from reconciliation.service import apply_candidate, undo_transaction

NAME_STRONG = MatchSettings().name_strong


@dataclass(frozen=True)
class SuggestionView:
    suggestion: Suggestion
    transaction: BankTransaction


def list_statements(session: Session, merchant_id: int, limit: int = 50) -> list[Statement]:
    return list(
        session.scalars(
            select(Statement)
            .where(Statement.merchant_id == merchant_id)
            .order_by(Statement.imported_at.desc(), Statement.id.desc())
            .limit(limit)
        )
    )


def get_statement(session: Session, merchant_id: int, statement_id: int) -> Statement:
    row = session.get(Statement, statement_id)
    if row is None or row.merchant_id != merchant_id:
        raise ReviewError(f"no statement {statement_id}")
    return row


def statement_transactions(session: Session, merchant_id: int, statement_id: int) -> list[BankTransaction]:
    return list(
        session.scalars(
            select(BankTransaction)
            .where(BankTransaction.merchant_id == merchant_id, BankTransaction.statement_id == statement_id)
            .order_by(BankTransaction.entry_index, BankTransaction.tx_index)
        )
    )


def paid_invoices_of(session: Session, transaction_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not transaction_ids:
        return out
    # what each transaction paid in its current round: an undone match is not shown
    rows = session.execute(
        select(Payment.bank_transaction_id, Invoice.number)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(BankTransaction, BankTransaction.id == Payment.bank_transaction_id)
        .where(Payment.bank_transaction_id.in_(transaction_ids), Payment.kind == "payment",
               Payment.round == BankTransaction.apply_round)
        .order_by(Payment.id)
    )
    for tx_id, number in rows:
        if tx_id is not None and number is not None:
            out.setdefault(tx_id, []).append(number)
    return out


def credit_kept(session: Session, transaction_id: int) -> str:
    """' (12.34 EUR kept as credit of customer C7)' for what a transaction paid beyond its
    invoices in its current round; '' when nothing was left over."""
    row = session.execute(
        select(CustomerCredit.amount_minor, CustomerCredit.currency, Customer.code)
        .join(BankTransaction, BankTransaction.id == CustomerCredit.bank_transaction_id)
        .join(Customer, Customer.id == CustomerCredit.customer_id)
        .where(CustomerCredit.bank_transaction_id == transaction_id, CustomerCredit.kind == "overpayment",
               CustomerCredit.round == BankTransaction.apply_round)
    ).first()
    if row is None:
        return ""
    amount, currency, code = row
    return f" ({from_minor(amount, currency)} {currency} kept as credit of customer {code})"


def open_suggestions(session: Session, merchant_id: int, *, after: int = 0,
                     limit: int | None = None) -> list[SuggestionView]:
    """Open suggestions, the most confident first; a page starts after suggestion `after`
    (keyset on confidence and id, so decisions taken meanwhile shift nothing)."""
    query = (select(Suggestion, BankTransaction)
             .join(BankTransaction, BankTransaction.id == Suggestion.bank_transaction_id)
             .where(Suggestion.merchant_id == merchant_id, Suggestion.status == "open"))
    if after:
        last = session.get(Suggestion, after)
        if last is None or last.merchant_id != merchant_id:
            raise ReviewError(f"no suggestion {after}")
        query = query.where((Suggestion.confidence < last.confidence)
                            | ((Suggestion.confidence == last.confidence) & (Suggestion.id > last.id)))
    query = query.order_by(Suggestion.confidence.desc(), Suggestion.id)
    if limit is not None:
        query = query.limit(limit)
    return [SuggestionView(s, t) for s, t in session.execute(query)]


def count_open_suggestions(session: Session, merchant_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Suggestion).where(
            Suggestion.merchant_id == merchant_id, Suggestion.status == "open"
        )
    ) or 0


def _suggestion(session: Session, merchant_id: int, suggestion_id: int) -> tuple[Suggestion, BankTransaction]:
    sug = session.get(Suggestion, suggestion_id, with_for_update=True)
    if sug is None or sug.merchant_id != merchant_id:
        raise ReviewError(f"no suggestion {suggestion_id}")
    if sug.status != "open":
        raise ReviewError(f"suggestion {suggestion_id} is already {sug.status}")
    tx = session.get(BankTransaction, sug.bank_transaction_id)
    assert tx is not None
    return sug, tx


def accept(session: Session, merchant_id: int, suggestion_id: int, *, invoice_number: str | None = None,
           candidate: int = 0) -> list[str]:
    """Apply a suggestion (its candidate N, or the payment to one invoice a person picked).

    Amounts are re-allocated against what is open now: another payment may have paid
    part of the invoice since the suggestion was made.
    """
    sug, tx = _suggestion(session, merchant_id, suggestion_id)
    if invoice_number is not None:
        inv = session.scalar(
            select(Invoice).where(Invoice.merchant_id == merchant_id, Invoice.number == invoice_number)
        )
        if inv is None:
            raise ReviewError(f"no invoice numbered {invoice_number!r}")
        invoices = [inv]
        confidence = 100
    else:
        if not 0 <= candidate < len(sug.candidates):
            raise ReviewError(f"suggestion {suggestion_id} has no candidate {candidate + 1}")
        chosen: dict[str, Any] = sug.candidates[candidate]
        invoices = [i for i in (session.get(Invoice, iid) for iid in chosen["invoice_ids"]) if i is not None]
        confidence = int(chosen["confidence"])
    numbers = _apply_to(session, merchant_id, tx, invoices, confidence)
    sug.status = "accepted"
    sug.decided_at = datetime.now(UTC)
    _confirm_payer(session, merchant_id, tx, invoices[0].customer_id)
    return numbers


def _apply_to(session: Session, merchant_id: int, tx: BankTransaction, invoices: list[Invoice],
              confidence: int) -> list[str]:
    if tx.credit_debit != "CRDT" or tx.reversal or tx.status != "BOOK":
        raise ReviewError(f"bank transaction {tx.id} is not a booked incoming payment")
    if tx.reversed_by_id is not None or tx.match_status in ("reversed", "reversal"):
        raise ReviewError(f"bank transaction {tx.id} was taken back by the bank: there is no money to apply")
    if tx.match_status == "applied":
        raise ReviewError(f"bank transaction {tx.id} is already applied; undo it first")
    for inv in sorted(invoices, key=lambda i: i.id):
        if inv.merchant_id != merchant_id:
            raise ReviewError("invoice of another merchant")
        invoice_service.lock(session, inv)  # allocate against what is open now
    remaining = tx.amount_minor
    allocations = []
    for inv in invoices:
        if inv.merchant_id != merchant_id:
            raise ReviewError("invoice of another merchant")
        if inv.status not in ("issued", "partially_paid"):
            raise ReviewError(f"invoice {inv.number} is {inv.status}, it cannot take this payment")
        if inv.currency != tx.currency:
            raise ReviewError(f"invoice {inv.number} is in {inv.currency}, the payment in {tx.currency}")
        amount = min(remaining, inv.open_minor)
        if amount > 0:
            allocations.append(Allocation(inv.id, amount))
            remaining -= amount
    if not allocations:
        raise ReviewError("nothing is open on the chosen invoice(s)")
    cand = Candidate(
        invoice_ids=tuple(a.invoice_id for a in allocations), allocations=tuple(allocations),
        overpayment_minor=remaining, confidence=confidence, reasons=(),
        customer_id=invoices[0].customer_id,
    )
    try:
        return apply_candidate(session, merchant_id, tx, cand, None, source="review")
    except (ImportRefused, StaleMatch) as exc:
        raise ReviewError(str(exc)) from None


def assign(session: Session, merchant_id: int, transaction_id: int, invoice_numbers: list[str]) -> list[str]:
    """A person applies an unmatched (or rejected) payment to invoices they choose."""
    tx = session.get(BankTransaction, transaction_id, with_for_update=True)
    if tx is None or tx.merchant_id != merchant_id:
        raise ReviewError(f"no bank transaction {transaction_id}")
    invoices = []
    for number in invoice_numbers:
        inv = session.scalar(select(Invoice).where(Invoice.merchant_id == merchant_id, Invoice.number == number))
        if inv is None:
            raise ReviewError(f"no invoice numbered {number!r}")
        invoices.append(inv)
    numbers = _apply_to(session, merchant_id, tx, invoices, 100)
    _confirm_payer(session, merchant_id, tx, invoices[0].customer_id)
    sug = session.scalar(select(Suggestion).where(Suggestion.bank_transaction_id == tx.id))
    if sug is not None and sug.status == "open":
        sug.status = "accepted"
        sug.decided_at = datetime.now(UTC)
    return numbers


def reject(session: Session, merchant_id: int, suggestion_id: int) -> None:
    """The suggestion is wrong: the payment stays open, and its payer (IBAN and name) is
    remembered as not the suggested customer's, so the same guess is not made again."""
    sug, tx = _suggestion(session, merchant_id, suggestion_id)
    sug.status = "rejected"
    sug.decided_at = datetime.now(UTC)
    tx.match_status = "rejected"
    customer_id = sug.candidates[0].get("customer_id") if sug.candidates else None
    customer = session.get(Customer, int(customer_id)) if customer_id is not None else None
    if customer is None or customer.merchant_id != merchant_id:
        return
    # What the suggestion got wrong may be the invoice, not the customer: a payer who is
    # established as this customer (their IBAN on record, their own name) is not turned
    # into a stranger by one rejection.
    if tx.counterparty_name and name_similarity(tx.counterparty_name, customer.name) >= NAME_STRONG:
        return  # the customer's own name: the invoice was wrong, not the payer
    if tx.counterparty_name:
        confirmed = session.scalar(select(PayerVerdict.id).where(
            PayerVerdict.merchant_id == merchant_id, PayerVerdict.customer_id == customer.id,
            PayerVerdict.kind == "name", PayerVerdict.value == tx.counterparty_name[:200],
            PayerVerdict.verdict == "confirmed"))
        if confirmed is not None:
            return  # a person confirmed this payer for the customer before
        _verdict(session, merchant_id, customer.id, "name", tx.counterparty_name, "rejected", tx.id)
    known_ibans = {compact_iban(i.iban) for i in customer.ibans}
    if tx.counterparty_iban and compact_iban(tx.counterparty_iban) not in known_ibans:
        _verdict(session, merchant_id, customer.id, "iban", compact_iban(tx.counterparty_iban), "rejected", tx.id)



def _confirm_payer(session: Session, merchant_id: int, tx: BankTransaction, customer_id: int) -> None:
    """A person applied this payment to the customer's invoices: its payer name becomes
    one of the customer's (when it is not much like the customer's own name already),
    and earlier rejections of this payer for the customer are withdrawn."""
    session.execute(delete(PayerVerdict).where(
        PayerVerdict.merchant_id == merchant_id, PayerVerdict.customer_id == customer_id,
        PayerVerdict.verdict == "rejected",
        ((PayerVerdict.kind == "iban") & (PayerVerdict.value == compact_iban(tx.counterparty_iban or "")))
        | ((PayerVerdict.kind == "name") & (PayerVerdict.value == (tx.counterparty_name or "")[:200])),
    ).execution_options(synchronize_session="fetch"))
    name = tx.counterparty_name
    customer = session.get(Customer, customer_id)
    if name and customer is not None and name_similarity(name, customer.name) < NAME_STRONG:
        _verdict(session, merchant_id, customer_id, "name", name, "confirmed", tx.id)


def _verdict(session: Session, merchant_id: int, customer_id: int, kind: str, value: str, verdict: str,
             transaction_id: int) -> None:
    exists = session.scalar(select(PayerVerdict.id).where(
        PayerVerdict.merchant_id == merchant_id, PayerVerdict.customer_id == customer_id,
        PayerVerdict.kind == kind, PayerVerdict.value == value[:200], PayerVerdict.verdict == verdict))
    if exists is None:
        session.add(PayerVerdict(merchant_id=merchant_id, customer_id=customer_id, kind=kind, value=value[:200],
                                 verdict=verdict, bank_transaction_id=transaction_id))
        session.flush()


def undo(session: Session, merchant_id: int, transaction_id: int) -> list[str]:
    """A person takes back an applied match: the invoices re-open, the payment is open again."""
    tx = session.get(BankTransaction, transaction_id, with_for_update=True)
    if tx is None or tx.merchant_id != merchant_id:
        raise ReviewError(f"no bank transaction {transaction_id}")
    if tx.match_status != "applied":
        raise ReviewError(f"bank transaction {transaction_id} is {tx.match_status}, not applied")
    customers = set(session.scalars(
        select(Invoice.customer_id).join(Payment, Payment.invoice_id == Invoice.id).where(
            Payment.bank_transaction_id == tx.id, Payment.kind == "payment", Payment.round == tx.apply_round)
    ))
    numbers = undo_transaction(session, merchant_id, tx, reversal_row=None)
    from paylinks import settle

    settle.match_undone(session, merchant_id, tx.end_to_end_id, datetime.now(UTC))
    tx.match_status = "unmatched"
    tx.confidence = None
    _forget_learned_iban(session, merchant_id, tx, customers)
    session.execute(delete(PayerVerdict).where(
        PayerVerdict.merchant_id == merchant_id, PayerVerdict.bank_transaction_id == tx.id,
        PayerVerdict.verdict == "confirmed",
    ).execution_options(synchronize_session="fetch"))
    return numbers


def _forget_learned_iban(session: Session, merchant_id: int, tx: BankTransaction, customers: set[int]) -> None:
    """A person said this match was wrong: the payer IBAN it taught kvits for those
    customers is evidence no more, unless another applied payment from that IBAN to the
    same customer still stands. IBANs a person entered (source 'manual') stay."""
    if not tx.counterparty_iban:
        return
    for customer_id in customers:
        still_paid_from_it = session.scalar(
            select(func.count()).select_from(Payment)
            .join(BankTransaction, BankTransaction.id == Payment.bank_transaction_id)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .where(
                Payment.merchant_id == merchant_id, Payment.kind == "payment",
                Payment.round == BankTransaction.apply_round, BankTransaction.match_status == "applied",
                BankTransaction.counterparty_iban == tx.counterparty_iban, BankTransaction.id != tx.id,
                Invoice.customer_id == customer_id,
            )
        )
        if not still_paid_from_it:
            session.execute(delete(CustomerIban).where(
                CustomerIban.merchant_id == merchant_id, CustomerIban.customer_id == customer_id,
                CustomerIban.iban == tx.counterparty_iban, CustomerIban.source == "statement",
            ).execution_options(synchronize_session="fetch"))
