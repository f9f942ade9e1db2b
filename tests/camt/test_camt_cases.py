"""The fault cases in ../shared/cases/*/ that concern reading (expected.json
`statements`, and case 06 refused amounts), read in place."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import camt

pytestmark = pytest.mark.shared

READING_CASES = [
    "01-batch-entry-amounts",
    "02-reversal-reopens-invoice",
    "03-booking-datetime",
    "04-two-accounts-one-file",
    "05-structured-and-free-text",
    "08-amount-only-on-entry",
]


def _check_transaction(tx: camt.Transaction, want: dict[str, Any]) -> None:
    if "amount" in want:
        assert tx.amount == Decimal(want["amount"])
    if "end_to_end_id" in want:
        assert tx.references.end_to_end_id == want["end_to_end_id"]
    if "debtor" in want:
        assert tx.debtor is not None and tx.debtor.name == want["debtor"]
    if "remittance_unstructured" in want:
        assert list(tx.remittance_unstructured) == want["remittance_unstructured"]
    if "creditor_references" in want:
        assert list(tx.creditor_references) == want["creditor_references"]


def _check_entry(entry: camt.Entry, want: dict[str, Any]) -> None:
    if "amount" in want:
        assert entry.amount == Decimal(want["amount"])
    for key in ("credit_debit", "reversal", "batch_count", "currency"):
        if key in want:
            assert getattr(entry, key) == want[key], key
    if "booking_date" in want:
        assert entry.booking_date == date.fromisoformat(want["booking_date"])
    if "booking_datetime" in want:
        assert entry.booking_datetime == datetime.fromisoformat(want["booking_datetime"])
        # the offset as written is kept, not normalised to UTC
        assert entry.booking_datetime is not None
        assert entry.booking_datetime.isoformat() == want["booking_datetime"]
    if "value_date" in want:
        assert entry.value_date == date.fromisoformat(want["value_date"])
    if "transactions" in want:
        assert len(entry.transactions) == len(want["transactions"])
        for tx, tx_want in zip(entry.transactions, want["transactions"]):
            _check_transaction(tx, tx_want)


@pytest.mark.parametrize("case", READING_CASES)
def test_case_statements(shared_dir: Path, case: str) -> None:
    folder = shared_dir / "cases" / case
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    doc = camt.read(folder / "statement.xml")
    assert len(doc.statements) == len(expected["statements"])
    for statement, want in zip(doc.statements, expected["statements"]):
        if "id" in want:
            assert statement.id == want["id"]
        if "account" in want:
            assert statement.account.identifier == want["account"]
        if "currency" in want:
            assert statement.header.currency == want["currency"]
        assert statement.balance_check is not None
        if "opening" in want:
            assert statement.balance_check.opening == Decimal(want["opening"])
        if "closing" in want:
            assert statement.balance_check.closing == Decimal(want["closing"])
        if "balance_check" in want:
            assert statement.balance_check.status == want["balance_check"]
        if "entries" in want:
            assert len(statement.entries) == len(want["entries"])
            for entry, entry_want in zip(statement.entries, want["entries"]):
                _check_entry(entry, entry_want)
        assert statement.batch_problems == ()


def test_case_01_transactions_add_up_to_the_entry(shared_dir: Path) -> None:
    doc = camt.read(shared_dir / "cases" / "01-batch-entry-amounts" / "statement.xml")
    entry = doc.statements[0].entries[0]
    assert sum(t.amount for t in entry.transactions) == entry.amount == Decimal("429.56")
    assert [t.amount_source for t in entry.transactions] == ["own", "own"]


def test_case_08_amount_comes_from_the_entry(shared_dir: Path) -> None:
    doc = camt.read(shared_dir / "cases" / "08-amount-only-on-entry" / "statement.xml")
    tx = doc.statements[0].entries[0].transactions[0]
    assert (tx.amount, tx.credit_debit, tx.amount_source) == (Decimal("400.00"), "CRDT", "entry")
    assert not tx.from_entry


def test_case_06_first_entry_then_refused(shared_dir: Path) -> None:
    folder = shared_dir / "cases" / "06-amount-decimals"
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    entries: list[camt.Entry] = []
    with pytest.raises(camt.CamtError) as info:
        for event in camt.stream(folder / "statement.xml"):
            if isinstance(event, camt.Entry):
                entries.append(event)
    # lazily: the good entry was delivered before the faulty one was reached
    assert [e.amount for e in entries] == [Decimal(expected["first_entry_amount"])]
    message = str(info.value)
    assert "\n" not in message
    for needle in expected["error_mentions"]:
        assert needle in message
    assert info.value.path == "Document/BkToCstmrStmt/Stmt/Ntry/Amt"
    assert info.value.line == 12
    assert info.value.value == "10.005"
    with pytest.raises(camt.CamtError):
        camt.read(folder / "statement.xml")


def test_case_07_identical_transactions_are_all_read(shared_dir: Path) -> None:
    doc = camt.read(shared_dir / "cases" / "07-identical-transactions-in-batch" / "statement.xml")
    txs = [t for e in doc.statements[0].entries for t in e.transactions]
    assert len(txs) == 3
    assert sum(t.amount for t in txs) == Decimal("90.00")
