"""Customers of the merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.deps import Db, Timestamp, decode_cursor, encode_cursor, public_id, require, row_id
from api.problems import Problem
from api.security import Principal
from core.models import Merchant
from invoices.models import Customer
from invoices.service import CustomerInput, upsert_customer

router = APIRouter(prefix="/v1/customers", tags=["customers"])


class CustomerIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254)
    country: str | None = Field(None, min_length=2, max_length=2)
    language: str = Field("en", pattern="^(lv|et|lt|en|ru)$")
    vat_number: str | None = Field(None, max_length=32)
    ibans: list[str] = Field(default_factory=list, max_length=20)


class CustomerOut(BaseModel):
    id: str
    code: str
    name: str
    email: str | None
    country: str | None
    language: str
    vat_number: str | None
    ibans: list[str]
    created_at: Timestamp


class CustomerList(BaseModel):
    data: list[CustomerOut]
    next_cursor: str | None


def out(c: Customer) -> CustomerOut:
    return CustomerOut(id=public_id("cus", c.id), code=c.code, name=c.name, email=c.email, country=c.country,
                       language=c.language, vat_number=c.vat_number, ibans=[i.iban for i in c.ibans],
                       created_at=c.created_at)


def load(s: Session, merchant_id: int, customer_id: str) -> Customer:
    found = s.scalar(select(Customer).where(Customer.id == row_id("cus", customer_id, "customer"),
                                            Customer.merchant_id == merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no customer {customer_id[:60]}")
    return found


@router.get("", response_model=CustomerList)
def list_customers(who: Annotated[Principal, Depends(require("invoices:read"))],
                   s: Db,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   cursor: str | None = None) -> CustomerList:
    rows = list(s.scalars(select(Customer).where(Customer.merchant_id == who.merchant_id,
                                                 Customer.id > decode_cursor(cursor))
                          .options(selectinload(Customer.ibans)).order_by(Customer.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return CustomerList(data=[out(c) for c in rows], next_cursor=encode_cursor(rows[-1].id) if more else None)


@router.post("", response_model=CustomerOut, status_code=201)
def create_customer(body: CustomerIn, who: Annotated[Principal, Depends(require("invoices:write"))],
                    s: Db) -> CustomerOut:
    # one new customer of a merchant at a time: the check below then holds until the commit
    s.scalar(select(Merchant.id).where(Merchant.id == who.merchant_id).with_for_update())
    exists = s.scalar(select(Customer.id).where(Customer.merchant_id == who.merchant_id, Customer.code == body.code))
    if exists is not None:
        raise Problem(409, "conflict", f"a customer with code {body.code!r} exists already: cus_{exists}")
    customer = upsert_customer(s, who.merchant_id, CustomerInput(
        code=body.code, name=body.name, email=body.email, country=body.country, language=body.language,
        vat_number=body.vat_number, ibans=tuple(body.ibans)))
    s.flush()
    s.refresh(customer)
    return out(customer)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, who: Annotated[Principal, Depends(require("invoices:read"))],
                 s: Db) -> CustomerOut:
    return out(load(s, who.merchant_id, customer_id))


@router.put("/{customer_id}", response_model=CustomerOut, summary="Change a customer's details")
def replace_customer(customer_id: str, body: CustomerIn, who: Annotated[Principal, Depends(require("invoices:write"))],
                     s: Db) -> CustomerOut:
    """Name, email, country, language, VAT number replaced by the body; IBANs in it are
    added to those known (an IBAN once seen paying stays evidence). The code stays."""
    customer = load(s, who.merchant_id, customer_id)
    if body.code != customer.code:
        raise Problem(422, "code_fixed", f"a customer's code does not change: this one is {customer.code!r}")
    upsert_customer(s, who.merchant_id, CustomerInput(
        code=customer.code, name=body.name, email=body.email, country=body.country, language=body.language,
        vat_number=body.vat_number, ibans=tuple(body.ibans)))
    s.flush()
    s.refresh(customer)
    return out(customer)
