"""Reconciliation: bank transactions with their match state, the suggestions waiting for
a person, and the decisions on them (accept, reject, undo), each in the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import idempotency
from api.deps import Db, Timestamp, decode_cursor, encode_cursor, public_id, require, row_id
from api.problems import Problem
from api.security import Principal
from core.models import AuditEvent
from core.money import from_minor
from invoices.models import Invoice
from reconciliation.errors import ReviewError
from reconciliation import review
from reconciliation.models import BankTransaction, Suggestion

router = APIRouter(prefix="/v1", tags=["reconciliation"])


class TransactionOut(BaseModel):
    id: str
    statement: str
    amount: str
    currency: str
    credit_debit: str
    booking_date: date | None
    counterparty_name: str | None
    counterparty_iban: str | None
    references: list[str]
    remittance: str
    end_to_end_id: str | None
    match_status: str
    confidence: int | None


class CandidateOut(BaseModel):
    invoices: list[str]
    invoice_numbers: list[str]
    customer: str | None
    confidence: int
    reasons: list[str]


class SuggestionOut(BaseModel):
    id: str
    transaction: TransactionOut
    confidence: int
    candidates: list[CandidateOut]
    created_at: Timestamp


class Page(BaseModel):
    data: list[Any]
    next_cursor: str | None


class AcceptIn(BaseModel):
    candidate: int = Field(1, ge=1, le=20, description="which candidate, 1 = the best")
    invoice: str | None = Field(None, description="or the invoice a person picked instead (inv_…)")


class AuditOut(BaseModel):
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    created_at: Timestamp


def tx_out(t: BankTransaction) -> TransactionOut:
    return TransactionOut(id=public_id("txn", t.id), statement=public_id("stm", t.statement_id),
                          amount=str(from_minor(t.amount_minor, t.currency)), currency=t.currency,
                          credit_debit=t.credit_debit, booking_date=t.booking_date,
                          counterparty_name=t.counterparty_name, counterparty_iban=t.counterparty_iban,
                          references=list(t.creditor_references), remittance=t.remittance,
                          end_to_end_id=t.end_to_end_id, match_status=t.match_status, confidence=t.confidence)


def suggestion_out(s: Suggestion, t: BankTransaction) -> SuggestionOut:
    return SuggestionOut(id=public_id("sug", s.id), transaction=tx_out(t), confidence=s.confidence,
                         created_at=s.created_at, candidates=[
                             CandidateOut(invoices=[public_id("inv", i) for i in c["invoice_ids"]],
                                          invoice_numbers=list(c.get("invoices", [])),
                                          customer=public_id("cus", c["customer_id"]) if c.get("customer_id") else None,
                                          confidence=int(c["confidence"]), reasons=list(c.get("reasons", [])))
                             for c in s.candidates])


def audit(s: Session, who: Principal, action: str, subject: str, **detail: Any) -> None:
    s.add(AuditEvent(merchant_id=who.merchant_id, actor=f"client:{who.client_id}", action=action, subject=subject,
                     detail=detail))


def own_suggestion(s: Session, merchant_id: int, suggestion_id: str) -> Suggestion:
    found = s.scalar(select(Suggestion).where(Suggestion.id == row_id("sug", suggestion_id, "suggestion"),
                                              Suggestion.merchant_id == merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no suggestion {suggestion_id[:60]}")
    return found


def own_transaction(s: Session, merchant_id: int, transaction_id: str) -> BankTransaction:
    found = s.scalar(select(BankTransaction).where(
        BankTransaction.id == row_id("txn", transaction_id, "transaction"), BankTransaction.merchant_id == merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no transaction {transaction_id[:60]}")
    return found


@router.get("/transactions", response_model=Page)
def list_transactions(who: Annotated[Principal, Depends(require("reconciliation:read"))],
                      s: Db, match_status: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> Page:
    query = select(BankTransaction).where(BankTransaction.merchant_id == who.merchant_id,
                                          BankTransaction.id > decode_cursor(cursor))
    if match_status:
        query = query.where(BankTransaction.match_status == match_status)
    rows = list(s.scalars(query.order_by(BankTransaction.id).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return Page(data=[tx_out(t) for t in rows], next_cursor=encode_cursor(rows[-1].id) if more else None)


@router.get("/transactions/{transaction_id}", response_model=TransactionOut)
def get_transaction(transaction_id: str, who: Annotated[Principal, Depends(require("reconciliation:read"))],
                    s: Db) -> TransactionOut:
    return tx_out(own_transaction(s, who.merchant_id, transaction_id))


@router.get("/suggestions", response_model=Page)
def list_suggestions(who: Annotated[Principal, Depends(require("reconciliation:read"))], s: Db,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> Page:
    """Open suggestions, the most confident first."""
    try:
        views = review.open_suggestions(s, who.merchant_id, after=decode_cursor(cursor), limit=limit + 1)
    except ReviewError:
        raise Problem(400, "invalid_cursor", "the cursor is not one this API gave out") from None
    more, views = len(views) > limit, views[:limit]
    return Page(data=[suggestion_out(v.suggestion, v.transaction) for v in views],
                next_cursor=encode_cursor(views[-1].suggestion.id) if more else None)


IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _key(s: Session, who: Principal, key: str | None, path: str, body: BaseModel | None) -> Any:
    payload = body.model_dump_json().encode() if body is not None else b""
    return idempotency.begin(s, who.merchant_id, key, idempotency.request_hash("POST", path, payload))


def _done(reserved: Any, result: TransactionOut) -> TransactionOut:
    idempotency.finish(reserved if not isinstance(reserved, JSONResponse) else None, 200, result.model_dump(mode="json"))
    return result


@router.post("/suggestions/{suggestion_id}/accept", response_model=TransactionOut)
def accept(suggestion_id: str, body: AcceptIn, who: Annotated[Principal, Depends(require("reconciliation:write"))],
           s: Db, idempotency_key: IdempotencyHeader = None) -> Any:
    reserved = _key(s, who, idempotency_key, f"/v1/suggestions/{suggestion_id}/accept", body)
    if isinstance(reserved, JSONResponse):
        return reserved
    suggestion = own_suggestion(s, who.merchant_id, suggestion_id)
    number = None
    if body.invoice is not None:
        invoice = s.scalar(select(Invoice).where(Invoice.id == row_id("inv", body.invoice, "invoice"),
                                                 Invoice.merchant_id == who.merchant_id))
        if invoice is None or invoice.number is None:
            raise Problem(404, "not_found", f"no issued invoice {body.invoice[:60]}")
        number = invoice.number
    numbers = review.accept(s, who.merchant_id, suggestion.id, invoice_number=number, candidate=body.candidate - 1)
    audit(s, who, "suggestion.accepted", public_id("sug", suggestion.id), invoices=numbers,
          transaction=public_id("txn", suggestion.bank_transaction_id))
    return _done(reserved, tx_out(own_transaction(s, who.merchant_id, public_id("txn", suggestion.bank_transaction_id))))


@router.post("/suggestions/{suggestion_id}/reject", response_model=TransactionOut)
def reject(suggestion_id: str, who: Annotated[Principal, Depends(require("reconciliation:write"))],
           s: Db) -> TransactionOut:
    suggestion = own_suggestion(s, who.merchant_id, suggestion_id)
    review.reject(s, who.merchant_id, suggestion.id)
    audit(s, who, "suggestion.rejected", public_id("sug", suggestion.id),
          transaction=public_id("txn", suggestion.bank_transaction_id))
    return tx_out(own_transaction(s, who.merchant_id, public_id("txn", suggestion.bank_transaction_id)))


@router.post("/transactions/{transaction_id}/undo", response_model=TransactionOut)
def undo(transaction_id: str, who: Annotated[Principal, Depends(require("reconciliation:write"))],
         s: Db, idempotency_key: IdempotencyHeader = None) -> Any:
    reserved = _key(s, who, idempotency_key, f"/v1/transactions/{transaction_id}/undo", None)
    if isinstance(reserved, JSONResponse):
        return reserved
    tx = own_transaction(s, who.merchant_id, transaction_id)
    numbers = review.undo(s, who.merchant_id, tx.id)
    audit(s, who, "match.undone", public_id("txn", tx.id), invoices=numbers)
    return _done(reserved, tx_out(tx))


@router.get("/audit-events", response_model=Page)
def audit_events(who: Annotated[Principal, Depends(require("reconciliation:read"))],
                 s: Db, subject: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> Page:
    query = select(AuditEvent).where(AuditEvent.merchant_id == who.merchant_id, AuditEvent.id > decode_cursor(cursor))
    if subject:
        query = query.where(AuditEvent.subject == subject)
    rows = list(s.scalars(query.order_by(AuditEvent.id).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return Page(data=[AuditOut(actor=e.actor, action=e.action, subject=e.subject, detail=e.detail,
                               created_at=e.created_at) for e in rows],
                next_cursor=encode_cursor(rows[-1].id) if more else None)
