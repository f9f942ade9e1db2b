"""Invoices: create a draft, approve it, cancel it, read and list them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.deps import Db, Timestamp, decode_cursor, encode_cursor, public_id, require, row_id
from api.problems import Problem
from api.routes.customers import load as load_customer
from api.security import Principal
from core import clock
from core.money import from_minor
from invoices import status as st
from invoices.arithmetic import LineInput
from invoices.models import Invoice
from core.db import utcnow
from invoices import service as invoice_service
from paylinks import links
from invoices.service import EARLIEST, LATEST, InvoiceInput, approve, cancel, create_draft, replace_draft

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])

DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$", examples=["12.50"])]


class LineIn(BaseModel):
    description: str = Field(min_length=1, max_length=500)
    quantity: DecimalText
    unit_price: DecimalText
    vat_rate: DecimalText = "0"
    discount_percent: DecimalText = "0"


class InvoiceIn(BaseModel):
    customer: str = Field(description="the customer's id, cus_…")
    currency: str = Field(pattern="^[A-Z]{3}$")
    issue_date: date = Field(ge=EARLIEST, le=LATEST)
    due_date: date | None = Field(None, ge=EARLIEST, le=LATEST)
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    notes: str | None = Field(None, max_length=2000)


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    customer: str
    status: str
    overdue: bool
    currency: str
    issue_date: date
    due_date: date
    rf_reference: str | None
    net: str
    vat: str
    total: str
    paid: str
    open: str
    payment_pending: str = Field(description="accepted by a payer's bank through the pay link, not yet booked")
    refunded: str = Field(description="given back to payers (refunds); the invoice stays settled")
    viewed_at: Timestamp | None = Field(None, description="first opened by the payer through its pay link")
    created_at: Timestamp
    approved_at: Timestamp | None
    pay_url: str | None = Field(None, description="the invoice's new pay link: only in the answer that makes it "
                                                  "(approve, pay-link); the link is not stored, only its hash")


class InvoiceList(BaseModel):
    data: list[InvoiceOut]
    next_cursor: str | None


def out(i: Invoice, today: date) -> InvoiceOut:
    def money(minor: int) -> str:
        return str(from_minor(minor, i.currency))

    return InvoiceOut(id=public_id("inv", i.id), number=i.number, customer=public_id("cus", i.customer_id),
                      status=i.status, overdue=st.is_overdue(st.Status(i.status), i.due_date, today),
                      currency=i.currency, issue_date=i.issue_date, due_date=i.due_date, rf_reference=i.rf_reference,
                      net=money(i.net_minor), vat=money(i.vat_minor), total=money(i.total_minor),
                      paid=money(i.paid_minor), open=money(i.open_minor), payment_pending=money(i.pending_minor),
                      refunded=money(i.refunded_minor),
                      viewed_at=i.viewed_at, created_at=i.created_at, approved_at=i.approved_at)


def load(s: Session, merchant_id: int, invoice_id: str) -> Invoice:
    found = s.scalar(select(Invoice).where(Invoice.id == row_id("inv", invoice_id, "invoice"),
                                           Invoice.merchant_id == merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no invoice {invoice_id[:60]}")
    return found


@router.get("", response_model=InvoiceList)
def list_invoices(who: Annotated[Principal, Depends(require("invoices:read"))],
                  s: Db,
                  status: Annotated[list[st.Status] | None, Query()] = None,
                  customer: str | None = None, overdue: bool | None = None,
                  issued_from: date | None = None, issued_to: date | None = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> InvoiceList:
    today = clock.today()
    query = select(Invoice).where(Invoice.merchant_id == who.merchant_id, Invoice.id > decode_cursor(cursor))
    if status:
        query = query.where(Invoice.status.in_([x.value for x in status]))
    if customer is not None:
        query = query.where(Invoice.customer_id == load_customer(s, who.merchant_id, customer).id)
    if overdue is not None:
        late = Invoice.status.in_([x.value for x in st.OPEN]) & (Invoice.due_date < today)
        query = query.where(late if overdue else ~late)
    if issued_from:
        query = query.where(Invoice.issue_date >= issued_from)
    if issued_to:
        query = query.where(Invoice.issue_date <= issued_to)
    rows = list(s.scalars(query.order_by(Invoice.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return InvoiceList(data=[out(i, today) for i in rows], next_cursor=encode_cursor(rows[-1].id) if more else None)


def _input(customer_code: str, body: InvoiceIn) -> InvoiceInput:
    return InvoiceInput(
        customer_code=customer_code, currency=body.currency, issue_date=body.issue_date, due_date=body.due_date,
        notes=body.notes, lines=[LineInput(line.description, Decimal(line.quantity), Decimal(line.unit_price),
                                           Decimal(line.vat_rate), Decimal(line.discount_percent))
                                 for line in body.lines])


@router.post("", response_model=InvoiceOut, status_code=201)
def create_invoice(body: InvoiceIn, request: Request, who: Annotated[Principal, Depends(require("invoices:write"))],
                   s: Db) -> InvoiceOut:
    customer = load_customer(s, who.merchant_id, body.customer)
    settings = request.app.state.settings
    invoice = create_draft(s, who.merchant_id, _input(customer.code, body), payment_terms_days=settings.payment_terms_days)
    return out(invoice, clock.today())


@router.put("/{invoice_id}", response_model=InvoiceOut, summary="Change a draft as a whole")
def replace_invoice(invoice_id: str, body: InvoiceIn, request: Request,
                    who: Annotated[Principal, Depends(require("invoices:write"))], s: Db) -> InvoiceOut:
    """A draft's customer, currency, dates, lines and notes, replaced by the body (the same
    as creating one). An approved invoice is not changed: cancel it (409 `not_draft`)."""
    invoice = load(s, who.merchant_id, invoice_id)
    customer = load_customer(s, who.merchant_id, body.customer)
    if invoice.status != st.Status.DRAFT.value:
        raise Problem(409, "not_draft", f"invoice {invoice.number or invoice_id} is {invoice.status}: only a draft "
                                        "can be changed; cancel it and make a new one")
    replace_draft(s, invoice, _input(customer.code, body),
                  payment_terms_days=request.app.state.settings.payment_terms_days)
    return out(invoice, clock.today())


@router.get("/{invoice_id}", response_model=InvoiceOut)
def get_invoice(invoice_id: str, who: Annotated[Principal, Depends(require("invoices:read"))],
                s: Db) -> InvoiceOut:
    return out(load(s, who.merchant_id, invoice_id), clock.today())


@router.post("/{invoice_id}/approve", response_model=InvoiceOut)
def approve_invoice(invoice_id: str, request: Request, who: Annotated[Principal, Depends(require("invoices:write"))],
                    s: Db) -> InvoiceOut:
    settings = request.app.state.settings
    invoice = approve(s, load(s, who.merchant_id, invoice_id), number_pattern=settings.invoice_number_pattern)
    token = links.issue(s, invoice, utcnow(), settings.pay_link_days)
    return out(invoice, clock.today()).model_copy(update={"pay_url": links.pay_url(settings.public_url, token)})


@router.post("/{invoice_id}/pay-link", response_model=InvoiceOut,
             summary="A new pay link for the invoice (the old one stops working)")
def new_pay_link(invoice_id: str, request: Request, who: Annotated[Principal, Depends(require("invoices:write"))],
                 s: Db) -> InvoiceOut:
    settings = request.app.state.settings
    invoice = invoice_service.lock(s, load(s, who.merchant_id, invoice_id))
    token = links.issue(s, invoice, utcnow(), settings.pay_link_days)
    return out(invoice, clock.today()).model_copy(update={"pay_url": links.pay_url(settings.public_url, token)})


@router.post("/{invoice_id}/cancel", response_model=InvoiceOut)
def cancel_invoice(invoice_id: str, request: Request, background: BackgroundTasks,
                   who: Annotated[Principal, Depends(require("invoices:write"))], s: Db) -> InvoiceOut:
    invoice = load(s, who.merchant_id, invoice_id)
    cancel(s, invoice)
    # its pay link stops working now; a payment already at a bank's SCA page is cancelled
    # there once this is committed, so nobody can still authorise it
    in_flight = links.close(s, invoice, utcnow())
    for payment_id in in_flight:
        background.add_task(request.app.state.payments.cancel, payment_id)
    return out(invoice, clock.today())
