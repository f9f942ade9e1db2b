"""The `kvits` command line. Parses input, calls one use case, shapes the output.

Every error a user can cause ends as one readable line on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from camt.errors import CamtError
from core import clock
from core.errors import KvitsError

if TYPE_CHECKING:
    from api.runtime import Runtime
    from reconciliation.feeds import Feeds, FeedView
    from reconciliation.review import SuggestionView

# Heavy modules (SQLAlchemy, the engine) are imported inside the commands: a refused
# file or a --help answers in a fraction of a second.

app = typer.Typer(
    help="kvits: import bank statements (camt.053/052/054) and see which invoices they paid.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
customers_app = typer.Typer(help="Customers of the merchant.", no_args_is_help=True)
invoices_app = typer.Typer(help="Invoices: import, create, list, pay links.", no_args_is_help=True)
fees_app = typer.Typer(help="kvits' fee on payments through pay links.", no_args_is_help=True)
payments_app = typer.Typer(help="Payments payers made through pay links: list, refund.", no_args_is_help=True)
feeds_app = typer.Typer(help="Bank feeds: statements fetched from the bank (PSD2 account information).",
                        no_args_is_help=True)
statements_app = typer.Typer(help="Bank statements: import, list, show.", no_args_is_help=True)
review_app = typer.Typer(help="Matches the engine was not sure of: accept, reject, assign, undo.")
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
app.add_typer(customers_app, name="customers")
app.add_typer(invoices_app, name="invoices")
app.add_typer(statements_app, name="statements")
app.add_typer(review_app, name="review")
app.add_typer(db_app, name="db")

from api.cli_api import beat, clients_app, merchants_app, serve, users_app, worker  # noqa: E402  (after the app they join)
from api.cli_state import State  # noqa: E402
from api.cli_sandbox import sandbox_app  # noqa: E402

app.add_typer(sandbox_app, name="sandbox")
app.add_typer(merchants_app, name="merchants")
app.add_typer(clients_app, name="clients")
app.add_typer(users_app, name="users")
app.add_typer(fees_app, name="fees")
app.add_typer(payments_app, name="payments")
app.add_typer(feeds_app, name="feeds")
app.command("serve")(serve)
app.command("worker")(worker)
app.command("beat")(beat)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

USER_ERRORS = (KvitsError, CamtError, FileNotFoundError, IsADirectoryError, PermissionError)


def say_error(message: str, label: str = "error") -> None:
    """One line on stderr. The message is never read as markup: it quotes file names,
    element values and payment texts, which may contain '[' and ']'."""
    err.print(Text.assemble((f"{label}:", "red"), " ", message), soft_wrap=True)


def user_message(exc: BaseException) -> str:
    """An OS error as 'FILE: reason' instead of '[Errno 2] No such file or directory: ...'."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror.lower()}"
    return str(exc)


def fail(message: str, code: int = 1) -> NoReturn:
    say_error(message)
    raise typer.Exit(code)


@app.callback()
def main_options(
    merchant: Annotated[str | None, typer.Option(
        "--merchant", "-m", help="Merchant code to work for (default: KVITS_MERCHANT or 'default').",
    )] = None,
) -> None:
    State.merchant = merchant
    State._runtime = None


def _today(value: str | None, option: str = "--today") -> date:
    if value is None:
        return clock.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")


# ------------------------------------------------------------------ customers


@customers_app.command("import")
def customers_import(file: Annotated[Path, typer.Argument(help="CSV: code,name,email,country,language,vat_number,ibans")]) -> None:
    """Create or update customers from a CSV file (all rows or none)."""
    from invoices import csvio
    from invoices import service as invoices

    rows = csvio.read_customers(file)
    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session, create=True)
        for row in rows:
            invoices.upsert_customer(session, mid, row)
    out.print(f"{len(rows)} customers imported from {escape(file.name)}")


@customers_app.command("list")
def customers_list() -> None:
    """Customers with their known IBANs."""
    from rich.table import Table
    from sqlalchemy import select

    from invoices.models import Customer

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        table = Table(title="Customers")
        for col in ("code", "name", "email", "country", "lang", "VAT", "known IBANs"):
            table.add_column(col)
        for c in session.scalars(select(Customer).where(Customer.merchant_id == mid).order_by(Customer.code)):
            table.add_row(*(escape(v) for v in (c.code, c.name, c.email or "", c.country or "", c.language,
                                                c.vat_number or "", " ".join(i.iban for i in c.ibans))))
        out.print(table)


# ------------------------------------------------------------------ invoices


@invoices_app.command("import")
def invoices_import(file: Annotated[Path, typer.Argument(help="CSV, one row per invoice line")]) -> None:
    """Import issued invoices (numbers given) from a CSV file (all or none)."""
    from invoices import csvio
    from invoices import service as invoices
    from invoices.errors import InvoiceError

    rows = csvio.read_invoices(file)
    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session, create=True)
        for row in rows:
            try:
                invoices.create_issued(
                    session, mid, row, number_pattern=rt.settings.invoice_number_pattern,
                    payment_terms_days=rt.settings.payment_terms_days,
                )
            except InvoiceError as exc:
                raise InvoiceError(f"{file.name}: invoice {row.number}: {exc}") from None
    out.print(f"{len(rows)} invoices imported from {escape(file.name)}")


def _parse_line(text: str):  # type: ignore[no-untyped-def]
    from invoices.arithmetic import LineInput
    from invoices.errors import InvoiceError

    parts = [p.strip() for p in text.split(";")]
    if not 3 <= len(parts) <= 5 or not parts[0]:
        raise InvoiceError(f"--line {text!r}: use 'description;quantity;unit price[;VAT %[;discount %]]'")
    from invoices.csvio import DECIMAL

    if not all(DECIMAL.fullmatch(p) for p in parts[1:]):
        raise InvoiceError(f"--line {text!r}: quantity, price, VAT and discount must be decimals")
    nums = [Decimal(p) for p in parts[1:]]
    return LineInput(
        description=parts[0], quantity=nums[0], unit_price=nums[1],
        vat_rate=nums[2] if len(nums) > 2 else Decimal(0),
        discount_percent=nums[3] if len(nums) > 3 else Decimal(0),
    )


@invoices_app.command("create")
def invoices_create(
    customer: Annotated[str, typer.Option(help="Customer code")],
    line: Annotated[list[str], typer.Option(help="'description;quantity;unit price;VAT %;discount %' (repeat)")],
    currency: Annotated[str, typer.Option()] = "EUR",
    issue_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD, default today")] = None,
    due_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD, default issue date + payment terms")] = None,
    number: Annotated[str | None, typer.Option(help="Number; default: next of the series")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Keep it a draft (no number, no RF yet)")] = False,
) -> None:
    """Create an invoice; it is approved (number and RF reference) unless --draft."""
    from api import render
    from invoices import service as invoices

    lines = [_parse_line(t) for t in line]
    data = invoices.InvoiceInput(
        customer_code=customer, currency=currency, lines=lines, issue_date=_today(issue_date, "--issue-date"),
        due_date=_today(due_date, "--due-date") if due_date else None, number=number, notes=notes,
    )
    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        if draft:
            inv = invoices.create_draft(session, mid, data, payment_terms_days=rt.settings.payment_terms_days)
        else:
            inv = invoices.create_issued(session, mid, data, number_pattern=rt.settings.invoice_number_pattern,
                                         payment_terms_days=rt.settings.payment_terms_days)
        total = render.money(inv.total_minor, inv.currency)
        label = inv.number or f"draft #{inv.id}"
        out.print(f"invoice {label}: {total} {inv.currency}, due {inv.due_date}, status {inv.status}"
                  + (f", reference {inv.rf_reference}" if inv.rf_reference else ""))


@invoices_app.command("pay-link")
def invoices_pay_link(number: str) -> None:
    """Make a new pay link for invoice NUMBER and print it (the old link stops working;
    the link is shown only now: kvits keeps only its hash)."""
    from core.db import utcnow
    from invoices import service as invoices
    from paylinks import links

    rt = State.rt()
    with rt.unit() as session:
        invoice = invoices.lock(session, invoices.find_invoice(session, rt.merchant_id(session), number))
        token = links.issue(session, invoice, utcnow(), rt.settings.pay_link_days)
    out.print(links.pay_url(rt.settings.public_url, token), soft_wrap=True)
    out.print(f"[dim]valid {rt.settings.pay_link_days} days (KVITS_PAY_LINK_DAYS); served by `kvits serve`[/dim]")


@invoices_app.command("approve")
def invoices_approve(draft_id: Annotated[int, typer.Argument(help="Draft id as shown by create --draft")]) -> None:
    """Approve a draft: it gets its number and RF reference."""
    from invoices import service as invoices

    from invoices.models import Invoice

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        inv = session.get(Invoice, draft_id)
        if inv is None or inv.merchant_id != mid:
            fail(f"no draft #{draft_id}")
        invoices.approve(session, inv, number_pattern=rt.settings.invoice_number_pattern)
        out.print(f"invoice {inv.number} issued, reference {inv.rf_reference}")


@invoices_app.command("list")
def invoices_list(
    status: Annotated[list[str] | None, typer.Option(help="draft, issued, partially_paid, paid, cancelled (repeat)")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open invoices past their due date")] = False,
    today: Annotated[str | None, typer.Option(help="Date to judge 'overdue' by, default today")] = None,
) -> None:
    """Invoices with what is still open; overdue is judged by --today."""
    from api import render
    from invoices import service as invoices

    day = _today(today)
    for s in status or []:
        if s not in ("draft", "issued", "partially_paid", "paid", "cancelled"):
            fail(f"--status {s!r} is not one of draft, issued, partially_paid, paid, cancelled")
    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        rows = invoices.list_invoices(session, mid, statuses=status or (), overdue_on=day if overdue else None)
        render.invoices_table(out, rows, day)


@invoices_app.command("report-overdue")
def invoices_report_overdue(
    today: Annotated[str | None, typer.Option(help="The day to judge by (default: today in KVITS_TIMEZONE)")] = None,
) -> None:
    """Run the daily overdue job now, for every merchant: each open invoice past its due
    date is reported once (invoice.overdue webhook, timeline event). Beat runs it hourly.
    --today may be an earlier day (to catch up), never a later one."""
    from invoices.overdue import run_overdue_job

    rt = State.rt()
    day = _today(today) if today else None
    if day is not None and day > clock.today():
        fail(f"--today {day} is in the future: an invoice reported overdue stays reported (its webhook is "
             "sent), so the job judges by today or an earlier day only")
    done = run_overdue_job(rt.factory, rt.settings.timezone, day)
    if done is None:
        fail("another run of the overdue job is working right now; try again in a moment")
    out.print(f"{done} invoice{'s' if done != 1 else ''} newly overdue reported")


@invoices_app.command("show")
def invoices_show(number: str) -> None:
    """One invoice: lines, totals and its history."""
    from api import render
    from invoices import service as invoices

    from rich.table import Table
    from sqlalchemy import select

    from invoices.models import InvoiceEvent

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        inv = invoices.find_invoice(session, mid, number)
        render.invoices_table(out, [inv], clock.today(), title=f"Invoice {inv.number}")
        lines = Table(title="Lines")
        for col in ("#", "description", "qty", "unit price", "disc %", "VAT %", "net"):
            lines.add_column(col)
        for ln in inv.lines:
            lines.add_row(str(ln.position), escape(ln.description), str(ln.quantity), str(ln.unit_price),
                          str(ln.discount_percent), str(ln.vat_rate), str(render.money(ln.net_minor, inv.currency)))
        out.print(lines)
        out.print(f"net {render.money(inv.net_minor, inv.currency)} + VAT {render.money(inv.vat_minor, inv.currency)}"
                  f" = {render.money(inv.total_minor, inv.currency)} {inv.currency}")
        hist = Table(title="History")
        for col in ("when", "what", "amount", "detail"):
            hist.add_column(col)
        events = session.scalars(select(InvoiceEvent).where(InvoiceEvent.invoice_id == inv.id).order_by(InvoiceEvent.id))
        for ev in events:
            amt = "" if ev.amount_minor is None else str(render.money(ev.amount_minor, inv.currency))
            hist.add_row(ev.created_at.strftime("%Y-%m-%d %H:%M"), ev.kind, amt, escape(ev.detail or ""))
        out.print(hist)
        from paylinks.models import PayerPayment

        paid_by_link = list(session.scalars(select(PayerPayment).where(PayerPayment.invoice_id == inv.id)
                                            .order_by(PayerPayment.id)))
        if paid_by_link:
            pay = Table(title="Payments through its pay link")
            for col in ("payment", "state", "amount", "bank", "end-to-end id", "started"):
                pay.add_column(col)
            for p in paid_by_link:
                pay.add_row(f"pay_{p.id}", p.state, str(render.money(p.amount_minor, p.currency)), p.bank_id or "",
                            p.end_to_end_id, p.created_at.strftime("%Y-%m-%d %H:%M"))
            out.print(pay)
        if inv.pending_minor:
            out.print(f"payment pending: {render.money(inv.pending_minor, inv.currency)} {inv.currency} accepted by the "
                      "payer's bank, not yet on a statement")


# ------------------------------------------------------------------ statements


@statements_app.command("import")
def statements_import(
    files: Annotated[list[Path], typer.Argument(help="camt.053 / camt.052 / camt.054 files")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read, match and report, then store nothing")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse a file whose balances or batches do not add up")] = False,
    validate: Annotated[bool, typer.Option("--validate", help="Validate against the ISO 20022 XSD (see --xsd-dir)")] = False,
    xsd_dir: Annotated[Path | None, typer.Option(help="Folder of camt XSDs named like camt.053.001.02.xsd (default KVITS_XSD_DIR)")] = None,
    details: Annotated[bool, typer.Option("--details/--summary", help="Print every transaction or only the summary")] = True,
    limit: Annotated[int, typer.Option(help="Print at most this many transactions per file")] = 500,
) -> None:
    """Import statements: each transaction is stored once and matched to open invoices."""
    from core.settings import get_settings
    from reconciliation.model import MatchSettings
    from reconciliation.source import ImportOptions

    settings = get_settings()
    schema_dir = None
    if validate:
        schema_dir = xsd_dir or (Path(settings.xsd_dir) if settings.xsd_dir else None)
        if schema_dir is None:
            fail("--validate needs the XSD folder: pass --xsd-dir or set KVITS_XSD_DIR")
        if not schema_dir.is_dir():
            fail(f"XSD folder {schema_dir} does not exist")
    options = ImportOptions(
        dry_run=dry_run, strict=strict, schema_dir=schema_dir, max_bytes=settings.max_statement_bytes,
        line_limit=limit if details else 0,
        settings=MatchSettings(auto_apply_at=settings.auto_apply_at),
    )
    failed = 0
    for file in files:
        try:
            report = _import_one(file, options)
        except USER_ERRORS as exc:
            say_error(f"{file.name}: {user_message(exc)}")
            failed += 1
            continue
        from api import render

        render.import_report(out, report, details=details)
    if failed:
        raise typer.Exit(1)


def _import_one(file: Path, options):  # type: ignore[no-untyped-def]
    from contextlib import nullcontext

    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from reconciliation.source import PreparedStatement

    if file.is_dir():
        raise IsADirectoryError(f"{file} is a folder, not a statement file")
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {file}")
    show_progress = file.stat().st_size > 4 * 1024 * 1024 and err.is_terminal
    bar = (Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True)
           if show_progress else None)
    with bar or nullcontext():
        task = bar.add_task(file.name, total=file.stat().st_size) if bar else None
        progress = (lambda n: bar.update(task, completed=n)) if bar and task is not None else None
        # read up to the group header first: a broken or hostile file never reaches the database
        with PreparedStatement(file, options, progress) as prepared:
            from reconciliation.service import import_statement

            rt = State.rt()
            session = rt.factory()
            try:
                with session.begin():
                    report = import_statement(session, rt.merchant_id(session, create=True), prepared, options=options)
                    if options.dry_run:
                        session.rollback()
            finally:
                session.close()
    return report


@statements_app.command("list")
def statements_list(limit: Annotated[int, typer.Option()] = 50) -> None:
    """Imported statements, newest first."""
    from api import render
    from reconciliation import review as reviews

    rt = State.rt()
    with rt.unit() as session:
        render.statements_table(out, reviews.list_statements(session, rt.merchant_id(session), limit))


@statements_app.command("show")
def statements_show(statement_id: int) -> None:
    """One statement's transactions and what each one paid."""
    from api import render
    from reconciliation import review as reviews

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        row = reviews.get_statement(session, mid, statement_id)
        render.statements_table(out, [row])
        if row.balance_message:
            out.print(f"balance check: {row.balance_check} - {escape(row.balance_message)}")
        for p in row.problems:
            out.print(f"[yellow]warning:[/] {escape(p)}")
        txs = reviews.statement_transactions(session, mid, statement_id)
        render.transactions_table(out, txs, reviews.paid_invoices_of(session, [t.id for t in txs]))


# ------------------------------------------------------------------ review


@review_app.callback(invoke_without_command=True)
def review_main(ctx: typer.Context) -> None:
    """Without a sub-command: go through the open suggestions one by one (or list them)."""
    from reconciliation import review as reviews
    from reconciliation.errors import ReviewError

    if ctx.invoked_subcommand is not None:
        return
    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        items = reviews.open_suggestions(session, mid)
        if not items:
            out.print("No suggestions waiting for review.")
            return
        _print_suggestions(items)
    if not sys.stdin.isatty():
        out.print("Use: kvits review accept ID [--candidate N | --invoice NUMBER] · kvits review reject ID")
        return
    for item in items:
        sid = item.suggestion.id
        choices = len(item.suggestion.candidates)
        while True:
            answer = typer.prompt(
                f"suggestion {sid}: [a]ccept best / [1-{choices}] candidate / [r]eject / [s]kip / [q]uit",
                default="s",
            ).strip().lower()
            if answer in ("a", "r", "s", "q") or (answer.isascii() and answer.isdecimal() and 1 <= int(answer) <= choices):
                break
            err.print(f"'{escape(answer)}' is none of a, 1-{choices}, r, s, q")
        if answer == "q":
            break
        if answer == "s":
            continue
        try:
            with rt.unit() as session:
                mid = rt.merchant_id(session)
                if answer == "r":
                    reviews.reject(session, mid, sid)
                    out.print(f"suggestion {sid} rejected")
                else:
                    numbers = reviews.accept(session, mid, sid, candidate=int(answer) - 1 if answer != "a" else 0)
                    kept = reviews.credit_kept(session, item.transaction.id)
                    out.print(f"suggestion {sid} accepted: {escape(_outcome(session, mid, numbers))}{escape(kept)}")
        except ReviewError as exc:  # decided elsewhere meanwhile, or the invoice changed
            say_error(str(exc))


def _outcome(session, merchant_id: int, numbers: list[str]) -> str:  # type: ignore[no-untyped-def]
    """'INV-1 paid, INV-2 partially paid (12.00 EUR still open)': what the invoices are now."""
    from core.money import format_minor
    from invoices import service as invoices

    parts = []
    for number in numbers:
        inv = invoices.find_invoice(session, merchant_id, number)
        if inv.status == "paid":
            parts.append(f"{number} paid")
        else:
            parts.append(f"{number} {inv.status.replace('_', ' ')} ({format_minor(inv.open_minor, inv.currency)} still open)")
    return ", ".join(parts)


def _print_suggestions(items: list[SuggestionView]) -> None:
    """One block per suggestion: its id and the transaction's (for accept / reject and
    assign / undo), the payment, payer and reference in full, then each candidate with
    its confidence and reasons - nothing cut, whatever the terminal's width."""
    from rich.table import Table

    from api import render

    out.print("[bold]Suggestions waiting for review[/]")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for it in items:
        tx = it.transaction
        ref = " ".join([*tx.creditor_references, tx.remittance]).strip()
        head = (f"[bold]{render.money(tx.amount_minor, tx.currency)} {tx.currency}[/] from "
                f"{escape(tx.counterparty_name or '(no name)')}"
                + (f" · {escape(tx.counterparty_iban)}" if tx.counterparty_iban else "")
                + (f"\n[dim]{escape(ref)}[/]" if ref else ""))
        cands = "\n".join(
            f"{n}. [bold]{escape(', '.join(c['invoices']))}[/] ({c['confidence']}): "
            + escape("; ".join(dict.fromkeys(c["reasons"])))
            for n, c in enumerate(it.suggestion.candidates, start=1)
        )
        grid.add_row(f"#{it.suggestion.id}\ntx {tx.id}", f"{head}\n{cands}")
        grid.add_row("", "")
    out.print(grid)


@review_app.command("list")
def review_list() -> None:
    """Open suggestions with their evidence."""
    from reconciliation import review as reviews

    rt = State.rt()
    with rt.unit() as session:
        items = reviews.open_suggestions(session, rt.merchant_id(session))
        if not items:
            out.print("No suggestions waiting for review.")
            return
        _print_suggestions(items)


@review_app.command("accept")
def review_accept(
    suggestion_id: int,
    candidate: Annotated[int, typer.Option(help="Which candidate (1 = best)")] = 1,
    invoice: Annotated[str | None, typer.Option(help="Pay this invoice instead")] = None,
) -> None:
    """Accept a suggestion: the payment is applied."""
    from reconciliation import review as reviews
    from reconciliation.models import Suggestion

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        numbers = reviews.accept(session, mid, suggestion_id, invoice_number=invoice, candidate=candidate - 1)
        sug = session.get(Suggestion, suggestion_id)
        kept = reviews.credit_kept(session, sug.bank_transaction_id) if sug is not None else ""
        outcome = _outcome(session, mid, numbers)
    out.print(f"suggestion {suggestion_id} accepted: {escape(outcome)}{escape(kept)}")


@review_app.command("reject")
def review_reject(suggestion_id: int) -> None:
    """Reject a suggestion: the payment stays unmatched."""
    from reconciliation import review as reviews

    rt = State.rt()
    with rt.unit() as session:
        reviews.reject(session, rt.merchant_id(session), suggestion_id)
    out.print(f"suggestion {suggestion_id} rejected")


@review_app.command("assign")
def review_assign(transaction_id: int, invoice: Annotated[list[str], typer.Argument(help="Invoice number(s)")]) -> None:
    """Apply an unmatched bank transaction to invoices you choose."""
    from reconciliation import review as reviews

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        numbers = reviews.assign(session, mid, transaction_id, invoice)
        kept = reviews.credit_kept(session, transaction_id)
        outcome = _outcome(session, mid, numbers)
    out.print(f"transaction {transaction_id} applied: {escape(outcome)}{escape(kept)}")


@review_app.command("undo")
def review_undo(transaction_id: int) -> None:
    """Take back an applied match: the invoices re-open."""
    from reconciliation import review as reviews

    rt = State.rt()
    with rt.unit() as session:
        numbers = reviews.undo(session, rt.merchant_id(session), transaction_id)
    out.print(f"transaction {transaction_id} undone; re-opened {', '.join(numbers) or 'nothing'}")


# ------------------------------------------------------------------ demo, db


@app.command()
def demo(
    statement: Annotated[Path | None, typer.Option(help="Try kvits on your own bank's camt file")] = None,
) -> None:
    """Create a demo merchant with customers and open invoices, import a statement, show the result."""
    from api import demo as demo_mod

    demo_mod.run(State.rt(), out, statement)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default head)."""
    from core.db import make_engine, upgrade

    rt = State.rt()
    engine = make_engine(rt.database_url)
    upgrade(engine, revision)
    out.print(f"database at {revision}: {engine.url.render_as_string(hide_password=True)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from core.db import current_revision, make_engine

    engine = make_engine(State.rt().database_url)
    out.print(current_revision(engine) or "(empty database)")


def main() -> None:
    debug = os.environ.get("KVITS_DEBUG") == "1"
    try:
        rc = app(standalone_mode=False)
        runtime = State._runtime
        if runtime is not None and runtime.new_merchant and not rc:
            err.print(Text.assemble(("note:", "yellow"),
                                    f" merchant {runtime.new_merchant!r} is new (check -m if you meant another)"),
                      soft_wrap=True)
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except USER_ERRORS as exc:
        if debug:
            raise
        say_error(user_message(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted: nothing of the running step was stored")
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never a traceback
        if debug:
            raise
        exit_code = getattr(exc, "exit_code", None)
        if hasattr(exc, "format_message") and isinstance(exit_code, int):
            # a usage error of the command line parser (typer vendors click): one line too
            ctx = getattr(exc, "ctx", None)
            if not exc.format_message().strip() and ctx is not None:  # no arguments: the help
                print(ctx.get_help())
                sys.exit(0)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            say_error(f"{exc.format_message()}{where}")
            sys.exit(exit_code)
        if type(exc).__module__.startswith("sqlalchemy"):
            from sqlalchemy.exc import IntegrityError, OperationalError

            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else ""
            if isinstance(exc, IntegrityError):
                say_error(f"the database refused a duplicate or invalid row: {first}")
            elif isinstance(exc, OperationalError):
                hint = (" - the schema is missing or old: run 'kvits db upgrade'"
                        if "no such table" in first or "does not exist" in first else "")
                say_error(f"database unavailable: {first}{hint}")
            else:
                say_error(f"database error: {exc.__class__.__name__}: {first}")
            sys.exit(1)
        say_error(f"{exc.__class__.__name__}: {exc} (set KVITS_DEBUG=1 for details)", label="internal error")
        sys.exit(70)

@fees_app.command("statement")
def fees_statement(month: Annotated[str | None, typer.Option(help="YYYY-MM, e.g. 2026-11; default this month")] = None
                   ) -> None:
    """The merchant's (-m) fee statement of MONTH: each payment's fee, totals per currency."""
    month = month or clock.today().strftime("%Y-%m")
    from rich.table import Table

    from core.money import from_minor
    from paylinks.fees import month_bounds
    from paylinks.statement import fee_statement

    try:
        month_bounds(month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None
    rt = State.rt()
    with rt.unit() as session:
        totals = fee_statement(session, rt.merchant_id(session), month)
    if not totals:
        out.print(f"no fees in {month}")
        return
    for total in totals:
        table = Table(title=f"Fees {month} ({total.currency})")
        for column in ("payment", "end-to-end id", "kind", "amount", "rate", "fee"):
            table.add_column(column, justify="right" if column in ("amount", "rate", "fee") else "left")
        for line in total.lines:
            table.add_row(f"pay_{line.payment_id}", line.end_to_end_id, line.kind,
                          str(from_minor(line.base_minor, total.currency)), f"{line.rate_bp / 100:g}%",
                          str(from_minor(line.fee_minor, total.currency)))
        table.add_row("total", "", f"{total.payments} payment{'' if total.payments == 1 else 's'}", str(from_minor(total.base_minor, total.currency)), "",
                      str(from_minor(total.fee_minor, total.currency)), style="bold")
        out.print(table)


@payments_app.command("list")
def payments_list(invoice: Annotated[str | None, typer.Option(help="only this invoice's (its number)")] = None,
                  limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50) -> None:
    """The merchant's (-m) pay link payments, newest first, with what was refunded."""
    from rich.table import Table
    from sqlalchemy import select

    from core.money import from_minor
    from invoices import service as invoices
    from invoices.models import Invoice
    from paylinks.models import PayerPayment

    rt = State.rt()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        query = select(PayerPayment, Invoice.number).join(Invoice, Invoice.id == PayerPayment.invoice_id).where(
            PayerPayment.merchant_id == mid)
        if invoice:
            query = query.where(PayerPayment.invoice_id == invoices.find_invoice(session, mid, invoice).id)
        rows = session.execute(query.order_by(PayerPayment.id.desc()).limit(limit)).all()
        table = Table(title="Payments")
        for column in ("payment", "invoice", "method", "state", "amount", "refunded", "paid with", "when"):
            table.add_column(column, justify="right" if column in ("amount", "refunded") else "left")
        for p, number in rows:
            table.add_row(f"pay_{p.id}", number or "", p.method, p.state, f"{from_minor(p.amount_minor, p.currency)} {p.currency}",
                          str(from_minor(p.refunded_minor, p.currency)) if p.refunded_minor else "",
                          p.card or p.bank_id or "", f"{p.created_at:%Y-%m-%d %H:%M}")
    if not rows:
        out.print("no payments")
        return
    out.print(table)


@payments_app.command("refund")
def payments_refund(payment: Annotated[str, typer.Argument(help="the payment, e.g. pay_12")],
                    amount: Annotated[str | None, typer.Option(help="how much; default all that is left")] = None,
                    reason: Annotated[str, typer.Option(help="shown on the invoice's timeline")] = "",
                    iban: Annotated[str | None, typer.Option(help="bank payments: the payer's IBAN, when the "
                                                                      "statement has not shown it")] = None,
                    name: Annotated[str | None, typer.Option(help="bank payments: the payer's name")] = None,
                    bank: Annotated[str | None, typer.Option(help="bank payments: the bank holding the merchant's "
                                                                      "account (registry id)")] = None) -> None:
    """Give back all or part of PAYMENT: a card payment through the acquirer, a bank
    payment as a transfer from the merchant's account, confirmed at their bank (the
    address to confirm it at is printed)."""

    from core.money import from_minor, parse_amount, to_minor
    from paylinks.models import PayerPayment
    from paylinks.refunds import refunds_for
    from paylinks.service import payments_for

    rt = State.rt()
    head, _, tail = payment.partition("_")
    if head != "pay" or not tail.isascii() or not tail.isdigit() or len(tail) > 18:
        raise typer.BadParameter(f"{payment[:40]!r} is not a payment id (pay_12)", param_hint="PAYMENT")
    with rt.unit() as session:
        mid = rt.merchant_id(session)
        found = session.get(PayerPayment, int(tail))
        if found is None or found.merchant_id != mid:
            fail(f"no payment {payment}")
        currency = found.currency
    minor = None
    if amount is not None:
        try:
            minor = to_minor(parse_amount(amount, currency), currency)  # plain digits only: no 1e3, 1_0, 1,000
        except KvitsError as exc:
            raise typer.BadParameter(f"{amount[:30]!r} is not an amount in {currency}: {exc}",
                                     param_hint="--amount") from None
    refunds = refunds_for(rt.settings, payments_for(rt.settings, rt.factory))
    made = refunds.request(mid, int(tail), minor, reason=reason, requested_by="cli", payee_iban=iban,
                           payee_name=name, bank_id=bank)
    what = f"refund re_{made.id} of {from_minor(made.amount_minor, made.currency)} {made.currency}: {made.state}"
    if made.state == "failed":
        fail(f"{what} ({made.failure})")
    out.print(what)
    if made.sca_url:
        out.print(f"confirm the transfer at your bank: {made.sca_url}", soft_wrap=True)


if __name__ == "__main__":
    main()



# ------------------------------------------------------------------ bank feeds


def _feeds() -> tuple[Runtime, Feeds]:
    from reconciliation.feeds import feeds_for

    rt = State.rt()
    return rt, feeds_for(rt.settings, rt.factory)


def _feed_line(v: FeedView) -> str:
    fetched = f", fetched through {v.fetched_through}" if v.fetched_through else ""
    result = f", last: {v.last_result['new_transactions']} new" if v.last_result else ""
    error = f" — {v.last_error}" if v.last_error else ""
    return f"feed_{v.id} {v.iban} at {v.bank_id}: {v.state}, consent until {v.valid_until}{fetched}{result}{error}"


@feeds_app.command("connect")
def feeds_connect(iban: Annotated[str, typer.Option(help="the merchant's account to read")],
                  bank: Annotated[str | None, typer.Option(help="the registry bank holding it (a Latvian IBAN "
                                                                 "tells it)")] = None,
                  days: Annotated[int, typer.Option(min=1, max=180, help="how long the consent lasts")] = 90) -> None:
    """Ask the bank for access to the account's statements; confirm it at the printed
    address (SCA). From then on they are fetched every KVITS_FEED_EVERY_HOURS."""
    from reconciliation.feeds import FeedError

    rt, feeds = _feeds()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
    try:
        made = feeds.connect(mid, iban, bank, days)
    except FeedError as exc:
        fail(str(exc))
    out.print(_feed_line(made))
    if made.sca_url:
        out.print(f"confirm access at your bank: {made.sca_url}", soft_wrap=True)


@feeds_app.command("list")
def feeds_list() -> None:
    """The merchant's bank feeds and how their last fetch went."""
    rt, feeds = _feeds()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
    shown = feeds.list(mid)
    for v in shown:
        out.print(_feed_line(v), soft_wrap=True)
    if not shown:
        out.print("no bank feeds: kvits feeds connect --iban IBAN")


@feeds_app.command("fetch")
def feeds_fetch(feed: Annotated[str | None, typer.Argument(help="feed_N; default: every active feed of the "
                                                                "merchant")] = None) -> None:
    """Fetch and import the statements now (what the schedule does)."""
    rt, feeds = _feeds()
    with rt.unit() as session:
        mid = rt.merchant_id(session)
    chosen = [v for v in feeds.list(mid) if (feed is None and v.state == "active") or f"feed_{v.id}" == feed]
    if feed is not None and not chosen:
        fail(f"no bank feed {feed}")
    if not chosen:
        fail("no active bank feeds: kvits feeds connect --iban IBAN, then confirm it at the bank")
    failed = 0
    for v in chosen:
        done = feeds.fetch(v.id)
        out.print(_feed_line(done), soft_wrap=True)
        failed += done.state != "active" or done.last_error is not None
    if failed:
        fail(f"{failed} of {len(chosen)} bank feed{'s' if len(chosen) != 1 else ''} could not be fetched (above)")
