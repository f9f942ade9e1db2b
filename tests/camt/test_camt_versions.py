"""kvits' own small camt files: one per version family and message kind, so every
feature is tested without ../shared."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import camt
from camt import registry
from tests.camt.camt_xml import balance, document, entry

XSD_DIR = Path(__file__).parent / "fixtures" / "xsd"

# v02: Sts text, BIC, Dbtr/Nm, charges as direct Chrgs, TxAmt inside AmtDtls
V02_DETAILS = """<Chrgs><Amt Ccy="EUR">0.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Tp><Cd>COMM</Cd></Tp><Br>DEBT</Br></Chrgs>
<NtryDtls><Btch><NbOfTxs>2</NbOfTxs><TtlAmt Ccy="EUR">100.50</TtlAmt></Btch>
<TxDtls><Refs><EndToEndId>E2E-1</EndToEndId><MndtId>M-1</MndtId><Prtry><Tp>BANK</Tp><Ref>P-1</Ref></Prtry></Refs>
<AmtDtls><InstdAmt><Amt Ccy="USD">70.00</Amt><CcyXchg><SrcCcy>USD</SrcCcy><TrgtCcy>EUR</TrgtCcy><XchgRate>1.0769</XchgRate></CcyXchg></InstdAmt><TxAmt><Amt Ccy="EUR">65.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Jānis Bērziņš</Nm><PstlAdr><Ctry>LV</Ctry><AdrLine>Rīga</AdrLine><AdrLine>LV-1050</AdrLine></PstlAdr><Id><PrvtId><Othr><Id>010190-12345</Id></Othr></PrvtId></Id></Dbtr>
<DbtrAcct><Id><IBAN>LV87HABA0551012345678</IBAN></Id></DbtrAcct>
<UltmtDbtr><Nm>SIA Ultimate</Nm><Id><OrgId><Othr><Id>40003000000</Id></Othr></OrgId></Id></UltmtDbtr>
<Cdtr><Nm>SIA Merchant</Nm></Cdtr><CdtrAcct><Id><Othr><Id>ACC-7</Id></Othr></Id></CdtrAcct></RltdPties>
<RltdAgts><DbtrAgt><FinInstnId><BIC>HABALV22</BIC></FinInstnId></DbtrAgt></RltdAgts>
<Purp><Cd>GDDS</Cd></Purp>
<RmtInf><Ustrd>Invoice 1</Ustrd><Ustrd>and 2</Ustrd>
<Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>INV-1</Nb><RltdDt>2026-02-01</RltdDt></RfrdDocInf>
<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp><Ref>RF18539007547034</Ref></CdtrRefInf><AddtlRmtInf>extra</AddtlRmtInf></Strd></RmtInf>
<AddtlTxInf>first</AddtlTxInf></TxDtls></NtryDtls>
<NtryDtls><TxDtls><Refs><EndToEndId>E2E-2</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">35.00</Amt></TxAmt></AmtDtls>
<RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>account closed</AddtlInf></RtrInf></TxDtls></NtryDtls>
<AddtlNtryInf>batch of two</AddtlNtryInf>"""


def test_v02_statement_every_field() -> None:
    body = entry("99.50", details=V02_DETAILS, extra="<NtryRef>N-1</NtryRef>")
    bals = balance("OPBD", "100.00") + balance("CLBD", "199.50")
    doc = camt.read(document(body, balances=bals).encode())
    assert (doc.message.kind, doc.message.version, doc.message.message_id) == (
        "camt.053",
        "001.02",
        "MSG-1",
    )
    statement = doc.statements[0]
    assert statement.account.iban == "LV48PARX0001234567890"
    assert statement.balance_check is not None and statement.balance_check.status == "ok"
    e = statement.entries[0]
    assert (e.amount, e.status, e.entry_reference, e.additional_info) == (
        Decimal("99.50"),
        "BOOK",
        "N-1",
        "batch of two",
    )
    assert (e.batch_count, e.batch_sum) == (2, Decimal("100.50"))
    assert e.charges == (camt.Charge(Decimal("0.50"), "EUR", "DBIT", "COMM", None, "DEBT"),)
    first, second = e.transactions
    assert (first.amount, second.amount) == (Decimal("65.00"), Decimal("35.00"))
    assert first.amount_details.instructed == camt.Money(Decimal("70.00"), "USD")
    assert first.amount_details.exchange_rate == Decimal("1.0769")
    assert (
        first.amount_details.exchange_source_currency,
        first.amount_details.exchange_target_currency,
    ) == ("USD", "EUR")
    assert first.references.mandate_id == "M-1"
    assert first.references.proprietary == (("BANK", "P-1"),)
    assert first.debtor == camt.Party(
        name="Jānis Bērziņš",
        iban="LV87HABA0551012345678",
        agent_bic="HABALV22",
        country="LV",
        address_lines=("Rīga", "LV-1050"),
        private_id="010190-12345",
    )
    assert (
        first.ultimate_debtor is not None and first.ultimate_debtor.organisation_id == "40003000000"
    )
    assert first.creditor == camt.Party(name="SIA Merchant", other_account_id="ACC-7")
    assert first.counterparty is first.debtor
    assert first.purpose == "GDDS"
    assert first.remittance_unstructured == ("Invoice 1", "and 2")
    assert first.creditor_references == ("RF18539007547034",)
    strd = first.remittance_structured[0]
    assert strd.referred_documents == (camt.ReferredDocument("INV-1", "CINV", date(2026, 2, 1)),)
    assert strd.creditor_reference is not None and strd.creditor_reference.issuer == "ISO"
    assert strd.additional_info == ("extra",)
    assert first.additional_info == "first"
    assert (second.return_reason, second.return_info) == ("AC04", ("account closed",))
    # 65 + 35 = 100 = 99.50 + 0.50 charges: explained, so no batch problem
    assert statement.batch_problems == ()


V04_ENTRY_DETAILS = """<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">1.00</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><ChrgInclInd>true</ChrgInclInd><Tp><Prtry><Id>FEE</Id></Prtry></Tp></Rcrd></Chrgs>
<NtryDtls><TxDtls><Refs><EndToEndId>E-4</EndToEndId><UETR>3f0c9e4a-8d7e-4b7f-9f0a-1c2d3e4f5a6b</UETR></Refs><Amt Ccy="EUR">51.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<RltdPties><Dbtr><Nm>Old Style</Nm></Dbtr></RltdPties><RltdAgts><DbtrAgt><FinInstnId><BICFI>HABALV22</BICFI></FinInstnId></DbtrAgt></RltdAgts></TxDtls></NtryDtls>"""


def test_v04_bicfi_rcrd_charges_and_own_amount() -> None:
    account = (
        "<Acct><Id><IBAN>LV48PARX0001234567890</IBAN></Id><Ccy>EUR</Ccy>"
        "<Svcr><FinInstnId><BICFI>PARXLV22</BICFI></FinInstnId></Svcr></Acct>"
    )
    doc = camt.read(
        document(
            entry("50.00", details=V04_ENTRY_DETAILS),
            version="001.04",
            account=account,
            balances=balance("OPBD", "0.00") + balance("CLBD", "50.00"),
        ).encode()
    )
    statement = doc.statements[0]
    assert statement.account.servicer_bic == "PARXLV22"
    e = statement.entries[0]
    assert e.charges == (camt.Charge(Decimal("1.00"), "EUR", "DBIT", "FEE", True, None),)
    tx = e.transactions[0]
    assert (tx.amount, tx.amount_source, tx.references.uetr) == (
        Decimal("51.00"),
        "own",
        "3f0c9e4a-8d7e-4b7f-9f0a-1c2d3e4f5a6b",
    )
    assert tx.debtor == camt.Party(name="Old Style", agent_bic="HABALV22")
    assert statement.batch_problems == ()  # 51 - 1 charge = 50


V08_DETAILS = """<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn><Prtry><Cd>NTRF</Cd><Issr>SWIFT</Issr></Prtry></BkTxCd>
<NtryDtls><TxDtls><Refs><EndToEndId>E-8</EndToEndId></Refs>
<RltdPties><Dbtr><Pty><Nm>Wrapped Payer</Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>EE382200221020145685</IBAN></Id></DbtrAcct><Cdtr><Pty><Nm>Us</Nm></Pty></Cdtr></RltdPties></TxDtls></NtryDtls>"""


def test_v08_status_code_pty_wrapper_and_datetimes() -> None:
    ntry = (
        entry("75.20", status="<Sts><Cd>BOOK</Cd></Sts>", details=V08_DETAILS)
        .replace(
            "<BookgDt><Dt>2026-03-02</Dt></BookgDt>",
            "<BookgDt><DtTm>2026-03-02T23:30:00+02:00</DtTm></BookgDt>",
        )
        .replace(
            "<ValDt><Dt>2026-03-02</Dt></ValDt>",
            "<ValDt><DtTm>2026-03-02T23:30:00+02:00</DtTm></ValDt>",
        )
    )
    doc = camt.read(
        document(
            ntry, version="001.08", balances=balance("OPBD", "0.00") + balance("CLBD", "75.20")
        ).encode()
    )
    e = doc.statements[0].entries[0]
    assert e.status == "BOOK"
    assert e.booking_date == date(2026, 3, 2)  # local date, although 21:30 UTC
    assert e.booking_datetime == datetime(2026, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    assert (e.value_date, e.value_datetime) == (date(2026, 3, 2), e.booking_datetime)
    assert e.bank_transaction_code == camt.BankTransactionCode(
        "PMNT", "RCDT", "ESCT", "NTRF", "SWIFT"
    )
    tx = e.transactions[0]
    assert tx.debtor == camt.Party(name="Wrapped Payer", iban="EE382200221020145685")
    assert tx.creditor == camt.Party(name="Us")
    assert (tx.amount, tx.amount_source, tx.bank_transaction_code) == (
        Decimal("75.20"),
        "entry",
        e.bank_transaction_code,
    )
    assert doc.statements[0].balance_check is not None
    assert doc.statements[0].balance_check.status == "ok"


def test_v08_plain_text_status_still_accepted() -> None:
    doc = camt.read(document(entry("1.00"), version="001.13").encode())
    assert doc.message.version == "001.13"
    assert doc.statements[0].entries[0].status == "BOOK"


def test_camt052_v01_old_structure() -> None:
    body = (
        '<Ntry><Amt Ccy="SEK">200000</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><DtTm>2026-03-02T10:15:00+01:00</DtTm></BookgDt>"
        "<Btch><MsgId>B-1</MsgId><NbOfTxs>20</NbOfTxs></Btch><AddtlNtryInf>salaries</AddtlNtryInf></Ntry>"
    )
    account = "<Acct><Id><PrtryAcct><Id>SE-0001</Id></PrtryAcct></Id></Acct>"
    xml = document(body, kind="camt.052", version="001.01", account=account, balances="")
    xml = xml.replace("BkToCstmrAcctRpt>", "BkToCstmrAcctRptV01>")
    doc = camt.read(xml.encode())
    assert (doc.message.kind, doc.message.version) == ("camt.052", "001.01")
    statement = doc.statements[0]
    assert statement.account.other_id == "SE-0001"
    e = statement.entries[0]
    assert (e.amount, e.currency, e.batch_count) == (Decimal(200000), "SEK", 20)
    tx = e.transactions[0]
    assert (tx.from_entry, tx.amount, tx.additional_info) == (True, Decimal(200000), "salaries")
    assert statement.balance_check is not None
    assert statement.balance_check.status == "not_applicable"


def test_camt054_notification() -> None:
    details = (
        '<NtryDtls><TxDtls><Refs><TxId>T1</TxId></Refs><Amt Ccy="EUR">300</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>'
        '<TxDtls><Refs><TxId>T2</TxId></Refs><Amt Ccy="EUR">5</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls></NtryDtls>'
    )
    doc = camt.read(
        document(
            entry("305", status="<Sts>INFO</Sts>", details=details),
            kind="camt.054",
            version="001.10",
            balances="",
        ).encode()
    )
    n = doc.statements[0]
    assert n.header.kind == "camt.054"
    e = n.entries[0]
    assert (e.status, e.batch_count) == ("INFO", 2)
    assert [(t.amount, t.references.transaction_id) for t in e.transactions] == [
        (Decimal("300.00"), "T1"),
        (Decimal("5.00"), "T2"),
    ]
    assert n.batch_problems == ()


def test_camt052_report() -> None:
    doc = camt.read(document(entry("1.00"), kind="camt.052", version="001.02").encode())
    assert doc.statements[0].header.kind == "camt.052"
    assert doc.statements[0].balance_check is not None
    assert "camt.052" in doc.statements[0].balance_check.message


def test_no_namespace_root_decides_the_kind() -> None:
    doc = camt.read(document(entry("3.00"), namespace="").encode())
    assert (doc.message.kind, doc.message.version, doc.message.namespace) == ("camt.053", "", "")
    assert doc.statements[0].entries[0].amount == Decimal("3.00")
    report = camt.read(document(entry("3.00"), kind="camt.052", namespace="").encode())
    assert report.message.kind == "camt.052"


def test_registry_covers_every_version() -> None:
    names = set(registry.namespaces())
    prefix = "urn:iso:std:iso:20022:tech:xsd:"
    for n in range(2, 14):
        assert f"{prefix}camt.053.001.{n:02d}" in names
    for kind in ("camt.052", "camt.054"):
        for n in range(1, 14):
            assert f"{prefix}{kind}.001.{n:02d}" in names
    assert f"{prefix}camt.053.001.01" not in names


def test_event_order_and_late_balances() -> None:
    bals_early = balance("OPBD", "10.00")
    body = entry("5.00") + entry("2.00", "DBIT", ref="R-2") + balance("CLBD", "13.00")
    events = list(camt.stream(document(body, balances=bals_early).encode()))
    assert [type(e).__name__ for e in events] == [
        "MessageHeader",
        "StatementHeader",
        "Entry",
        "Entry",
        "StatementEnd",
    ]
    early = events[1]
    end = events[-1]
    assert isinstance(early, camt.StatementHeader) and isinstance(end, camt.StatementEnd)
    assert [b.type_code for b in early.balances] == ["OPBD"]
    assert [b.type_code for b in end.header.balances] == ["OPBD", "CLBD"]
    assert (end.entry_count, end.credit_sum, end.debit_sum) == (2, Decimal("5.00"), Decimal("2.00"))
    assert end.balance_check.status == "ok"
    assert [e.index for e in events if isinstance(e, camt.Entry)] == [0, 1]


def test_statement_without_entries_still_has_header_and_end() -> None:
    events = list(
        camt.stream(
            document("", balances=balance("OPBD", "1.00") + balance("CLBD", "1.00")).encode()
        )
    )
    assert [type(e).__name__ for e in events] == [
        "MessageHeader",
        "StatementHeader",
        "StatementEnd",
    ]


def test_several_statements_and_pending_entries() -> None:
    xml = document(
        entry("5.00") + entry("7.00", status="<Sts>PDNG</Sts>", ref="R-2"),
        balances=balance("OPBD", "0.00") + balance("CLBD", "5.00"),
    )
    second = xml[xml.index("<Stmt>") : xml.index("</Stmt>") + 7].replace("ST-1", "ST-2")
    xml = xml.replace("</Stmt>", "</Stmt>\n" + second, 1)
    doc = camt.read(xml.encode())
    assert [s.id for s in doc.statements] == ["ST-1", "ST-2"]
    assert [s.header.index for s in doc.statements] == [0, 1]
    # the pending 7.00 has not moved the booked balance
    assert all(
        s.balance_check is not None and s.balance_check.status == "ok" for s in doc.statements
    )


def test_batch_without_own_amounts() -> None:
    details = (
        '<NtryDtls><TxDtls><Refs><EndToEndId>A</EndToEndId></Refs><AmtDtls><InstdAmt><Amt Ccy="EUR">30.00</Amt></InstdAmt></AmtDtls></TxDtls>'
        "<TxDtls><Refs><EndToEndId>B</EndToEndId></Refs></TxDtls></NtryDtls>"
    )
    doc = camt.read(document(entry("50.00", details=details), balances="").encode())
    a, b = doc.statements[0].entries[0].transactions
    assert (a.amount, a.amount_source) == (Decimal("30.00"), "instructed")
    assert (b.amount, b.amount_source) == (Decimal("0.00"), "unknown")
    assert len(doc.statements[0].batch_problems) == 1
    assert "carry no amount" in doc.statements[0].batch_problems[0]


def test_utf16_with_bom() -> None:
    xml = document(
        entry(
            "4.00",
            details="<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Žaneta Ūdre</Nm></Dbtr></RltdPties></TxDtls></NtryDtls>",
        ),
        declaration='<?xml version="1.0" encoding="UTF-16"?>\n',
    )
    data = xml.encode("utf-16")  # with BOM
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    tx = camt.read(data).statements[0].entries[0].transactions[0]
    assert tx.debtor is not None and tx.debtor.name == "Žaneta Ūdre"


def test_latin1_declared() -> None:
    xml = document(
        entry(
            "4.00",
            details="<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Jürgen Müller</Nm></Dbtr></RltdPties></TxDtls></NtryDtls>",
        ),
        declaration='<?xml version="1.0" encoding="ISO-8859-1"?>\n',
    )
    tx = camt.read(xml.encode("latin-1")).statements[0].entries[0].transactions[0]
    assert tx.debtor is not None and tx.debtor.name == "Jürgen Müller"


def test_path_source(tmp_path: Path) -> None:
    path = tmp_path / "s.xml"
    path.write_text(document(entry("8.00")), encoding="utf-8")
    assert camt.read(path).statements[0].entries[0].amount == Decimal("8.00")
    assert camt.read(str(path)).statements[0].entries[0].amount == Decimal("8.00")


def test_schema_validation_passes() -> None:
    doc = camt.read(document(entry("8.00")).encode(), schema_dir=XSD_DIR)
    assert doc.statements[0].entries[0].amount == Decimal("8.00")


def test_schema_validation_error_names_the_line() -> None:
    bad = document(entry("8.00")).replace("<Id>ST-1</Id>", "")
    with pytest.raises(camt.CamtError) as info:
        camt.read(bad.encode(), schema_dir=XSD_DIR)
    assert "not valid against camt.053.001.02.xsd" in str(info.value)
    assert info.value.line == 5


def test_schema_file_missing() -> None:
    with pytest.raises(camt.CamtError, match="camt.053.001.04.xsd not found"):
        camt.read(document(entry("8.00"), version="001.04").encode(), schema_dir=XSD_DIR)
