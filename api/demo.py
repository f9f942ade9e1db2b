"""`kvits demo`: the whole job on the embedded database in one command.

Without --statement: merchant `demo` gets the customers and invoices of examples/ and
imports examples/demo-statement.xml. With --statement FILE: merchant `demo-<hash>`
gets, for about two of every three booked incoming payments in that file, a customer
and an open invoice of that amount, described the way a payer would have known it
(the structured RF reference they quoted, the invoice number they typed, their IBAN,
their name), so a finance team can watch kvits reconcile its own bank's file.
Running it again changes nothing: customers are upserted, existing invoices kept, and
the statement is recognised as already imported.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from stdnum import iso11649

import camt
import examples
from api import render
from api.runtime import Runtime
from core import clock
from core.tenancy import get_or_create_merchant
from invoices import csvio
from invoices import service as invoices
from invoices.arithmetic import LineInput
from invoices.models import Invoice
from reconciliation.identity import meaningful
from reconciliation.model import MatchSettings
from reconciliation.service import ImportOptions, import_statement

EXAMPLES = Path(examples.__file__).resolve().parent
# what a payer types as an invoice number: letters, digits and '-', with two digits
_NUMBER_TOKEN = re.compile(r"(?<![A-Z0-9/-])(?=[A-Z0-9-]*\d[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{2,30}[A-Z0-9](?![A-Z0-9/-])")


def run(rt: Runtime, console: Console, statement: Path | None) -> None:
    if statement is None:
        code, name = rt.merchant_code or "demo", "SIA Demo Darbnīca"
        source = EXAMPLES / "demo-statement.xml"
    else:
        if not statement.is_file():
            raise FileNotFoundError(f"no such file: {statement}")
        digest = hashlib.sha256(statement.read_bytes()).hexdigest()[:8]
        code, name = rt.merchant_code or f"demo-{digest}", f"Demo for {statement.name}"
        source = statement
    console.print(f"[bold]kvits demo[/] · merchant [cyan]{escape(code)}[/] ({escape(name)}) · "
                  f"database {escape(rt.describe()['database'])}")

    with rt.unit() as session:
        merchant = get_or_create_merchant(session, code, name)
        mid = merchant.id
        if statement is None:
            created = _load_examples(session, mid, rt)
        else:
            created = _invoices_for_statement(session, mid, statement)
        existing = session.scalar(select(func.count()).select_from(Invoice).where(Invoice.merchant_id == mid))
    if created:
        console.print(f"{created} open invoices created")
    elif existing:
        console.print("customers and invoices already there")
    else:
        console.print("[yellow]no invoice created: no booked incoming payment in this file says who paid "
                      "(no payer name, account or reference) - nothing an invoice could be found by[/]")

    options = ImportOptions(
        max_bytes=rt.settings.max_statement_bytes,
        settings=MatchSettings(auto_apply_at=rt.settings.auto_apply_at),
        line_limit=200,
    )
    with rt.unit() as session:
        report = import_statement(session, mid, source, options=options)
    render.import_report(console, report)

    with rt.unit() as session:
        rows = invoices.list_invoices(session, mid)
        render.invoices_table(console, rows, clock.today(), title=f"Invoices of {code}")
        paid = sum(1 for r in rows if r.status == "paid")
        partial = sum(1 for r in rows if r.status == "partially_paid")
    console.print(
        f"[bold]{paid} paid[/], {partial} partially paid, {len(rows) - paid - partial} open or other. "
        f"Next: [cyan]kvits -m {code} review[/] for the suggestions, "
        f"[cyan]kvits -m {code} statements list[/], [cyan]kvits -m {code} invoices list --overdue[/]."
    )


def _load_examples(session, mid: int, rt: Runtime) -> int:  # type: ignore[no-untyped-def]
    for customer in csvio.read_customers(EXAMPLES / "customers.csv"):
        invoices.upsert_customer(session, mid, customer)
    created = 0
    for data in csvio.read_invoices(EXAMPLES / "invoices.csv"):
        exists = session.scalar(select(Invoice.id).where(Invoice.merchant_id == mid, Invoice.number == data.number))
        if exists is None:
            invoices.create_issued(session, mid, data, number_pattern=rt.settings.invoice_number_pattern)
            created += 1
    return created


def _valid_iban(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(IBAN(value).compact)
    except SchwiftyException:
        return None


def _invoices_for_statement(session, mid: int, path: Path) -> int:  # type: ignore[no-untyped-def]
    doc = camt.read(path)
    created = 0
    n = 0
    used_numbers: set[str] = set()
    for stmt in doc.statements:
        for entry in stmt.entries:
            if entry.status.upper() != "BOOK" or entry.reversal or entry.credit_debit != "CRDT":
                continue
            for tx in entry.transactions:
                if tx.credit_debit != "CRDT" or tx.amount <= 0:
                    continue
                n += 1
                if n % 3 == 0:  # leave a third without an invoice: real files have those too
                    continue
                created += _invoice_for(session, mid, entry, tx, n, used_numbers)
    return created


def _invoice_for(session, mid: int, entry: camt.Entry, tx: camt.Transaction, n: int,  # type: ignore[no-untyped-def]
                 used: set[str]) -> int:
    payer = tx.debtor or tx.ultimate_debtor
    payer_name = (payer.name if payer else None) or None
    iban = _valid_iban(payer.iban if payer else None)
    refs = [c.replace(" ", "").upper() for c in tx.creditor_references]
    rf = next((r for r in refs if iso11649.is_valid(r)), None)
    # the entry's own text speaks for its only transaction, not for each one of a batch
    entry_text = entry.additional_info or "" if len(entry.transactions) == 1 else ""
    text = " ".join([*tx.remittance_unstructured, tx.additional_info or "", entry_text]).upper()
    # a national structured reference (QR, ESR, Finnish) is the invoice's number to us;
    # a year or an account number in the text is not
    quoted = [r for r in refs if r != rf and len(r) <= 64] + [
        t for t in (m.group(0) for m in _NUMBER_TOKEN.finditer(text))
        if not re.fullmatch(r"(19|20)\d\d", t) and _valid_iban(t) is None
    ]
    token = next((q for q in quoted if q not in used), None)
    if rf is None and token and iso11649.is_valid(token):
        rf, token = token, None
    if not (rf or token or iban or payer_name):
        return 0  # nothing a payer could have quoted: no invoice would be findable
    key = hashlib.sha256(f"{payer_name}|{iban}".encode()).hexdigest()[:8]
    customer = invoices.upsert_customer(
        session, mid,
        invoices.CustomerInput(
            code=f"P{key}", name=(payer_name or f"Payer {iban or key}")[:200],
            country=(iban[:2] if iban else None), ibans=(iban,) if iban else (),
        ),
    )
    number = token if (token and not rf) else f"DEMO-{n:04d}"
    used.add(number)
    if session.scalar(select(Invoice.id).where(Invoice.merchant_id == mid, Invoice.number == number)):
        return 0
    if rf and session.scalar(select(Invoice.id).where(Invoice.merchant_id == mid, Invoice.rf_reference == rf)):
        rf = None  # quoted twice in the file: this payment's invoice gets a reference of its own
    day = entry.booking_date or entry.value_date or date.today()
    data = invoices.InvoiceInput(
        customer_code=customer.code, currency=tx.currency, number=number, rf_reference=rf,
        issue_date=day - timedelta(days=14), due_date=day + timedelta(days=16),
        lines=(LineInput(description=f"Demo invoice for {payer_name or 'payment'} "
                                     f"({meaningful(entry.account_servicer_reference) or n})"[:500],
                         quantity=Decimal(1), unit_price=tx.amount),),
    )
    invoices.create_issued(session, mid, data)
    return 1
