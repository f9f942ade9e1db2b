"""Rich tables and summaries for the CLI. Shapes output only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from core.money import from_minor
from invoices.models import Invoice
from invoices.status import Status, display_status
from reconciliation.models import BankTransaction, Statement
from reconciliation.report import ImportReport, TxLine

DECISION_STYLE = {
    "applied": "green",
    "suggested": "yellow",
    "unmatched": "red",
    "duplicate": "dim",
    "not_booked": "dim",
    "outgoing": "dim",
    "reversal": "magenta",
    "reversal_unmatched": "magenta",
}


def _amount(line: TxLine) -> str:
    sign = "-" if line.credit_debit == "DBIT" else "+"
    return f"{sign}{line.amount} {line.currency}"


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def import_report(console: Console, report: ImportReport, *, details: bool = True) -> None:
    title = f"{report.file_name}" + ("  (dry run: nothing stored)" if report.dry_run else "")
    if details and report.lines:
        table = Table(title=title, show_lines=False, expand=True)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("amount", justify="right", no_wrap=True)
        table.add_column("payer")
        table.add_column("reference")
        table.add_column("result", no_wrap=True)
        table.add_column("invoice(s)")
        table.add_column("conf", justify="right")
        table.add_column("reasons")
        for line in sorted(report.lines, key=lambda ln: ln.seq):
            style = DECISION_STYLE.get(line.decision, "")
            invoices = ", ".join(line.invoices)
            if line.overpayment:
                invoices += f" (+{line.overpayment} credit)"
            table.add_row(
                f"{line.entry_index + 1}.{line.tx_index + 1}",
                _amount(line),
                _short(line.payer, 28),
                _short(line.reference, 34),
                f"[{style}]{line.decision}[/]" if style else line.decision,
                invoices,
                "" if line.confidence is None else str(line.confidence),
                _short("; ".join(line.reasons), 70),
            )
        console.print(table)
        if report.lines_dropped:
            console.print(f"[dim]… {report.lines_dropped} more transactions not shown[/]")
    else:
        console.print(f"[bold]{title}[/]")
    for s in report.statements:
        status = {
            "ok": "[green]balances ok[/]",
            "mismatch": f"[red]BALANCE MISMATCH: {s.balance_message}[/]",
            "not_applicable": f"[dim]balance check n/a ({s.balance_message})[/]",
        }.get(s.balance_check, s.balance_check)
        head = f"{s.kind} {s.statement_id or '(no id)'} · account {s.account or '?'} {s.currency or ''}"
        if s.already_imported:
            console.print(f"  {head}: [dim]already imported, nothing changed[/]")
            continue
        console.print(
            f"  {head}: {s.entries} entries, {s.transactions} transactions "
            f"({s.new_transactions} new) · {status}"
        )
        for problem in s.problems:
            console.print(f"    [yellow]warning:[/] {problem}")

    def sums(decision: str) -> str:
        totals = report.total(decision)
        return ", ".join(f"{amt} {cur}" for cur, amt in sorted(totals.items())) or "0"

    console.print(
        f"  [green]auto-applied {report.count('applied')}[/] ({sums('applied')}) · "
        f"[yellow]suggested {report.count('suggested')}[/] ({sums('suggested')}) · "
        f"[red]unmatched {report.count('unmatched')}[/] ({sums('unmatched')}) · "
        f"reversals {report.count('reversal') + report.count('reversal_unmatched')} · "
        f"outgoing {report.count('outgoing')} · already known {report.count('duplicate')}"
        + (f" · not booked {report.count('not_booked')}" if report.count("not_booked") else "")
    )


def invoices_table(console: Console, invoices: Sequence[Invoice], today: date, title: str = "Invoices") -> None:
    table = Table(title=title)
    for col, justify in (("number", "left"), ("customer", "left"), ("issued", "left"),
                         ("due", "left"), ("total", "right"), ("open", "right"),
                         ("status", "left"), ("RF reference", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for inv in invoices:
        shown = display_status(Status(inv.status), inv.due_date, today)
        style = {"paid": "green", "overdue": "red", "partially_paid": "yellow",
                 "partially_paid, overdue": "red"}.get(shown, "")
        table.add_row(
            inv.number or f"(draft #{inv.id})",
            _short(inv.customer.name, 30),
            inv.issue_date.isoformat(),
            inv.due_date.isoformat(),
            f"{from_minor(inv.total_minor, inv.currency)} {inv.currency}",
            f"{from_minor(inv.open_minor, inv.currency)}",
            f"[{style}]{shown}[/]" if style else shown,
            inv.rf_reference or "",
        )
    console.print(table)


def statements_table(console: Console, rows: Sequence[Statement]) -> None:
    table = Table(title="Statements")
    for col in ("id", "imported", "kind", "statement", "account", "period", "txs (new)", "balances", "file"):
        table.add_column(col)
    for r in rows:
        period = ""
        if r.from_datetime or r.to_datetime:
            period = f"{r.from_datetime.date() if r.from_datetime else '?'} … {r.to_datetime.date() if r.to_datetime else '?'}"
        table.add_row(
            str(r.id), r.imported_at.strftime("%Y-%m-%d %H:%M"), r.kind, r.statement_id or "",
            f"{r.account} {r.currency or ''}", period,
            f"{r.transaction_count} ({r.new_transaction_count})", r.balance_check, r.file_name or "",
        )
    console.print(table)


def transactions_table(console: Console, rows: Sequence[BankTransaction], paid: dict[int, list[str]]) -> None:
    table = Table(title="Transactions")
    for col in ("tx", "booked", "amount", "counterparty", "reference", "status", "invoice(s)", "conf"):
        table.add_column(col)
    for r in rows:
        sign = "-" if r.credit_debit == "DBIT" else "+"
        ref = " ".join([*r.creditor_references, r.remittance])
        table.add_row(
            str(r.id), str(r.booking_date or ""), f"{sign}{from_minor(r.amount_minor, r.currency)} {r.currency}",
            _short(r.counterparty_name, 28), _short(ref, 34), r.match_status,
            ", ".join(paid.get(r.id, [])), "" if r.confidence is None else str(r.confidence),
        )
    console.print(table)


def money(minor: int, currency: str) -> Decimal:
    return from_minor(minor, currency)
