"""Every real bank file in ../shared/samples/camt, through the whole job: read, stored,
matched, and with `kvits demo --statement FILE`, invoices paid - and a second run
changes nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

import camt
from api import demo
from api.runtime import Runtime
from core.settings import Settings
from invoices.models import Invoice
from reconciliation.models import BankTransaction, Payment
from tests.conftest import REPO_ROOT, locate_shared_dir

_SHARED = locate_shared_dir()
SAMPLES = sorted((_SHARED / "samples" / "camt").glob("*.xml")) if _SHARED else []


def _has_booked_credits(path: Path) -> bool:
    doc = camt.read(path)
    return any(
        e.status.upper() == "BOOK" and e.credit_debit == "CRDT" and not e.reversal
        and any(t.credit_debit == "CRDT" and t.amount > 0 for t in e.transactions)
        for s in doc.statements for e in s.entries
    )


WITH_CREDITS = [p for p in SAMPLES if _has_booked_credits(p)]

# Sample files whose incoming payments carry nothing a precision-first matcher may act
# on: no reference, no invoice number, no payer IBAN (or only invalid test IBANs such as
# DE00000000000000000000), and no payer name with an amount only one invoice has (a
# round or shared amount, or no payer at all). The demo ends with suggestions for a
# person instead.
NOTHING_TO_ACT_ON = {
    "dvbern__Business_Sample_camt.053.001.04.xml": "a 0.00 credit from MUELLER; 3255.00 from nobody",
    "dvbern__camt.054-ES_P_CH0309000000250090342_38000000_0_2016052723011813.xml":
        "names, placeholder IBANs CH1111111111111111111 and round amounts (20.00, 50.00, 100.00 CHF)",
    "genkgo__camt053.v2.all-balance-types.xml": "no payer, text without any number",
    "genkgo__camt053.v2.multi.statement.xml": "no payer, text without any number",
    "svapnil-bmo__camt053_v2_1.xml": "no payer, no text",
    "viafintech053__valid_example.xml": "account number that is no IBAN",
    "viafintech053__valid_example_with_batch.xml": "IBANs with wrong check digits",
    "viafintech053__valid_example_with_datetime.xml": "no payer, no text",
    "viafintech053__valid_example_with_instdamt.xml": "a bare number and no payer",
}


def test_samples_are_there(shared_dir: Path) -> None:
    assert len(SAMPLES) >= 50
    assert len(WITH_CREDITS) >= 30


def test_dry_run_import_of_every_sample_exits_zero(shared_dir: Path, sqlite_url: str) -> None:
    env = {**os.environ, "KVITS_DATABASE_URL": sqlite_url, "COLUMNS": "200"}
    res = subprocess.run(
        [sys.executable, "-m", "api.cli", "statements", "import", "--dry-run", "--summary", *map(str, SAMPLES)],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("dry run") == len(SAMPLES)
    assert "Traceback" not in res.stderr


def _state(rt: Runtime) -> tuple[int, int, int, list[tuple[str, str, int]]]:
    with rt.unit() as s:
        txs = s.scalar(select(func.count()).select_from(BankTransaction)) or 0
        pays = s.scalar(select(func.count()).select_from(Payment)) or 0
        invs = s.execute(select(Invoice.number, Invoice.status, Invoice.paid_minor).order_by(Invoice.id)).all()
        paid = sum(1 for _, st, _ in invs if st == "paid")
        return txs, pays, paid, [tuple(r) for r in invs]  # type: ignore[misc]


@pytest.mark.parametrize("path", WITH_CREDITS or [None], ids=lambda p: p.name if p else "none")
def test_demo_on_a_real_statement_pays_and_is_idempotent(path: Path | None, shared_dir: Path,
                                                         sqlite_url: str) -> None:
    assert path is not None
    rt = Runtime(settings=Settings(database_url=sqlite_url))
    console = Console(file=io.StringIO(), width=200)
    demo.run(rt, console, path)
    txs, pays, paid, invoices = _state(rt)
    assert txs > 0
    if path.name in NOTHING_TO_ACT_ON:
        # nothing applied on a name alone; what was found waits for a person
        with rt.unit() as s:
            auto = s.scalar(select(func.count()).select_from(Payment).where(Payment.source == "auto")) or 0
        assert auto == 0
    else:
        assert paid >= 1, console.file.getvalue()[-4000:]  # type: ignore[attr-defined]
    demo.run(rt, console, path)
    assert _state(rt) == (txs, pays, paid, invoices)
    assert "already imported, nothing changed" in console.file.getvalue()  # type: ignore[attr-defined]
    rt.dispose()
