"""Use cases around customers and invoices: load, call the pure core, save."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from babel import Locale
from babel.numbers import list_currencies
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from core.events import emit
from core.money import AmountError, from_minor, parse_amount, to_minor
from invoices import status as st
from invoices.errors import InvoiceError
from invoices.arithmetic import InvoiceMathError, InvoiceTotals, LineInput, compute_totals
from invoices.models import LANGUAGES, Customer, CustomerIban, Invoice, InvoiceEvent, InvoiceLine, InvoiceSeries
from invoices.references import compact_rf, rf_for_invoice

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ISO 3166 alpha-2 countries and ISO 4217 currencies as CLDR (Babel) knows them; CLDR's
# pseudo-regions ("ZZ" unknown, "EU", "UN", ...) are no countries to invoice.
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})
COUNTRIES = frozenset(code for code in map(str, Locale("en").territories)
                      if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)
# ISO 4217 codes of money, not of metals, funds or testing (XAU, XDR, XTS, XXX...)
CURRENCIES = frozenset(list_currencies()) - {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU",
                                              "XTS", "XUA", "XXX"}


# ---------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerInput:
    code: str
    name: str
    email: str | None = None
    country: str | None = None
    language: str = "en"
    vat_number: str | None = None
    ibans: tuple[str, ...] = ()


def normalize_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise InvoiceError(f"IBAN {value!r} is not valid: {exc}") from None


def normalize_vat(value: str) -> str:
    try:
        return str(eu_vat.validate(value))
    except ValidationError as exc:
        raise InvoiceError(f"VAT number {value!r} is not valid: {exc}") from None


def _validated(data: CustomerInput) -> CustomerInput:
    code, name = data.code.strip(), data.name.strip()
    if not code:
        raise InvoiceError("customer code is empty")
    if not name:
        raise InvoiceError(f"customer {code!r}: name is empty")
    email = (data.email or "").strip() or None
    if email and not _EMAIL.match(email):
        raise InvoiceError(f"customer {code!r}: email {email!r} is not an email address")
    country = (data.country or "").strip().upper() or None
    if country and country not in COUNTRIES:
        raise InvoiceError(f"customer {code!r}: country {country!r} is not an ISO 3166 code")
    language = (data.language or "en").strip().lower()
    if language not in LANGUAGES:
        raise InvoiceError(
            f"customer {code!r}: language {language!r} is not one of {', '.join(LANGUAGES)}"
        )
    vat = normalize_vat(data.vat_number) if data.vat_number and data.vat_number.strip() else None
    ibans = tuple(dict.fromkeys(normalize_iban(i) for i in data.ibans if i.strip()))
    return CustomerInput(code, name, email, country, language, vat, ibans)


def upsert_customer(session: Session, merchant_id: int, data: CustomerInput) -> Customer:
    """Create or update a customer by its code; known IBANs are added, never dropped."""
    data = _validated(data)
    customer = session.scalar(
        select(Customer)
        .where(Customer.merchant_id == merchant_id, Customer.code == data.code)
        .options(selectinload(Customer.ibans))
    )
    if customer is None:
        customer = Customer(merchant_id=merchant_id, code=data.code, ibans=[])
        session.add(customer)
    customer.name = data.name
    customer.email = data.email
    customer.country = data.country
    customer.language = data.language
    customer.vat_number = data.vat_number
    known = {i.iban for i in customer.ibans}
    for iban in data.ibans:
        if iban not in known:
            customer.ibans.append(CustomerIban(merchant_id=merchant_id, iban=iban))
    session.flush()
    return customer


def remember_iban(session: Session, merchant_id: int, customer_id: int, iban: str) -> None:
    """A payer IBAN confirmed to belong to the customer: evidence for next time."""
    exists = session.scalar(
        select(CustomerIban.id).where(
            CustomerIban.merchant_id == merchant_id,
            CustomerIban.customer_id == customer_id,
            CustomerIban.iban == iban,
        )
    )
    if exists is None:
        session.add(
            CustomerIban(
                merchant_id=merchant_id, customer_id=customer_id, iban=iban, source="statement"
            )
        )


def get_customer(session: Session, merchant_id: int, code: str) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.merchant_id == merchant_id, Customer.code == code)
    )
    if customer is None:
        raise InvoiceError(f"no customer with code {code!r}")
    return customer


# ---------------------------------------------------------------- invoices


@dataclass(frozen=True)
class InvoiceInput:
    customer_code: str
    currency: str
    lines: Sequence[LineInput]
    issue_date: date
    due_date: date | None = None
    number: str | None = None  # None: taken from the series at approval
    rf_reference: str | None = None  # None: derived from the number at approval
    notes: str | None = None
    already_paid: Decimal = field(default=Decimal(0))


def _event(session: Session, invoice: Invoice, kind: str, detail: str, amount: int | None = None) -> None:
    session.add(
        InvoiceEvent(
            merchant_id=invoice.merchant_id,
            invoice_id=invoice.id,
            kind=kind,
            detail=detail,
            amount_minor=amount,
        )
    )


def note(session: Session, invoice: Invoice, kind: str, detail: str, amount_minor: int | None = None) -> None:
    """A line in the invoice's history that changes nothing else (e.g. money to give back)."""
    _event(session, invoice, kind, detail[:2000], amount_minor)


# dates an invoice may carry: wide enough for any real one, far from the calendar's ends
EARLIEST, LATEST = date(1970, 1, 1), date(2199, 12, 31)


def _checked_draft(session: Session, merchant_id: int, data: InvoiceInput,
                   payment_terms_days: int) -> tuple[Customer, str, InvoiceTotals, date]:
    """What a draft of `data` is: its customer, currency, totals and due date, or why not."""
    currency = data.currency.strip().upper()
    if currency not in CURRENCIES:
        raise InvoiceError(f"currency {data.currency!r} is not an ISO 4217 code")
    customer = get_customer(session, merchant_id, data.customer_code)
    try:
        totals = compute_totals(data.lines, currency)
    except InvoiceMathError as exc:
        raise InvoiceError(str(exc)) from None
    if totals.total <= 0:
        raise InvoiceError(f"the invoice totals {totals.total} {currency}: there is nothing to pay")
    for name, day in (("issue date", data.issue_date), ("due date", data.due_date)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvoiceError(f"{name} {day} is not between {EARLIEST} and {LATEST}")
    due = data.due_date or data.issue_date + timedelta(days=payment_terms_days)
    if due < data.issue_date:
        raise InvoiceError(f"due date {due} is before issue date {data.issue_date}")
    return customer, currency, totals, due


def _fill(invoice: Invoice, data: InvoiceInput, customer: Customer, currency: str, totals: InvoiceTotals,
          due: date) -> None:
    invoice.customer_id, invoice.currency, invoice.issue_date, invoice.due_date = customer.id, currency, \
        data.issue_date, due
    invoice.notes = data.notes
    invoice.net_minor = to_minor(totals.net, currency)
    invoice.vat_minor = to_minor(totals.vat, currency)
    invoice.total_minor = to_minor(totals.total, currency)
    for pos, (line, lt) in enumerate(zip(data.lines, totals.lines, strict=True), start=1):
        invoice.lines.append(
            InvoiceLine(
                merchant_id=invoice.merchant_id,
                position=pos,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                vat_rate=line.vat_rate,
                net_minor=to_minor(lt.net, currency),
                vat_minor=to_minor(lt.vat, currency),
            )
        )


def create_draft(
    session: Session, merchant_id: int, data: InvoiceInput, *, payment_terms_days: int = 14
) -> Invoice:
    customer, currency, totals, due = _checked_draft(session, merchant_id, data, payment_terms_days)
    invoice = Invoice(merchant_id=merchant_id, number=data.number.strip() if data.number else None,
                      status=st.Status.DRAFT.value, paid_minor=0)
    _fill(invoice, data, customer, currency, totals, due)
    session.add(invoice)
    session.flush()
    _event(session, invoice, "created", "draft created", invoice.total_minor)
    return invoice


def replace_draft(session: Session, invoice: Invoice, data: InvoiceInput, *, payment_terms_days: int = 14) -> Invoice:
    """A draft changed as a whole (customer, currency, dates, lines, notes); once approved
    an invoice is not changed, it is cancelled or credited."""
    lock(session, invoice)
    if invoice.status != st.Status.DRAFT.value:
        raise InvoiceError(f"invoice {invoice.number or invoice.id} is {invoice.status}: only a draft can be changed")
    customer, currency, totals, due = _checked_draft(session, invoice.merchant_id, data, payment_terms_days)
    invoice.lines.clear()
    session.flush()  # the old lines go before the new ones take their positions
    _fill(invoice, data, customer, currency, totals, due)
    session.flush()
    _event(session, invoice, "changed", "draft changed", invoice.total_minor)
    return invoice


def next_number(session: Session, merchant_id: int, pattern: str, year: int) -> str:
    """Take the next number of the series; the row lock serialises concurrent approvals."""
    series = session.scalar(
        select(InvoiceSeries)
        .where(
            InvoiceSeries.merchant_id == merchant_id,
            InvoiceSeries.pattern == pattern,
            InvoiceSeries.year == year,
        )
        .with_for_update()
    )
    if series is None:
        series = InvoiceSeries(merchant_id=merchant_id, pattern=pattern, year=year, next_seq=1)
        session.add(series)
    seen: set[str] = set()
    while True:
        number = pattern.format(year=year, seq=series.next_seq)
        series.next_seq += 1
        if number in seen or len(seen) > 100_000:
            raise InvoiceError(f"the number pattern {pattern!r} gives no free number (last tried {number})")
        seen.add(number)
        taken = session.scalar(
            select(Invoice.id).where(Invoice.merchant_id == merchant_id, Invoice.number == number)
        )
        if taken is None:
            session.flush()
            return number


def lock(session: Session, invoice: Invoice) -> Invoice:
    """Re-read the invoice under a row lock (FOR UPDATE on PostgreSQL; SQLite lets one
    writer in at a time already): its status and what is paid may have changed since it
    was loaded, and every decision about them is made on what holds now."""
    if invoice.id is not None:
        session.flush()
        session.refresh(invoice, with_for_update=True)
    return invoice


def approve(
    session: Session, invoice: Invoice, *, number_pattern: str = "INV-{year}-{seq:05d}",
    rf_reference: str | None = None,
) -> Invoice:
    """Draft -> issued: the number and the RF reference are assigned, totals frozen."""
    lock(session, invoice)
    try:
        invoice.status = st.approve(st.Status(invoice.status)).value
    except st.TransitionError as exc:
        raise InvoiceError(str(exc)) from None
    if not invoice.number:
        invoice.number = next_number(session, invoice.merchant_id, number_pattern, invoice.issue_date.year)
    if rf_reference:
        try:
            invoice.rf_reference = compact_rf(rf_reference)
        except ValidationError:
            raise InvoiceError(f"RF reference {rf_reference!r} fails its ISO 11649 check") from None
    else:
        invoice.rf_reference = rf_for_invoice(invoice.merchant_id, invoice.number)
    taken = session.scalar(
        select(Invoice.number).where(
            Invoice.merchant_id == invoice.merchant_id,
            Invoice.rf_reference == invoice.rf_reference,
            Invoice.id != invoice.id,
        )
    )
    if taken is not None:
        raise InvoiceError(f"RF reference {invoice.rf_reference} already belongs to invoice {taken}")
    invoice.approved_at = datetime.now(UTC)
    session.flush()
    _event(session, invoice, "approved", f"number {invoice.number}, reference {invoice.rf_reference}")
    return invoice


def create_issued(
    session: Session, merchant_id: int, data: InvoiceInput, *, number_pattern: str = "INV-{year}-{seq:05d}",
    payment_terms_days: int = 14,
) -> Invoice:
    """An invoice that exists already (import) or is made and approved in one go."""
    if data.number:
        clash = session.scalar(
            select(Invoice.id).where(Invoice.merchant_id == merchant_id, Invoice.number == data.number.strip())
        )
        if clash is not None:
            raise InvoiceError(f"invoice number {data.number!r} already exists")
    invoice = create_draft(session, merchant_id, data, payment_terms_days=payment_terms_days)
    approve(session, invoice, number_pattern=number_pattern, rf_reference=data.rf_reference)
    if data.already_paid:
        try:
            paid = to_minor(parse_amount(format(data.already_paid, "f"), invoice.currency), invoice.currency)
        except AmountError as exc:
            raise InvoiceError(f"already paid: {exc}") from None
        if paid > invoice.total_minor:
            raise InvoiceError(f"already paid {data.already_paid} is more than the total")
        if paid:
            change_paid(session, invoice, paid, "paid before import")
    return invoice


def change_paid(session: Session, invoice: Invoice, delta_minor: int, detail: str, *, locked: bool = False) -> None:
    """Add (or, for a reversal, take back) money paid on the invoice; status follows.
    Never more than is open (the database refuses it too)."""
    if not locked:
        lock(session, invoice)
    if delta_minor > invoice.open_minor:
        raise InvoiceError(f"invoice {invoice.number}: {from_minor(delta_minor, invoice.currency)} is more than the "
                           f"{from_minor(invoice.open_minor, invoice.currency)} {invoice.currency} still open")
    new_paid = invoice.paid_minor + delta_minor
    try:
        invoice.status = st.after_payment(st.Status(invoice.status), invoice.total_minor, new_paid).value
    except st.TransitionError as exc:
        raise InvoiceError(f"invoice {invoice.number}: {exc}") from None
    invoice.paid_minor = new_paid
    invoice.paid_at = datetime.now(UTC) if invoice.status == st.Status.PAID else None
    _event(session, invoice, "payment" if delta_minor > 0 else "payment_reversed", detail, delta_minor)
    if delta_minor > 0 and invoice.status in (st.Status.PAID, st.Status.PARTIALLY_PAID):
        emit(session, invoice.merchant_id, f"invoice.{invoice.status}", invoice=f"inv_{invoice.id}",
             number=invoice.number, paid=str(from_minor(invoice.paid_minor, invoice.currency)),
             total=str(from_minor(invoice.total_minor, invoice.currency)), currency=invoice.currency)


def record_refund(session: Session, invoice: Invoice, amount_minor: int, detail: str) -> None:
    """Money given back to the payer (a credit against what was paid, as a credit note
    would be): the invoice keeps its status, its timeline shows the refund. Never more
    than was paid."""
    lock(session, invoice)
    if amount_minor <= 0 or invoice.refunded_minor + amount_minor > invoice.paid_minor + invoice.pending_minor:
        raise InvoiceError(f"invoice {invoice.number}: a refund of {from_minor(amount_minor, invoice.currency)} is "
                           f"more than the {from_minor(invoice.paid_minor - invoice.refunded_minor, invoice.currency)} "
                           f"{invoice.currency} paid and not yet refunded")
    invoice.refunded_minor += amount_minor
    _event(session, invoice, "refund", detail, -amount_minor)


def cancel(session: Session, invoice: Invoice) -> None:
    lock(session, invoice)
    try:
        invoice.status = st.cancel(st.Status(invoice.status), invoice.paid_minor).value
    except st.TransitionError as exc:
        raise InvoiceError(str(exc)) from None
    _event(session, invoice, "cancelled", "cancelled")


def find_invoice(session: Session, merchant_id: int, number: str) -> Invoice:
    invoice = session.scalar(
        select(Invoice).where(Invoice.merchant_id == merchant_id, Invoice.number == number)
    )
    if invoice is None:
        raise InvoiceError(f"no invoice numbered {number!r}")
    return invoice


def list_invoices(
    session: Session,
    merchant_id: int,
    *,
    statuses: Sequence[str] = (),
    overdue_on: date | None = None,
    limit: int | None = None,
) -> list[Invoice]:
    query = (
        select(Invoice)
        .where(Invoice.merchant_id == merchant_id)
        .options(selectinload(Invoice.customer))
        .order_by(Invoice.issue_date, Invoice.number)
    )
    if statuses:
        query = query.where(Invoice.status.in_(list(statuses)))
    if overdue_on is not None:
        query = query.where(
            Invoice.status.in_([s.value for s in st.OPEN]), Invoice.due_date < overdue_on
        )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_invoices(session: Session, merchant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Invoice.status, func.count()).where(Invoice.merchant_id == merchant_id).group_by(Invoice.status)
    )
    return {status: n for status, n in rows}
