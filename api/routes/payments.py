"""Payments payers made through pay links, and the merchant's fee statements."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import idempotency

from api.deps import psu_ip, Db, Timestamp, decode_cursor, encode_cursor, public_id, require, row_id
from api.problems import Problem
from api.routes.invoices import load
from api.security import Principal
from core.db import transaction
from core.money import AmountError, from_minor, parse_amount, to_minor
from paylinks.fees import month_bounds
from paylinks.models import PayerPayment, Refund
from paylinks.refunds import RefundError, Refunds, RefundView, view_of
from reconciliation.models import IdempotencyKey
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
    card: str | None = Field(description="card payments: the card as the acquirer shows it (brand, last 4 digits)")
    created_at: Timestamp
    authorised_at: Timestamp | None
    captured_at: Timestamp | None
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
                      bank=p.bank_id, failure=p.failure, card=p.card, created_at=p.created_at,
                      authorised_at=p.authorised_at, captured_at=p.captured_at, settled_at=p.settled_at)


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


# -- refunds ------------------------------------------------------------------------

_REFUND_PROBLEMS = {"not_found": 404, "invalid_amount": 422, "too_much": 409, "not_refundable": 409, "payee_unknown": 422,
                    "bank_unknown": 422}


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: str | None = Field(None, pattern=r"^[0-9]{1,12}(\.[0-9]{1,3})?$", examples=["12.50"],
                               description="what to give back, a plain decimal in the payment's currency; "
                                           "omitted: all that can still be refunded")
    reason: str = Field("", max_length=500)
    iban: str | None = Field(None, max_length=42, description="bank payments: the payer's IBAN when the statement "
                                                              "has not shown it")
    name: str | None = Field(None, max_length=140, description="bank payments: the payer's name, with iban")
    bank: str | None = Field(None, max_length=64, description="bank payments: the registry bank holding the "
                                                              "merchant's account (a Latvian IBAN tells it)")

    @model_validator(mode="after")
    def _amount_given_or_left_out(self) -> RefundIn:
        if "amount" in self.model_fields_set and self.amount is None:
            raise ValueError("amount is null: give an amount, or leave amount out to refund all that is left")
        return self


class RefundOut(BaseModel):
    id: str
    payment: str
    invoice: str
    method: str
    state: Literal["pending", "awaiting_sca", "succeeded", "failed"]
    amount: str
    currency: str
    reason: str
    payee_iban: str | None
    sca_url: str | None = Field(description="bank refunds: where the merchant confirms the transfer at their bank")
    failure: str | None
    created_at: Timestamp
    succeeded_at: Timestamp | None


class RefundList(BaseModel):
    data: list[RefundOut]
    next_cursor: str | None


def refund_out(r: RefundView) -> RefundOut:
    return RefundOut(id=public_id("re", r.id), payment=public_id("pay", r.payment_id),
                     invoice=public_id("inv", r.invoice_id), method=r.method, state=r.state,
                     amount=str(from_minor(r.amount_minor, r.currency)), currency=r.currency, reason=r.reason,
                     payee_iban=r.payee_iban, sca_url=r.sca_url, failure=r.failure, created_at=r.created_at,
                     succeeded_at=r.succeeded_at)


class _Replay(Exception):
    def __init__(self, refund_id: int) -> None:
        self.refund_id = refund_id


def _replayed(stored: IdempotencyKey | None, digest: str) -> int | None:
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise Problem(409, "idempotency_key_reused", "this Idempotency-Key was used with another request")
    return row_id("re", str(stored.body.get("id", "")), "refund")


@router.post("/payments/{payment_id}/refunds", response_model=RefundOut, status_code=201,
             responses={409: {"description": "more than can be refunded, or a payment not yet refundable"}})
def create_refund(payment_id: str, body: RefundIn, request: Request,
                  who: Annotated[Principal, Depends(require("payments:write"))],
                  idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None) -> Any:
    """Give back all or part of a payment: a card through the acquirer (done at once), a
    bank payment as a transfer from the merchant's account that the merchant confirms at
    their bank (`sca_url`). The same Idempotency-Key answers with the same refund."""
    refunds: Refunds = request.app.state.refunds
    pay_id = row_id("pay", payment_id, "payment")
    path = f"/v1/payments/{payment_id}/refunds"
    digest = idempotency.request_hash("POST", path, body.model_dump_json().encode())
    if idempotency_key is not None:
        if not idempotency_key or not idempotency_key.isprintable():
            raise Problem(400, "invalid_idempotency_key", "an Idempotency-Key is 1-255 printable characters")
        with transaction(request.app.state.factory) as s:
            earlier = _replayed(s.scalar(select(IdempotencyKey).where(
                IdempotencyKey.merchant_id == who.merchant_id, IdempotencyKey.key == idempotency_key)), digest)
        if earlier is not None:
            return _current(refunds, who, earlier)

    def keep_key(s: Session, refund_id: int) -> None:
        got = idempotency.begin(s, who.merchant_id, idempotency_key, digest)
        if isinstance(got, JSONResponse):  # the same request, a moment earlier
            raise _Replay(row_id("re", str(json.loads(bytes(got.body)).get("id", "")), "refund"))
        idempotency.finish(got, 201, {"id": public_id("re", refund_id)})

    amount = None
    if body.amount is not None:
        merchant_currency = _currency_of(request, who, pay_id)
        try:
            amount = to_minor(parse_amount(body.amount, merchant_currency), merchant_currency)
        except AmountError as exc:
            raise Problem(422, "invalid_amount", str(exc)) from None
    try:
        made = refunds.request(who.merchant_id, pay_id, amount, reason=body.reason, requested_by=f"client {who.client_id}",
                               payee_iban=body.iban, payee_name=body.name, bank_id=body.bank,
                               psu_ip=psu_ip(request), on_create=keep_key)
    except _Replay as replay:
        return _current(refunds, who, replay.refund_id)
    except RefundError as exc:
        raise Problem(_REFUND_PROBLEMS.get(exc.code, 409), exc.code, str(exc)) from None
    if made.state in ("pending", "awaiting_sca"):
        request.app.state.payments.on_start()  # whoever follows payments in flight follows it
    return refund_out(made)


def _currency_of(request: Request, who: Principal, pay_id: int) -> str:
    with transaction(request.app.state.factory) as s:
        currency = s.scalar(select(PayerPayment.currency).where(PayerPayment.id == pay_id,
                                                                PayerPayment.merchant_id == who.merchant_id))
    if currency is None:
        raise Problem(404, "not_found", f"no payment pay_{pay_id}")
    return currency


def _current(refunds: Refunds, who: Principal, refund_id: int) -> JSONResponse:
    try:
        row = refunds.view_row(refund_id)
    except RefundError:
        row = None
    if row is None or row.merchant_id != who.merchant_id:
        raise Problem(404, "not_found", f"no refund re_{refund_id}")
    view = view_of(row)
    return JSONResponse(refund_out(view).model_dump(mode="json"), status_code=201,
                        headers={"Idempotent-Replayed": "true"})


@router.get("/refunds", response_model=RefundList)
def list_refunds(who: Annotated[Principal, Depends(require("payments:read"))], s: Db, payment: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> RefundList:
    query = select(Refund).where(Refund.merchant_id == who.merchant_id, Refund.id > decode_cursor(cursor))
    if payment is not None:
        query = query.where(Refund.payment_id == row_id("pay", payment, "payment"))
    rows = list(s.scalars(query.order_by(Refund.id).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return RefundList(data=[refund_out(view_of(r)) for r in rows], next_cursor=encode_cursor(rows[-1].id) if more else None)


@router.get("/refunds/{refund_id}", response_model=RefundOut)
def get_refund(refund_id: str, who: Annotated[Principal, Depends(require("payments:read"))], s: Db) -> RefundOut:
    found = s.scalar(select(Refund).where(Refund.id == row_id("re", refund_id, "refund"),
                                          Refund.merchant_id == who.merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no refund {refund_id[:60]}")
    return refund_out(view_of(found))
