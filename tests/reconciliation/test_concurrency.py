"""Two changes to one invoice at the same moment: one wins, the other sees it, and
nothing is paid twice (on PostgreSQL by row locks, on SQLite by one writer at a time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from invoices import service as invoices
from invoices.arithmetic import LineInput
from invoices.models import Invoice
from reconciliation import review
from reconciliation.engine import Allocation, Candidate
from reconciliation.errors import StaleMatch
from reconciliation.models import BankTransaction, Payment
from reconciliation.service import ImportOptions, apply_candidate, import_statement
from tests.helpers import Pay, customer, invoice, merchant, statement_xml

RF2 = "RF5020260000000002"


def _setup(factory: sessionmaker[Session]) -> tuple[int, list[int]]:
    """INV-2 (250.00, RF2) and two unmatched payments of 250.00 from strangers."""
    with factory() as s, s.begin():
        mid = merchant(s)
        c = customer(s, mid, "SIA Vējš", code="C1")
        invoice(s, mid, "INV-2", c, "250.00", rf=RF2)
    with factory() as s, s.begin():
        import_statement(s, mid, statement_xml([Pay("250.00", "Nobody Known", text="thanks"),
                                                Pay("250.00", "Somebody Else", text="for goods")]),
                         options=ImportOptions())
    with factory() as s:
        ids = list(s.scalars(select(BankTransaction.id).order_by(BankTransaction.id)))
    return mid, ids


def _paid(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as s:
        inv = s.scalar(select(Invoice).where(Invoice.number == "INV-2"))
        assert inv is not None
        count = s.scalar(select(func.count()).select_from(Payment).where(
            Payment.invoice_id == inv.id, Payment.kind == "payment")) or 0
        return inv.paid_minor, count


def _race(factory: sessionmaker[Session], first: Callable[[Session], Any],
          second: Callable[[Session], Any]) -> list[BaseException | None]:
    """`first` runs and holds its transaction open for a moment; `second` starts
    meanwhile, in its own transaction. Returns what each raised."""
    outcome: list[BaseException | None] = [None, None]
    inside = threading.Event()

    def run_first() -> None:
        try:
            with factory() as s, s.begin():
                first(s)
                inside.set()
                time.sleep(0.5)
        except BaseException as exc:  # noqa: BLE001
            outcome[0] = exc
        finally:
            inside.set()

    def run_second() -> None:
        inside.wait(10)
        try:
            with factory() as s, s.begin():
                second(s)
        except BaseException as exc:  # noqa: BLE001
            outcome[1] = exc

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcome


def test_two_people_apply_two_payments_to_one_invoice(factory: sessionmaker[Session]) -> None:
    mid, (tx1, tx2) = _setup(factory)
    first, second = _race(factory, lambda s: review.assign(s, mid, tx1, ["INV-2"]),
                          lambda s: review.assign(s, mid, tx2, ["INV-2"]))
    assert first is None
    assert isinstance(second, review.ReviewError) and "INV-2 is paid" in str(second)
    assert _paid(factory) == (25000, 1)


def test_an_import_meets_a_manual_match_of_the_same_invoice(factory: sessionmaker[Session]) -> None:
    mid, (tx1, _) = _setup(factory)
    reports: list[Any] = []

    def import_it(s: Session) -> None:
        reports.append(import_statement(s, mid, statement_xml([Pay("250.00", "SIA Vējš", rf=RF2)], stmt_id="ST-2",
                                                              msg_id="MSG-2"), options=ImportOptions()))

    first, second = _race(factory, lambda s: review.assign(s, mid, tx1, ["INV-2"]), import_it)
    assert first is None and second is None
    assert _paid(factory) == (25000, 1)
    assert reports[0].count("applied") == 0  # seen paid, or seen changing: left to a person


def test_a_stale_candidate_writes_nothing(factory: sessionmaker[Session]) -> None:
    mid, (tx1, tx2) = _setup(factory)
    with factory() as s, s.begin():
        review.assign(s, mid, tx1, ["INV-2"])
    with factory() as s, s.begin():
        inv = s.scalar(select(Invoice).where(Invoice.number == "INV-2"))
        row = s.get(BankTransaction, tx2)
        assert inv is not None and row is not None
        stale = Candidate(invoice_ids=(inv.id,), allocations=(Allocation(inv.id, 25000),), overpayment_minor=0,
                          confidence=99, reasons=(), customer_id=inv.customer_id)
        with pytest.raises(StaleMatch, match="INV-2 is paid with 0.00 EUR open"):
            apply_candidate(s, mid, row, stale, None, source="auto")
        assert row.match_status != "applied"
    assert _paid(factory) == (25000, 1)


def test_the_database_refuses_more_paid_than_the_total(factory: sessionmaker[Session]) -> None:
    _setup(factory)
    with pytest.raises(IntegrityError), factory() as s, s.begin():
        inv = s.scalar(select(Invoice).where(Invoice.number == "INV-2"))
        assert inv is not None
        inv.paid_minor = inv.total_minor + 1


def test_two_approvals_of_one_draft_number_it_once(factory: sessionmaker[Session]) -> None:
    from datetime import date
    from decimal import Decimal

    with factory() as s, s.begin():
        mid = merchant(s)
        code = customer(s, mid, "SIA Vējš", code="C1")
        draft = invoices.create_draft(s, mid, invoices.InvoiceInput(
            customer_code=code, currency="EUR", issue_date=date(2026, 12, 1),
            lines=(LineInput(description="Work", quantity=Decimal(1), unit_price=Decimal("10.00")),)))
        draft_id = draft.id

    def approve(s: Session) -> None:
        inv = s.get(Invoice, draft_id)
        assert inv is not None
        invoices.approve(s, inv)

    first, second = _race(factory, approve, approve)
    assert first is None
    assert isinstance(second, invoices.InvoiceError) and "only a draft can be approved" in str(second)
    with factory() as s:
        inv = s.get(Invoice, draft_id)
        assert inv is not None and inv.status == "issued" and inv.number == "INV-2026-00001"
