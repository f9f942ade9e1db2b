"""Payments payers made through pay links, and the merchant's fee statements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Db, Timestamp, decode_cursor, encode_cursor, public_id, require, row_id
from api.problems import Problem
from api.routes.invoices import load
from api.security import Principal
from core.money import from_minor
from paylinks.fees import month_bounds
from paylinks.models import PayerPayment
from paylinks.states import State
from paylinks.statement import fee_statement

router = APIRouter(prefix="/v1", tags=["payments"])


class PaymentOut(BaseModel):
    id: str
    invoice: str
    method: str
    state: State
    amount: str
    currency: str
    refunded: str
    end_to_end_id: str = Field(description="sent to the payer's bank; the merchant's statement brings it back")
    bank: str | None
    failure: str | None
    created_at: Timestamp
    authorised_at: Timestamp | None
    settled_at: Timestamp | None


class PaymentList(BaseModel):
    data: list[PaymentOut]
    next_cursor: str | None


class FeeLineOut(BaseModel):
    payment: str
    end_to_end_id: str
    kind: str
    amount: str
    rate_percent: str
    fee: str


class FeeTotalOut(BaseModel):
    currency: str
    payments: int
    amount: str
    fee: str
    lines: list[FeeLineOut]


class FeeStatementOut(BaseModel):
    month: str
    currencies: list[FeeTotalOut]


def payment_out(p: PayerPayment) -> PaymentOut:
    return PaymentOut(id=public_id("pay", p.id), invoice=public_id("inv", p.invoice_id), method=p.method,
                      state=State(p.state), amount=str(from_minor(p.amount_minor, p.currency)), currency=p.currency,
                      refunded=str(from_minor(p.refunded_minor, p.currency)), end_to_end_id=p.end_to_end_id,
                      bank=p.bank_id, failure=p.failure, created_at=p.created_at, authorised_at=p.authorised_at,
                      settled_at=p.settled_at)


@router.get("/payments", response_model=PaymentList)
def list_payments(who: Annotated[Principal, Depends(require("payments:read"))], s: Db,
                  invoice: str | None = None, state: Annotated[list[State] | None, Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> PaymentList:
    query = select(PayerPayment).where(PayerPayment.merchant_id == who.merchant_id,
                                       PayerPayment.id > decode_cursor(cursor))
    if invoice is not None:
        query = query.where(PayerPayment.invoice_id == load(s, who.merchant_id, invoice).id)
    if state:
        query = query.where(PayerPayment.state.in_([x.value for x in state]))
    rows = list(s.scalars(query.order_by(PayerPayment.id).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return PaymentList(data=[payment_out(p) for p in rows], next_cursor=encode_cursor(rows[-1].id) if more else None)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: str, who: Annotated[Principal, Depends(require("payments:read"))], s: Db) -> PaymentOut:
    found = s.scalar(select(PayerPayment).where(PayerPayment.id == row_id("pay", payment_id, "payment"),
                                                PayerPayment.merchant_id == who.merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no payment {payment_id[:60]}")
    return payment_out(found)


@router.get("/fee-statements/{month}", response_model=FeeStatementOut)
def get_fee_statement(month: str, who: Annotated[Principal, Depends(require("payments:read"))],
                      s: Db) -> FeeStatementOut:
    """kvits' fee on the month's payments (YYYY-MM), per currency and payment."""
    try:
        month_bounds(month)
    except ValueError as exc:
        raise Problem(404, "not_found", str(exc)) from None
    totals = fee_statement(s, who.merchant_id, month)
    return FeeStatementOut(month=month, currencies=[FeeTotalOut(
        currency=t.currency, payments=t.payments, amount=str(from_minor(t.base_minor, t.currency)),
        fee=str(from_minor(t.fee_minor, t.currency)),
        lines=[FeeLineOut(payment=public_id("pay", line.payment_id), end_to_end_id=line.end_to_end_id, kind=line.kind,
                          amount=str(from_minor(line.base_minor, t.currency)), rate_percent=f"{line.rate_bp / 100:g}",
                          fee=str(from_minor(line.fee_minor, t.currency))) for line in t.lines])
        for t in totals])
