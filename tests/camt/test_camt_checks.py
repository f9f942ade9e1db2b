"""Balance and batch checks (pure), and a round-trip property over generated amounts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

import camt
from camt.checks import check_balances, check_batch
from tests.camt.camt_xml import balance, document, entry


def header(
    *balances: camt.Balance, kind: str = "camt.053", last_page: bool | None = None
) -> camt.StatementHeader:
    return camt.StatementHeader(
        index=0,
        line=1,
        kind=kind,
        id="S",
        electronic_sequence=None,
        legal_sequence=None,
        created=None,
        from_datetime=None,
        to_datetime=None,
        account=camt.Account(currency="EUR"),
        balances=balances,
        pagination=camt.Pagination(1, last_page) if last_page is not None else None,
    )


def bal(code: str, amount: str, side: str = "CRDT") -> camt.Balance:
    return camt.Balance(code, Decimal(amount), "EUR", side)  # type: ignore[arg-type]


def test_ok_and_mismatch() -> None:
    h = header(bal("OPBD", "100.00"), bal("CLBD", "150.00"))
    assert check_balances(h, Decimal("70.00"), Decimal("20.00")).status == "ok"
    bad = check_balances(h, Decimal("70.00"), Decimal("10.00"))
    assert (bad.status, bad.expected_closing) == ("mismatch", Decimal("160.00"))
    assert "difference -10.00" in bad.message


def test_negative_balances_are_signed() -> None:
    h = header(bal("OPBD", "10.00", "DBIT"), bal("CLBD", "5.00", "CRDT"))
    assert check_balances(h, Decimal("15.00"), Decimal(0)).status == "ok"


def test_prcd_opens_and_itbd_pages() -> None:
    assert (
        check_balances(
            header(bal("PRCD", "1.00"), bal("CLBD", "2.00")), Decimal("1.00"), Decimal(0)
        ).status
        == "ok"
    )
    page = header(bal("OPBD", "1.00"), bal("ITBD", "3.00"), last_page=False)
    assert check_balances(page, Decimal("2.00"), Decimal(0)).status == "ok"
    middle = header(bal("ITBD", "3.00"), bal("ITBD", "4.00"), last_page=False)
    assert check_balances(middle, Decimal("1.00"), Decimal(0)).status == "ok"
    last = header(bal("ITBD", "3.00"), last_page=True)
    assert check_balances(last, Decimal(0), Decimal(0)).status == "not_applicable"


def test_not_applicable_reasons() -> None:
    assert (
        "no closing" in check_balances(header(bal("OPBD", "1.00")), Decimal(0), Decimal(0)).message
    )
    assert (
        check_balances(header(kind="camt.054"), Decimal(0), Decimal(0)).status == "not_applicable"
    )
    foreign = check_balances(
        header(bal("OPBD", "1.00"), bal("CLBD", "1.00")), Decimal(0), Decimal(0), foreign_entries=2
    )
    assert "not in EUR" in foreign.message


def _entry(amount: str, *txs: tuple[str, str], charges: str | None = None) -> camt.Entry:
    return camt.Entry(
        index=0,
        line=9,
        amount=Decimal(amount),
        currency="EUR",
        credit_debit="CRDT",
        status="BOOK",
        account_servicer_reference="X-1",
        charges=(camt.Charge(Decimal(charges), "EUR"),) if charges else (),
        transactions=tuple(
            camt.Transaction(index=i, amount=Decimal(a), currency="EUR", credit_debit=side)  # type: ignore[arg-type]
            for i, (a, side) in enumerate(txs)
        ),
    )


def test_batch_check() -> None:
    assert check_batch(_entry("30.00", ("10.00", "CRDT"), ("20.00", "CRDT"))) == []
    assert check_batch(_entry("29.00", ("10.00", "CRDT"), ("20.00", "CRDT"), charges="1.00")) == []
    assert check_batch(_entry("10.00", ("15.00", "CRDT"), ("5.00", "DBIT"))) == []
    problems = check_batch(_entry("31.00", ("10.00", "CRDT"), ("20.00", "CRDT")))
    assert problems == [
        "entry 1 (line 9, ref X-1): transactions add up to 30.00 EUR, entry is 31.00"
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**11), st.booleans()), min_size=1, max_size=8))
def test_amounts_round_trip_through_xml(items: list[tuple[int, bool]]) -> None:
    amounts = [(Decimal(cents).scaleb(-2), credit) for cents, credit in items]
    body = "".join(
        entry(f"{a:.2f}", "CRDT" if credit else "DBIT", ref=f"R-{i}")
        for i, (a, credit) in enumerate(amounts)
    )
    closing = sum((a if credit else -a for a, credit in amounts), Decimal("0.00"))
    side = "CRDT" if closing >= 0 else "DBIT"
    xml = document(
        body, balances=balance("OPBD", "0.00") + balance("CLBD", f"{abs(closing):.2f}", side)
    )
    doc = camt.read(xml.encode())
    statement = doc.statements[0]
    assert [(e.amount, e.credit_debit == "CRDT") for e in statement.entries] == amounts
    assert statement.balance_check is not None and statement.balance_check.status == "ok"


def test_a_continuation_page_reads_its_interim_balances_in_file_order() -> None:
    """A middle page opens with one ITBD and closes with another, both before its
    entries: read in file order, 100.00 + 25.00 = 125.00 balances; read backwards (as
    the reader once did) the page would look off by 50.00."""
    page = document(
        entry("25.00"),
        balances=balance("ITBD", "100.00") + balance("ITBD", "125.00"),
    ).replace("<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-03-02T06:00:00</CreDtTm></GrpHdr>",
              "<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-03-02T06:00:00</CreDtTm>"
              "<MsgPgntn><PgNb>2</PgNb><LastPgInd>false</LastPgInd></MsgPgntn></GrpHdr>")
    doc = camt.read(page.encode())
    statement = doc.statements[0]
    assert [b.amount for b in statement.balances] == [Decimal("100.00"), Decimal("125.00")]
    assert statement.balance_check is not None
    assert statement.balance_check.status == "ok", statement.balance_check.message
