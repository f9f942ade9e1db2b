"""Rich tables and summaries for the CLI. Shapes output only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
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
    "reversed": "magenta",
    "card_payout": "green",
}


def _amount(line: TxLine) -> str:
    sign = "-" if line.credit_debit == "DBIT" else "+"
    return f"{sign}{line.amount} {line.currency}"


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


WIDE = 140  # narrower consoles get stacked rows instead of one wide table


def _tx_row_parts(line: TxLine) -> tuple[str, str, str, str]:
    """(decision markup, invoices, confidence, reasons) of one transaction."""
    style = DECISION_STYLE.get(line.decision, "")
    invoices = escape(", ".join(line.invoices))
    if line.overpayment:
        invoices += f" (+{line.overpayment} credit)"
    decision = f"[{style}]{line.decision}[/]" if style else line.decision
    conf = "" if line.confidence is None else str(line.confidence)
    return decision, invoices, conf, "; ".join(line.reasons)


def _wide_lines(title: str, lines: Sequence[TxLine]) -> Table:
    table = Table(title=title, show_lines=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("payer")
    table.add_column("reference")
    table.add_column("result", no_wrap=True)
    table.add_column("invoice(s)")
    table.add_column("conf", justify="right")
    table.add_column("reasons")
    for line in lines:
        decision, invoices, conf, reasons = _tx_row_parts(line)
        table.add_row(
            f"{line.entry_index + 1}.{line.tx_index + 1}", _amount(line),
            escape(_short(line.payer, 28)), escape(_short(line.reference, 34)),
            decision, invoices, conf, escape(reasons),
        )
    return table


def _narrow_lines(lines: Sequence[TxLine]) -> Table:
    """One block per transaction: result and invoices, then payer and reference, then
    the reasons, each wrapped in full - nothing an 80-column terminal would cut."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column()
    for line in lines:
        decision, invoices, conf, reasons = _tx_row_parts(line)
        head = " ".join(part for part in (decision, invoices, f"({conf})" if conf else "") if part)
        said = " · ".join(escape(part) for part in (line.payer, line.reference) if part)
        body = head + (f"\n{said}" if said else "") + (f"\n[dim]{escape(reasons)}[/]" if reasons else "")
        grid.add_row(f"{line.entry_index + 1}.{line.tx_index + 1}", _amount(line), body)
    return grid


def import_report(console: Console, report: ImportReport, *, details: bool = True) -> None:
    title = f"{report.file_name}" + ("  (dry run: nothing stored)" if report.dry_run else "")
    if details and report.lines:
        lines = sorted(report.lines, key=lambda ln: ln.seq)
        if console.width >= WIDE:
            console.print(_wide_lines(title, lines))
        else:
            console.print(f"[bold]{escape(title)}[/]")
            console.print(_narrow_lines(lines))
        if report.lines_dropped:
            console.print(f"[dim]… {report.lines_dropped} more transactions not shown[/]")
    else:
        console.print(f"[bold]{escape(title)}[/]")
    for s in report.statements:
        status = {
            "ok": "[green]balances ok[/]",
            "mismatch": f"[red]BALANCE MISMATCH: {escape(s.balance_message)}[/]",
            "not_applicable": f"[dim]balance check n/a ({escape(s.balance_message)})[/]",
        }.get(s.balance_check, s.balance_check)
        head = escape(f"{s.kind} {s.statement_id or '(no id)'} · account {s.account or '?'} {s.currency or ''}")
        if s.already_imported:
            console.print(f"  {head}: [dim]already imported, nothing changed[/]")
            continue
        console.print(
            f"  {head}: {s.entries} entries, {s.transactions} transactions "
            f"({s.new_transactions} new) · {status}"
        )
        for problem in s.problems:
            console.print(f"    [yellow]warning:[/] {escape(problem)}")

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
        + (f" · [green]card payouts {report.count('card_payout')}[/] ({sums('card_payout')})"
           if report.count("card_payout") else "")
    )


def invoices_table(console: Console, invoices: Sequence[Invoice], today: date, title: str = "Invoices") -> None:
    wide = console.width >= WIDE - 20
    table = Table(title=escape(title))
    table.add_column("number", no_wrap=True)
    table.add_column("customer")
    if wide:
        table.add_column("issued", no_wrap=True)
    table.add_column("due", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("open", justify="right", no_wrap=True)
    table.add_column("status", overflow="fold")
    if wide:
        table.add_column("RF reference", no_wrap=True)
    for inv in invoices:
        shown = display_status(Status(inv.status), inv.due_date, today)
        style = {"paid": "green", "overdue": "red", "partially_paid": "yellow",
                 "partially_paid, overdue": "red"}.get(shown, "")
        cells = [
            escape(inv.number or f"(draft #{inv.id})"),
            escape(_short(inv.customer.name, 30)),
            *([inv.issue_date.isoformat()] if wide else []),
            inv.due_date.isoformat(),
            f"{from_minor(inv.total_minor, inv.currency)} {inv.currency}",
            f"{from_minor(inv.open_minor, inv.currency)}",
            f"[{style}]{shown}[/]" if style else shown,
            *([inv.rf_reference or ""] if wide else []),
        ]
        table.add_row(*cells)
    console.print(table)


def statements_table(console: Console, rows: Sequence[Statement]) -> None:
    wide = console.width >= WIDE
    table = Table(title="Statements")
    columns = ["id", "imported", "kind", "statement", "account", "period", "txs (new)", "balances", "file"]
    if not wide:  # ids, statement ids and accounts whole, the rest when there is room
        columns = ["id", "statement", "account", "txs (new)", "balances"]
    for col in columns:
        table.add_column(col, no_wrap=col in ("id", "statement", "account", "imported"))
    for r in rows:
        period = ""
        if r.from_datetime or r.to_datetime:
            period = f"{r.from_datetime.date() if r.from_datetime else '?'} … {r.to_datetime.date() if r.to_datetime else '?'}"
        cells = {
            "id": str(r.id), "imported": r.imported_at.strftime("%Y-%m-%d %H:%M"), "kind": r.kind,
            "statement": escape(r.statement_id or ""), "account": escape(f"{r.account} {r.currency or ''}"),
            "period": period, "txs (new)": f"{r.transaction_count} ({r.new_transaction_count})",
            "balances": r.balance_check, "file": escape(r.file_name or ""),
        }
        table.add_row(*(cells[c] for c in columns))
    console.print(table)


def transactions_table(console: Console, rows: Sequence[BankTransaction], paid: dict[int, list[str]]) -> None:
    def parts(r: BankTransaction) -> tuple[str, str, str, str]:
        sign = "-" if r.credit_debit == "DBIT" else "+"
        ref = " ".join([*r.creditor_references, r.remittance])
        conf = "" if r.confidence is None else str(r.confidence)
        return f"{sign}{from_minor(r.amount_minor, r.currency)} {r.currency}", ref, escape(", ".join(paid.get(r.id, []))), conf

    if console.width < WIDE:  # one block per transaction, nothing cut
        console.print("[bold]Transactions[/]")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column()
        for r in rows:
            amount, ref, invoices, conf = parts(r)
            head = " ".join(p for p in (r.match_status, invoices, f"({conf})" if conf else "") if p)
            said = " · ".join(escape(p) for p in (r.counterparty_name, ref) if p)
            grid.add_row(str(r.id), str(r.booking_date or ""), amount, head + (f"\n{said}" if said else ""))
        console.print(grid)
        return
    table = Table(title="Transactions")
    for col in ("tx", "booked", "amount", "counterparty", "reference", "status", "invoice(s)", "conf"):
        table.add_column(col, no_wrap=col in ("tx", "booked", "amount", "invoice(s)"))
    for r in rows:
        amount, ref, invoices, conf = parts(r)
        table.add_row(str(r.id), str(r.booking_date or ""), amount, escape(_short(r.counterparty_name, 28)),
                      escape(_short(ref, 34)), r.match_status, invoices, conf)
    console.print(table)


def money(minor: int, currency: str) -> Decimal:
    return from_minor(minor, currency)
