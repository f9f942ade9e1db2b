"""The whole loop on one machine, as a user runs it: `kvits sandbox` serves the banks,
a payer pays two invoices through two of them (PSD2, with SCA), `kvits sandbox
statement` writes what the merchant's bank booked, and `kvits statements import` marks
the invoices paid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from psd2 import PaymentOrder, Psd2Client, Registry
from tests.conftest import REPO_ROOT
from tests.e2e.test_cli import EXAMPLES, _statuses, kvits
from tests.psd2.payer import pay


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KVITS_SANDBOX_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "sandbox", "--port", str(port), "--settle-after", "1"],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            process.kill()
            raise AssertionError("kvits sandbox did not start: " + process.stderr.read().decode() if process.stderr else "")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_pay_two_invoices_through_the_sandbox_and_import_the_statement(sandbox_url: str, sqlite_url: str,
                                                                      tmp_path: Path) -> None:
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=sqlite_url, merchant="shop").returncode == 0
    assert kvits("invoices", "import", str(EXAMPLES / "invoices.csv"), db=sqlite_url, merchant="shop").returncode == 0
    accounts = httpx.get(sandbox_url + "/_sandbox/accounts").json()
    shop = next(a["iban"] for a in accounts if a["owner"] == "veikals" and a["bank"] == "dzintars")
    registry = Registry.sandbox(sandbox_url)
    payments = [("dzintars", "329.56", "RF03INV20260041", True), ("gintaro", "1210.00", "RF46INV20260043", False)]
    for bank_id, amount, reference, instant in payments:
        with Psd2Client(registry.get(bank_id)) as client:
            order = PaymentOrder(Decimal(amount), "EUR", shop, "SIA Piemera Veikals", f"pay_{reference[-4:]}",
                                 creditor_reference=reference, instant=instant)
            initiation = client.initiate(order, psu_ip="192.0.2.10", redirect_uri="https://tpp.example/back")
            assert pay(initiation.sca_redirect or "", "alise").back_to == "https://tpp.example/back"
    time.sleep(1.5)  # --settle-after 1: the standard payment settles a second after acceptance
    moved = httpx.post(sandbox_url + "/_sandbox/clock", json={"seconds": 3}).json()
    today = date.fromisoformat(moved["today"])
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "sandbox", "statement", "--bank", "dzintars", "--account", shop,
         "--from", (today - timedelta(days=3)).isoformat(), "--to", today.isoformat()],
        capture_output=True, cwd=REPO_ROOT, env={**os.environ, "KVITS_SANDBOX_URL": sandbox_url}, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    statement = tmp_path / "sandbox-statement.xml"
    statement.write_bytes(result.stdout)
    assert b"RF03INV20260041" in result.stdout and b"pay_0043" in result.stdout
    imported = kvits("statements", "import", str(statement), db=sqlite_url, merchant="shop")
    assert imported.returncode == 0, imported.stderr
    statuses = _statuses(sqlite_url, "shop")
    assert statuses["INV-2026-0041"] == "paid:32956"
    assert statuses["INV-2026-0043"] == "paid:121000"
    again = kvits("statements", "import", str(statement), db=sqlite_url, merchant="shop")
    assert again.returncode == 0 and _statuses(sqlite_url, "shop") == statuses  # nothing paid twice


def test_statement_command_explains_what_is_wrong(sandbox_url: str) -> None:
    env = {"KVITS_SANDBOX_URL": sandbox_url}
    unknown = kvits("sandbox", "statement", "--bank", "nope", "--account", "LV00", db="sqlite://", env=env)
    assert unknown.returncode == 1 and "no bank 'nope'" in unknown.stderr
    bad_date = kvits("sandbox", "statement", "--bank", "dzintars", "--account", "LV00", "--from", "1.12.2026",
                     db="sqlite://", env=env)
    assert bad_date.returncode == 1 and "--from '1.12.2026' is not a date" in bad_date.stderr
    not_there = kvits("sandbox", "statement", "--bank", "dzintars", "--account", "LV00", db="sqlite://",
                      env={"KVITS_SANDBOX_URL": "http://127.0.0.1:9"})
    assert not_there.returncode == 1 and "start it with `kvits sandbox`" in not_there.stderr
    page = httpx.get(sandbox_url + "/").text
    assert "Dzintara Banka" in page and "alise" in page and "123456" in page


def test_the_whole_loop_through_a_pay_link(sandbox_url: str, sqlite_url: str, tmp_path: Path) -> None:
    """invoice -> pay link -> the payer pays from their bank -> the sandbox statement ->
    `kvits statements import` -> the invoice is paid, the fee recorded exactly once."""
    import warnings
    from urllib.parse import urlsplit

    from api.app import create_app
    from core.db import make_engine, session_factory
    from core.settings import Settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    public = "https://kvits.test"
    env = {"KVITS_SANDBOX_URL": sandbox_url, "KVITS_PUBLIC_URL": public}
    accounts = httpx.get(sandbox_url + "/_sandbox/accounts").json()
    shop = next(a["iban"] for a in accounts if a["owner"] == "veikals" and a["bank"] == "dzintars")
    assert kvits("merchants", "create", "shop", "--name", "SIA Piemera Veikals", db=sqlite_url).returncode == 0
    updated = kvits("merchants", "update", "shop", "--iban", shop, db=sqlite_url)
    assert updated.returncode == 0 and "fee 1%" in updated.stdout, updated.stderr
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=sqlite_url, merchant="shop").returncode == 0
    assert kvits("invoices", "import", str(EXAMPLES / "invoices.csv"), db=sqlite_url, merchant="shop").returncode == 0
    made = kvits("invoices", "pay-link", "INV-2026-0041", db=sqlite_url, merchant="shop", env=env)
    assert made.returncode == 0, made.stderr
    link = made.stdout.split()[0]
    assert link.startswith(f"{public}/pay/")
    path = urlsplit(link).path

    engine = make_engine(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url, sandbox_url=sandbox_url, public_url=public,
                              secret_key="s" * 40), session_factory(engine))
    payer = TestClient(app, base_url=public, follow_redirects=False, client=("192.0.2.10", 50000))
    assert "INV-2026-0041" in payer.get(path).text
    sca = payer.post(f"{path}/bank", data={"bank": "dzintars"})
    assert sca.status_code == 303, sca.text
    assert pay(sca.headers["location"], "alise", tpp_prefix=public).back_to == f"{public}{path}/return"
    assert payer.get(f"{path}/return").status_code == 303
    for _ in range(50):  # the bank accepts a moment after the SCA (its clock is real here)
        if "Paldies! Jūsu banka ir pieņēmusi maksājumu." in payer.get(f"{path}/payment").text:  # the customer speaks Latvian
            break
        time.sleep(0.2)
    else:
        raise AssertionError(payer.get(f"{path}/payment").text)
    engine.dispose()

    time.sleep(1.5)  # --settle-after 1
    moved = httpx.post(sandbox_url + "/_sandbox/clock", json={"seconds": 3}).json()
    today = date.fromisoformat(moved["today"])
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "sandbox", "statement", "--bank", "dzintars", "--account", shop,
         "--from", (today - timedelta(days=3)).isoformat(), "--to", today.isoformat()],
        capture_output=True, cwd=REPO_ROOT, env={**os.environ, **env}, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    statement = tmp_path / "statement.xml"
    statement.write_bytes(result.stdout)
    for _ in range(2):  # imported twice: paid once
        imported = kvits("statements", "import", str(statement), db=sqlite_url, merchant="shop")
        assert imported.returncode == 0, imported.stderr
    assert _statuses(sqlite_url, "shop")["INV-2026-0041"] == "paid:32956"
    fees = kvits("fees", "statement", "--month", today.strftime("%Y-%m"), db=sqlite_url, merchant="shop")
    assert fees.returncode == 0, fees.stderr
    assert fees.stdout.count("KV") == 1 and "3.30" in fees.stdout and "329.56" in fees.stdout, fees.stdout
    shown = kvits("invoices", "show", "INV-2026-0041", db=sqlite_url, merchant="shop")
    assert "Payments through its pay link" in shown.stdout and "settled" in shown.stdout, shown.stdout


def test_card_payment_payout_and_refunds_from_the_cli(sandbox_url: str, sqlite_url: str, tmp_path: Path) -> None:
    """invoice -> pay link -> the payer pays by card on the acquirer's form -> the next
    business day's payout on the sandbox statement -> `kvits statements import` settles it
    without paying twice -> `kvits payments refund` gives part back, and the fee follows."""
    import re
    import warnings
    from urllib.parse import urlsplit

    from api.app import create_app
    from core.db import make_engine, session_factory
    from core.settings import Settings
    from tests.paylinks.cardholder import pay_card

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    public = "https://kvits.test"
    env = {"KVITS_SANDBOX_URL": sandbox_url, "KVITS_PUBLIC_URL": public}
    accounts = httpx.get(sandbox_url + "/_sandbox/accounts").json()
    shop = next(a["iban"] for a in accounts if a["owner"] == "veikals" and a["bank"] == "dzintars")
    assert kvits("merchants", "create", "shop", "--name", "SIA Piemera Veikals", db=sqlite_url).returncode == 0
    assert kvits("merchants", "update", "shop", "--iban", shop, db=sqlite_url).returncode == 0
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=sqlite_url, merchant="shop").returncode == 0
    assert kvits("invoices", "import", str(EXAMPLES / "invoices.csv"), db=sqlite_url, merchant="shop").returncode == 0
    made = kvits("invoices", "pay-link", "INV-2026-0042", db=sqlite_url, merchant="shop", env=env)
    assert made.returncode == 0, made.stderr
    path = urlsplit(made.stdout.split()[0]).path

    engine = make_engine(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url, sandbox_url=sandbox_url, public_url=public,
                              secret_key="s" * 40), session_factory(engine))
    payer = TestClient(app, base_url=public, follow_redirects=False, client=("192.0.2.10", 50000))
    form = payer.post(f"{path}/card")
    assert form.status_code == 303 and form.headers["location"].startswith(f"{sandbox_url}/acquirer/pay/")
    with httpx.Client(timeout=10) as browser:
        card = pay_card(form.headers["location"], "5555555555554444", http=browser, merchant_prefix=public)
    assert card.back_to is not None
    assert payer.get(card.back_to[len(public):]).status_code == 303
    assert "mastercard" in payer.get(f"{path}/payment").text
    engine.dispose()
    assert _statuses(sqlite_url, "shop")["INV-2026-0042"] == "paid:10000"  # paid at capture

    moved = httpx.post(sandbox_url + "/_sandbox/clock", json={"days": 4}).json()  # past any weekend
    today = date.fromisoformat(moved["today"])
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "sandbox", "statement", "--bank", "dzintars", "--account", shop,
         "--from", (today - timedelta(days=6)).isoformat(), "--to", today.isoformat()],
        capture_output=True, cwd=REPO_ROOT, env={**os.environ, **env}, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    statement = tmp_path / "statement.xml"
    statement.write_bytes(result.stdout)
    outputs = []
    for _ in range(2):
        imported = kvits("statements", "import", str(statement), db=sqlite_url, merchant="shop")
        assert imported.returncode == 0, imported.stderr
        outputs.append(imported.stdout)
    assert "card payouts 1 (100.00 EUR)" in outputs[0], outputs[0]
    assert _statuses(sqlite_url, "shop")["INV-2026-0042"] == "paid:10000"  # not paid twice by the payout

    listed = kvits("payments", "list", db=sqlite_url, merchant="shop")
    assert listed.returncode == 0 and "settled" in listed.stdout and "4444" in listed.stdout, listed.stdout
    payment = re.search(r"pay_[0-9]+", listed.stdout)
    assert payment is not None
    too_much = kvits("payments", "refund", payment.group(0), "--amount", "100.01", db=sqlite_url, merchant="shop",
                     env=env)
    assert too_much.returncode == 1 and "more than" in too_much.stderr, too_much.stderr
    refunded = kvits("payments", "refund", payment.group(0), "--amount", "30.00", "--reason", "two lessons missed",
                     db=sqlite_url, merchant="shop", env=env)
    assert refunded.returncode == 0 and "succeeded" in refunded.stdout, refunded.stderr
    fees = kvits("fees", "statement", db=sqlite_url, merchant="shop")  # kvits' own clock: this month
    assert "-0.30" in fees.stdout and "0.70" in fees.stdout, fees.stdout  # 1.00 fee, 0.30 of it back
