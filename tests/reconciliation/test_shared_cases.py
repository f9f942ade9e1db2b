"""Every folder of ../shared/cases is a test: statement.xml imported for real (database,
matching, applying), invoices.json loaded first, expected.json asserted."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import camt
from core.money import from_minor
from invoices.models import Invoice, InvoiceEvent
from reconciliation.models import BankTransaction, Payment, Statement
from reconciliation.service import import_statement
from tests.conftest import locate_shared_dir
from tests.helpers import load_case_invoices, merchant

_SHARED = locate_shared_dir()
CASES = sorted(p for p in (_SHARED / "cases").iterdir() if p.is_dir()) if _SHARED else []


def test_cases_folder_is_there(shared_dir: Path) -> None:
    assert len(sorted((shared_dir / "cases").glob("*/expected.json"))) >= 12


def _case_ids() -> list[str]:
    return [c.name for c in CASES] or ["(no shared cases)"]


@pytest.fixture(params=_case_ids())
def case(request: pytest.FixtureRequest, shared_dir: Path) -> Path:
    return shared_dir / "cases" / request.param


def _dec(value: str) -> Decimal:
    return Decimal(value)


def _check_statement_fields(case: Path, expected: dict) -> None:  # type: ignore[type-arg]
    """The reader's side of the case, read straight from the file."""
    if "statements" not in expected:
        return
    doc = camt.read(case / "statement.xml")
    events = [e for e in camt.stream(case / "statement.xml") if isinstance(e, camt.StatementEnd)]
    assert len(doc.statements) == len(expected["statements"])
    for stmt, end, want in zip(doc.statements, events, expected["statements"], strict=True):
        if "id" in want:
            assert stmt.id == want["id"]
        if "account" in want:
            assert stmt.account.identifier == want["account"]
        if "currency" in want:
            assert stmt.header.currency == want["currency"]
        if "opening" in want:
            assert end.balance_check.opening == _dec(want["opening"])
        if "closing" in want:
            assert end.balance_check.closing == _dec(want["closing"])
        if "balance_check" in want:
            assert end.balance_check.status == want["balance_check"]
        for entry, went in zip(stmt.entries, want.get("entries", []), strict=False):
            for key in ("amount",):
                if key in went:
                    assert entry.amount == _dec(went[key])
            for key in ("credit_debit", "reversal", "batch_count", "currency"):
                if key in went:
                    assert getattr(entry, key) == went[key], key
            for key in ("booking_date", "value_date", "booking_datetime"):
                if key in went:
                    assert getattr(entry, key).isoformat() == went[key], key
            for tx, wtx in zip(entry.transactions, went.get("transactions", []), strict=False):
                if "amount" in wtx:
                    assert tx.amount == _dec(wtx["amount"])
                if "end_to_end_id" in wtx:
                    assert tx.references.end_to_end_id == wtx["end_to_end_id"]
                if "debtor" in wtx:
                    assert tx.debtor is not None and tx.debtor.name == wtx["debtor"]
                if "remittance_unstructured" in wtx:
                    assert list(tx.remittance_unstructured) == wtx["remittance_unstructured"]
                if "creditor_references" in wtx:
                    assert list(tx.creditor_references) == wtx["creditor_references"]
            if "transactions" in went:
                assert len(entry.transactions) == len(went["transactions"])


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_case(case: Path, factory: sessionmaker[Session]) -> None:
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    statement = case / "statement.xml"

    if expected.get("import") == "refused":
        if "first_entry_amount" in expected:
            first = next(e for e in camt.stream(statement) if isinstance(e, camt.Entry))
            assert first.amount == _dec(expected["first_entry_amount"])
        with factory() as session:
            with pytest.raises(camt.CamtError) as info:
                with session.begin():
                    mid = merchant(session)
                    import_statement(session, mid, statement)
            message = str(info.value)
            assert "\n" not in message
            for fragment in expected["error_mentions"]:
                assert fragment in message
        with factory() as session:
            assert _count(session, Statement) == 0
            assert _count(session, BankTransaction) == 0
        return

    _check_statement_fields(case, expected)

    with factory() as session, session.begin():
        mid = merchant(session)
        if (case / "invoices.json").exists():
            load_case_invoices(session, mid, case / "invoices.json")
    with factory() as session, session.begin():
        first = import_statement(session, mid, statement)
    with factory() as session, session.begin():
        second = import_statement(session, mid, statement)

    assert all(s.already_imported for s in second.statements)
    assert second.count("applied") == 0

    with factory() as session:
        txs = session.scalars(select(BankTransaction).order_by(BankTransaction.id)).all()
        if "first_import" in expected:
            want = expected["first_import"]
            assert len(txs) == want["transactions"]
            assert sum(from_minor(t.amount_minor, t.currency) for t in txs) == _dec(want["total"])
        if "second_import" in expected:
            new = sum(s.new_transactions for s in second.statements)
            assert new == expected["second_import"]["new_transactions"]
        for number, want in expected.get("invoices_after", {}).items():
            inv = session.scalar(select(Invoice).where(Invoice.number == number))
            assert inv is not None
            assert inv.status == want["status"], number
            assert from_minor(inv.open_minor, inv.currency) == _dec(want["open"]), number
        for want in expected.get("matches", []):
            tx = session.scalar(
                select(BankTransaction).where(BankTransaction.account_servicer_reference == want["entry"])
            )
            assert tx is not None
            paid = session.execute(
                select(Invoice.number, Payment.source)
                .join(Invoice, Invoice.id == Payment.invoice_id)
                .where(Payment.bank_transaction_id == tx.id, Payment.kind == "payment")
            ).all()
            if want["auto_applied"]:
                assert sorted(n for n, _ in paid) == sorted(want["invoices"])
                assert {src for _, src in paid} == {"auto"}
                assert tx.match_status == "applied"
            else:
                assert paid == []
                assert tx.match_status in ("suggested", "unmatched")
        if case.name.startswith("02-"):
            # both bookings visible in the invoice's history
            kinds = session.scalars(select(InvoiceEvent.kind).order_by(InvoiceEvent.id)).all()
            assert "payment" in kinds and "payment_reversed" in kinds
    assert first.statements and not any(s.already_imported for s in first.statements)
