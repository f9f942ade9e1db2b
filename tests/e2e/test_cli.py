"""The kvits command as a user runs it: a real process, the embedded SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def kvits(*args: str, db: str, merchant: str | None = None, timeout: float = 300,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "KVITS_DATABASE_URL": db, "COLUMNS": "200", **(env or {})}
    full_env.pop("KVITS_MERCHANT", None)
    cmd = [sys.executable, "-m", "api.cli"]
    if merchant:
        cmd += ["-m", merchant]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=REPO_ROOT)


@pytest.fixture
def db(sqlite_url: str) -> str:
    return sqlite_url


def _statuses(db: str, merchant: str) -> dict[str, str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT i.number, i.status, i.paid_minor FROM invoices i JOIN merchants m ON m.id = i.merchant_id "
            "WHERE m.code = :c ORDER BY i.number"), {"c": merchant}).all()
    engine.dispose()
    return {n: f"{s}:{p}" for n, s, p in rows}


def test_demo_pays_invoices_and_a_second_run_changes_nothing(db: str) -> None:
    first = kvits("demo", db=db)
    assert first.returncode == 0, first.stderr
    assert "balances ok" in first.stdout
    after_first = _statuses(db, "demo")
    assert after_first["INV-2026-0041"].startswith("paid:")
    assert after_first["INV-2026-0043"] == "paid:121000"
    assert after_first["INV-2026-0044"].startswith("paid:") and after_first["INV-2026-0052"].startswith("paid:")
    assert after_first["INV-2026-0049"] == "partially_paid:100000"
    # numbers written without their zeros: "INV 2026 42", "INV2026-46"
    assert after_first["INV-2026-0042"] == "paid:10000"
    assert after_first["INV-2026-0046"] == "paid:85000"
    assert after_first["INV-2026-0045"] == "paid:24200"  # "Оплата по счёту № 45": the running number
    assert after_first["INV-2026-0048"] == "issued:0"  # his wife's 60.50 without a reference: suggested
    assert after_first["INV-2026-0051"] == "issued:0"  # paid, then reversed by the bank
    assert after_first["INV-2026-0053"] == "issued:0"  # same amount, someone else's reference
    assert after_first["INV-2026-0050"] == "issued:0"
    second = kvits("demo", db=db)
    assert second.returncode == 0, second.stderr
    assert "already imported, nothing changed" in second.stdout
    assert _statuses(db, "demo") == after_first


def test_customers_invoices_and_statement_from_files(db: str, tmp_path: Path) -> None:
    created = kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=db, merchant="acme")
    assert created.returncode == 0
    assert created.stderr == "note: merchant 'acme' is new (check -m if you meant another)\n"
    res = kvits("invoices", "import", str(EXAMPLES / "invoices.csv"), db=db, merchant="acme")
    assert res.returncode == 0, res.stderr
    assert "13 invoices imported" in res.stdout
    again = kvits("invoices", "import", str(EXAMPLES / "invoices.csv"), db=db, merchant="acme")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert again.stderr.count("\n") == 1
    listing = kvits("invoices", "list", "--overdue", "--today", "2026-10-20", db=db, merchant="acme")
    assert "INV-2026-0050" in listing.stdout and "INV-2026-0041" not in listing.stdout
    dry = kvits("statements", "import", "--dry-run", str(EXAMPLES / "demo-statement.xml"), db=db, merchant="acme")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "auto-applied" in dry.stdout
    assert _statuses(db, "acme")["INV-2026-0041"] == "issued:0"
    real = kvits("statements", "import", "--strict", str(EXAMPLES / "demo-statement.xml"), db=db, merchant="acme")
    assert real.returncode == 0, real.stderr
    assert _statuses(db, "acme")["INV-2026-0041"] == "paid:32956"
    shown = kvits("statements", "show", "1", db=db, merchant="acme")
    assert shown.returncode == 0 and "INV-2026-0041" in shown.stdout
    typo = kvits("statements", "show", "1", db=db, merchant="acmee")  # a typo is not an empty merchant
    assert typo.returncode == 1 and "no merchant 'acmee' (merchants here: acme)" in typo.stderr
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=db, merchant="other").returncode == 0
    other = kvits("statements", "show", "1", db=db, merchant="other")
    assert other.returncode == 1 and "no statement 1" in other.stderr
    review = kvits("review", "list", db=db, merchant="acme")
    assert review.returncode == 0 and "Suggestions" in review.stdout
    inv = kvits("invoices", "show", "INV-2026-0051", db=db, merchant="acme")
    assert "payment_reversed" in inv.stdout


def test_create_invoice_and_numbering(db: str, tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("code,name,country,language,vat_number,ibans\nK1,Līga Ozoliņa,LV,lv,,LV80BANK0000435195001\n",
                   encoding="utf-8")
    assert kvits("customers", "import", str(csv), db=db).returncode == 0
    res = kvits("invoices", "create", "--customer", "K1", "--line", "Design;3;272.36;21;10",
                "--issue-date", "2026-11-01", db=db)
    assert res.returncode == 0, res.stderr
    assert "INV-2026-00001" in res.stdout and "889.80 EUR" in res.stdout  # 735.37 net + 154.43 VAT
    res2 = kvits("invoices", "create", "--customer", "K1", "--line", "More;1;10", "--issue-date", "2026-11-02", db=db)
    assert "INV-2026-00002" in res2.stdout
    draft = kvits("invoices", "create", "--customer", "K1", "--line", "Later;1;5", "--draft", db=db)
    assert "draft #3" in draft.stdout


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"not xml at all", "not well-formed"),
        (b"<html><body>hello</body></html>", "camt"),
        (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
         b'<GrpHdr><MsgId>&x;</MsgId></GrpHdr></BkToCstmrStmt></Document>', "DOCTYPE"),
        (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
         + b"".join(b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&" + bytes([ord("a") + i]) + b";") * 10)
                    for i in range(8))
         + b']><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr>'
         b"<MsgId>&i;</MsgId></GrpHdr></BkToCstmrStmt></Document>", "DOCTYPE"),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.99"><BkToCstmrStmt/></Document>',
         "version"),
    ],
    ids=["not-xml", "html", "xxe", "entity-bomb", "unknown-version"],
)
def test_hostile_files_are_refused_fast_in_one_line(db: str, tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "statement.xml"
    path.write_bytes(content)
    env = {**os.environ, "KVITS_DATABASE_URL": db}
    started = time.perf_counter()
    # A small launcher runs kvits and reports its child's peak memory: measured from
    # pytest itself, a forked child would inherit pytest's own high-water mark.
    launcher = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", launcher, sys.executable, "-m", "api.cli", "statements", "import", "--dry-run",
         str(path)], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60,
    )
    elapsed = time.perf_counter() - started
    rc, peak_kb = map(int, res.stdout.split())
    stderr = res.stderr
    assert rc == 1
    assert stderr.count("\n") == 1, stderr
    assert fragment.lower() in stderr.lower()
    assert "Traceback" not in stderr
    # the whole process, interpreter start included, on a loaded 2-core machine;
    # the refusal itself takes milliseconds (tests/camt)
    assert elapsed < 2.0, elapsed
    assert peak_kb < 100 * 1024  # kilobytes on Linux


def test_usage_errors_are_one_line(db: str, tmp_path: Path) -> None:
    res = kvits("statements", "import", str(tmp_path / "missing.xml"), db=db)
    assert res.returncode == 1 and "no such file" in res.stderr
    res = kvits("invoices", "list", "--status", "bogus", db=db)
    assert res.returncode == 1 and "bogus" in res.stderr
    res = kvits("--merchant", "Bad Code!", "invoices", "list", db=db)
    assert res.returncode == 1 and "merchant code" in res.stderr
    res = kvits("review", "accept", "999", db=db)
    assert res.returncode == 1 and "no merchant 'default' (no merchants yet)" in res.stderr
    kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=db)
    res = kvits("review", "accept", "999", db=db)
    assert res.returncode == 1 and "no suggestion 999" in res.stderr
    res = kvits("statements", "import", db=db)  # usage errors are one line too
    assert res.returncode == 2
    assert res.stderr == "error: Missing argument 'FILES...'. (see 'kvits statements import --help')\n" or \
        len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = kvits("invoices", "list", db="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert res.returncode == 1 and "database unavailable" in res.stderr and "Traceback" not in res.stderr
    for value, words in (("abc", "valid integer"), ("10", "greater than or equal to 26"), ("101", "less than")):
        res = kvits("invoices", "list", db=db, env={"KVITS_AUTO_APPLY_AT": value})
        assert res.returncode == 1, res.stderr
        assert f"KVITS_AUTO_APPLY_AT='{value}'" in res.stderr and words in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_brackets_in_bank_texts_are_printed_not_interpreted(db: str, tmp_path: Path) -> None:
    """Payment texts, names and element values come from the bank file; rich would read
    '[/x]' as markup and crash. They must come out literally, in results and in errors."""
    demo = (EXAMPLES / "demo-statement.xml").read_text(encoding="utf-8")
    texts = demo.replace("<Ustrd>Rēķins INV-2026-0041</Ustrd>", "<Ustrd>[/x] Rēķins [bold]INV-2026-0041</Ustrd>")
    assert texts != demo
    (tmp_path / "texts.xml").write_text(texts, encoding="utf-8")
    result = kvits("statements", "import", "--dry-run", str(tmp_path / "texts.xml"), db=db)
    assert result.returncode == 0, result.stderr
    assert "[/x] Rēķins [bold]INV-2026-0041" in result.stdout

    amount = demo.replace('<Amt Ccy="EUR">329.56</Amt>', '<Amt Ccy="EUR">[/x]</Amt>', 1)
    assert amount != demo
    (tmp_path / "[red]amount.xml").write_text(amount, encoding="utf-8")
    result = kvits("statements", "import", "--dry-run", str(tmp_path / "[red]amount.xml"), db=db)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: [red]amount.xml: amount '[/x]' is not a plain non-negative decimal amount")


def test_an_80_column_terminal_shows_whole_invoice_numbers(db: str) -> None:
    result = kvits("demo", db=db, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    # every transaction's result, invoice numbers and reasons are there in full
    assert "applied INV-2026-0044, INV-2026-0052 (96)" in result.stdout
    assert "suggested INV-2026-0048 (30)" in result.stdout
    for number in ("INV-2026-0041", "INV-2026-0049", "INV-2026-0053"):
        assert f"│ {number} │" in result.stdout


def test_invoice_create_refuses_what_no_invoice_can_be(db: str, tmp_path: Path) -> None:
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=db).returncode == 0
    cases = [
        (["--line", "x;1"], "use 'description;quantity;unit price"),
        (["--line", ";1;10"], "use 'description;quantity;unit price"),
        (["--line", "Free;1;0"], "nothing to pay"),
        (["--line", "Desk;1;10", "--currency", "XYZ"], "currency 'XYZ' is not an ISO 4217 code"),
        (["--line", "Desk;1;10", "--due-date", "2026-13-45"], "--due-date '2026-13-45' is not a date"),
        (["--line", "Desk;1;10", "--issue-date", "04.12.2026"], "--issue-date '04.12.2026' is not a date"),
    ]
    for extra, needle in cases:
        res = kvits("invoices", "create", "--customer", "C001", *extra, db=db)
        assert res.returncode == 1, (extra, res.stdout)
        assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, (extra, res.stderr)
    (tmp_path / "c.csv").write_text("code,name,country\nX1,Someone,ZZ\n", encoding="utf-8")
    res = kvits("customers", "import", str(tmp_path / "c.csv"), db=db)
    assert res.returncode == 1 and "country 'ZZ' is not an ISO 3166 code" in res.stderr
    res = kvits("customers", "import", str(tmp_path / "missing.csv"), db=db)
    assert res.returncode == 1 and res.stderr == f"error: {tmp_path / 'missing.csv'}: no such file or directory\n"
    res = kvits("statements", "import", str(tmp_path), db=db)
    assert res.returncode == 1 and "is a folder, not a statement file" in res.stderr


def test_assigning_more_than_is_open_says_where_the_rest_went(db: str, tmp_path: Path) -> None:
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=db).returncode == 0
    assert kvits("invoices", "import", str(EXAMPLES / "invoices.csv"), db=db).returncode == 0
    assert kvits("statements", "import", str(EXAMPLES / "demo-statement.xml"), db=db).returncode == 0
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:  # the 300.00 from a stranger quoting "Ref 712219": unmatched
        tx_id = conn.execute(text("SELECT id FROM bank_transactions WHERE amount_minor = 30000")).scalar_one()
    engine.dispose()
    res = kvits("review", "assign", str(tx_id), "INV-2026-0048", db=db)  # 60.50 open
    assert res.returncode == 0, res.stderr
    assert f"transaction {tx_id} applied: INV-2026-0048 paid (239.50 EUR kept as credit of customer" in res.stdout


@pytest.mark.parametrize("price", ["1e30", "1_000", "123456789012345678.00", "NaN"])
def test_invoice_csv_with_an_impossible_price_is_one_line_not_a_crash(db: str, tmp_path: Path, price: str) -> None:
    assert kvits("customers", "import", str(EXAMPLES / "customers.csv"), db=db).returncode == 0
    (tmp_path / "i.csv").write_text(
        "number,customer_code,currency,issue_date,description,quantity,unit_price\n"
        f"X-1,C001,EUR,2026-11-01,Desk,1,{price}\n", encoding="utf-8")
    res = kvits("invoices", "import", str(tmp_path / "i.csv"), db=db)
    assert res.returncode == 1, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "internal error" not in res.stderr
    assert kvits("invoices", "list", db=db).stdout.count("X-1") == 0


@pytest.mark.parametrize("pattern", ["FIXED", "INV-{year}", "{nope}", "{seq:"])
def test_an_invoice_number_pattern_that_cannot_count_is_refused(db: str, pattern: str) -> None:
    """Found by a new user: without {seq} every number was the same and the second
    'invoices create' looked for a free one forever."""
    res = kvits("invoices", "list", db=db, env={"KVITS_INVOICE_NUMBER_PATTERN": pattern}, timeout=30)
    assert res.returncode == 1
    assert res.stderr.startswith(f"error: bad setting KVITS_INVOICE_NUMBER_PATTERN={pattern!r}")
    assert len(res.stderr.strip().splitlines()) == 1


def test_merchants_list_and_fees_this_month(db: str) -> None:
    assert kvits("merchants", "create", "shop", "--name", "SIA Shop", "--iban", "LV21DZIN0000000000006",
                 db=db).returncode == 0
    listed = kvits("merchants", "list", db=db)
    assert listed.returncode == 0 and "shop  SIA Shop  IBAN LV21DZIN0000000000006  fee 1%" in listed.stdout
    bad = kvits("merchants", "create", "x", "--iban", "LV00NOPE", db=db)
    assert bad.returncode == 2 and "is not an IBAN" in bad.stderr
    taken = kvits("merchants", "create", "twin", "--iban", "LV21 DZIN 0000 0000 0000 6", db=db)
    assert taken.returncode == 1 and taken.stderr == (
        "error: IBAN LV21DZIN0000000000006 is merchant 'shop''s account already; each merchant needs its own\n")
    assert kvits("merchants", "update", "shop", "--iban", "LV21DZIN0000000000006", db=db).returncode == 0
    fees = kvits("fees", "statement", db=db, merchant="shop")
    assert fees.returncode == 0 and fees.stdout.startswith("no fees in 20")
