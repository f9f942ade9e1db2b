"""Pure consistency checks over read statements: balances and batch sums.

Nothing here raises: a statement that does not add up is still a statement the bank
sent, and what to do with it is the caller's decision.
"""

from __future__ import annotations

from decimal import Decimal

from camt.model import Balance, BalanceCheck, Entry, StatementHeader

__all__ = ["BalanceCheck", "check_balances", "check_batch", "closing_balance", "opening_balance"]

_STATEMENT_KIND = "camt.053"


def opening_balance(header: StatementHeader) -> Balance | None:
    """OPBD, else PRCD (closing of the previous statement), else the first ITBD
    (a continuation page opens with an interim balance)."""
    return header.balance("OPBD", "PRCD", "ITBD")


def closing_balance(header: StatementHeader) -> Balance | None:
    """CLBD, else on a page that is not the last the last ITBD that is not the opening."""
    closing = header.balance("CLBD")
    if closing is not None:
        return closing
    if header.pagination is not None and header.pagination.last_page:
        return None
    interim = [b for b in header.balances if b.type_code == "ITBD"]
    if interim and interim[-1] is not opening_balance(header):
        return interim[-1]
    return None


def check_balances(
    header: StatementHeader,
    credit_sum: Decimal,
    debit_sum: Decimal,
    *,
    foreign_entries: int = 0,
) -> BalanceCheck:
    """opening + credits - debits == closing, all signed, in the statement currency.

    `credit_sum`/`debit_sum` are the booked (Sts BOOK) entries only: pending and
    information entries of a camt.053 have not moved the booked balance. Entries in a
    currency other than the balances' (`foreign_entries`) make the check impossible.
    """
    if header.kind != _STATEMENT_KIND:
        return BalanceCheck(
            "not_applicable",
            credits=credit_sum,
            debits=debit_sum,
            message=f"{header.kind} carries no booked balances to reconcile",
        )
    opening = opening_balance(header)
    closing = closing_balance(header)
    if opening is None or closing is None:
        missing = " and ".join(
            name for name, bal in (("opening", opening), ("closing", closing)) if bal is None
        )
        return BalanceCheck(
            "not_applicable",
            opening=opening.signed if opening else None,
            closing=closing.signed if closing else None,
            credits=credit_sum,
            debits=debit_sum,
            message=f"no {missing} balance",
        )
    if opening.currency != closing.currency:
        return BalanceCheck(
            "not_applicable",
            opening=opening.signed,
            closing=closing.signed,
            credits=credit_sum,
            debits=debit_sum,
            message=f"opening in {opening.currency}, closing in {closing.currency}",
        )
    if foreign_entries:
        return BalanceCheck(
            "not_applicable",
            opening=opening.signed,
            closing=closing.signed,
            credits=credit_sum,
            debits=debit_sum,
            message=f"{foreign_entries} booked entries not in {opening.currency}",
        )
    expected = opening.signed + credit_sum - debit_sum
    if expected == closing.signed:
        return BalanceCheck(
            "ok",
            opening=opening.signed,
            closing=closing.signed,
            credits=credit_sum,
            debits=debit_sum,
            expected_closing=expected,
            message=f"{opening.type_code} {opening.signed} + {credit_sum} - {debit_sum} "
            f"= {closing.type_code} {closing.signed} {closing.currency}",
        )
    return BalanceCheck(
        "mismatch",
        opening=opening.signed,
        closing=closing.signed,
        credits=credit_sum,
        debits=debit_sum,
        expected_closing=expected,
        message=f"{opening.type_code} {opening.signed} + {credit_sum} - {debit_sum} "
        f"= {expected}, but {closing.type_code} is {closing.signed} {closing.currency} "
        f"(difference {closing.signed - expected})",
    )


def _entry_name(entry: Entry) -> str:
    ref = entry.account_servicer_reference or entry.entry_reference
    where = f"entry {entry.index + 1} (line {entry.line}"
    return f"{where}, ref {ref})" if ref else f"{where})"


def check_batch(entry: Entry) -> list[str]:
    """Problems with how an entry's transactions add up to it; empty when fine.

    Transactions on the entry's side count plus, on the other side minus. A difference
    that equals the entry's charges in its currency is explained (net booking) and not
    reported. Transactions in another currency or without an amount cannot be summed.
    """
    problems: list[str] = []
    txs = entry.transactions
    if entry.amount_derived:
        problems.append(
            f"{_entry_name(entry)}: no amount of its own (Amt/CdtDbtInd); "
            f"taken as its transactions' sum {entry.amount} {entry.currency} {entry.credit_debit}"
        )
        return problems
    if len(txs) == 1:  # the common case, kept cheap: it runs for every entry
        only = txs[0]
        if only.from_entry or (
            only.amount == entry.amount
            and only.credit_debit == entry.credit_debit
            and only.currency == entry.currency
            and only.amount_source != "instructed"
        ):
            return problems
    if not txs:
        return problems
    unknown = [t.index + 1 for t in txs if t.amount_source == "unknown"]
    if unknown:
        problems.append(
            f"{_entry_name(entry)}: transactions {unknown} carry no amount of their own; "
            f"their amount is unknown (0)"
        )
        return problems
    instructed = [t.index + 1 for t in txs if t.amount_source == "instructed"]
    if instructed:
        problems.append(
            f"{_entry_name(entry)}: transactions {instructed} carry only an instructed "
            f"amount (InstdAmt), used as their amount"
        )
    if entry.batch_count is not None and len(txs) > 1 and entry.batch_count != len(txs):
        problems.append(
            f"{_entry_name(entry)}: batch says {entry.batch_count} transactions, "
            f"details list {len(txs)}"
        )
    if any(t.currency != entry.currency for t in txs):
        return problems
    total = sum(
        (t.amount if t.credit_debit == entry.credit_debit else -t.amount for t in txs),
        Decimal(0),
    )
    if total == entry.amount:
        return problems
    charges = sum((c.amount for c in entry.charges if c.currency == entry.currency), Decimal(0))
    # net booking (charges taken from the payments) or gross (charges added to them)
    if charges and (total - charges == entry.amount or total + charges == entry.amount):
        return problems
    problems.append(
        f"{_entry_name(entry)}: transactions add up to {total} {entry.currency}, "
        f"entry is {entry.amount}" + (f" (charges {charges})" if charges else "")
    )
    return problems
