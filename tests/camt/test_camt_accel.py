"""The compiled entry decoder (camt/_accel.pyx) against the Python one it mirrors.

Both must give equal entries for every input, or the compiled one must step aside
(return None) so that the Python decoder reads the entry. These tests read the same
bytes both ways and compare the whole result, errors included.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import camt
from camt import accelerator
from camt.versions.v02 import Decoder02
from camt.versions.v08 import Decoder08

from .camt_xml import document, entry


def _outcome(data: bytes, accelerate: bool) -> object:
    try:
        return camt.read(data, accelerate=accelerate)
    except camt.CamtError as exc:
        return ("refused", str(exc))


def assert_same(data: bytes) -> object:
    fast = _outcome(data, True)
    slow = _outcome(data, False)
    assert fast == slow
    return fast


@pytest.fixture(scope="module")
def compiled() -> None:
    """Skips without the compiled decoder (no C compiler at install); CI must have it."""
    if accelerator.fast_entry(Decoder02(""), "") is None:
        pytest.skip(f"compiled camt entry decoder unavailable: {accelerator.status()}")


# ------------------------------------------------------------------ hand-written shapes

V02 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
V08 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

RICH_TX = (
    "<TxDtls><Refs><MsgId>M1</MsgId><AcctSvcrRef>A1</AcctSvcrRef><PmtInfId>P1</PmtInfId>"
    "<InstrId>I1</InstrId><EndToEndId> E2E-1 </EndToEndId><TxId>T1</TxId>"
    "<UETR>7f1b7e0a-5d3c-4f57-9a77-2f7f3c9c1a11</UETR><MndtId>MD1</MndtId><ChqNb>12</ChqNb>"
    "<ClrSysRef>C1</ClrSysRef><Prtry><Tp>BANK</Tp><Ref>X-9</Ref></Prtry></Refs>"
    '<Amt Ccy="EUR">7.50</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
    '<AmtDtls><InstdAmt><Amt Ccy="USD">8.00</Amt><CcyXchg><SrcCcy>USD</SrcCcy>'
    "<TrgtCcy>EUR</TrgtCcy><XchgRate>0.9375</XchgRate></CcyXchg></InstdAmt>"
    '<TxAmt><Amt Ccy="EUR">7.50</Amt></TxAmt><CntrValAmt><Amt Ccy="EUR">7.5</Amt></CntrValAmt></AmtDtls>'
    "<BkTxCd><Prtry><Cd>NTRF+051</Cd><Issr>DK</Issr></Prtry></BkTxCd>"
    "<Chrgs><Rcrd><Amt Ccy=\"EUR\">0.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Tp><Cd>COMM</Cd></Tp>"
    "<ChrgInclInd>true</ChrgInclInd><Br>DEBT</Br></Rcrd></Chrgs>"
    "<RltdPties><Dbtr><Nm>Jānis Bērziņš</Nm><PstlAdr><Ctry>LV</Ctry><AdrLine>Iela 1</AdrLine>"
    "<AdrLine>  </AdrLine><AdrLine>Rīga</AdrLine></PstlAdr><Id><PrvtId><Othr><Id>010101-12345</Id>"
    "</Othr></PrvtId></Id></Dbtr><DbtrAcct><Id><IBAN>LV87HABA0551012345678</IBAN></Id></DbtrAcct>"
    "<UltmtDbtr><Nm>Anna</Nm><Id><OrgId><BICOrBEI>HABALV22</BICOrBEI></OrgId></Id></UltmtDbtr>"
    "<Cdtr><Nm>SIA Kvits</Nm></Cdtr><CdtrAcct><Id><Othr><Id>ACC-1</Id></Othr></Id></CdtrAcct>"
    "<UltmtCdtr><Nm>Shop</Nm></UltmtCdtr></RltdPties>"
    "<RltdAgts><DbtrAgt><FinInstnId><BIC>HABALV22</BIC></FinInstnId></DbtrAgt>"
    "<CdtrAgt><FinInstnId><BICFI>PARXLV22</BICFI></FinInstnId></CdtrAgt></RltdAgts>"
    "<Purp><Cd>SUPP</Cd></Purp>"
    "<RmtInf><Ustrd>Rēķins Nr. 12</Ustrd><Ustrd> </Ustrd><Ustrd>&amp; more &lt;text&gt;</Ustrd>"
    "<Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>INV-12</Nb>"
    "<RltdDt>2026-03-01</RltdDt></RfrdDocInf><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry>"
    "<Issr>ISO</Issr></Tp><Ref>RF18539007547034</Ref></CdtrRefInf><Invcr><Nm>Seller</Nm></Invcr>"
    "<Invcee><Pty><Nm>Buyer</Nm></Pty></Invcee><AddtlRmtInf>extra</AddtlRmtInf></Strd></RmtInf>"
    "<RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>closed</AddtlInf></RtrInf>"
    "<AddtlTxInf>note</AddtlTxInf></TxDtls>"
)

SHAPES = {
    "plain": entry(),
    "rich transaction": entry("7.50", details=f"<NtryDtls>{RICH_TX}</NtryDtls>"),
    "batch": entry(
        "30.00",
        details=(
            '<NtryDtls><Btch><NbOfTxs>2</NbOfTxs><TtlAmt Ccy="EUR">30.00</TtlAmt></Btch>'
            '<TxDtls><Refs><EndToEndId>A</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">10.00</Amt>'
            "</TxAmt></AmtDtls></TxDtls><TxDtls><Refs><EndToEndId>B</EndToEndId></Refs>"
            '<AmtDtls><TxAmt><Amt Ccy="EUR">20.00</Amt></TxAmt></AmtDtls></TxDtls></NtryDtls>'
        ),
    ),
    "batch without amounts": entry(
        "30.00",
        details="<NtryDtls><TxDtls><Refs><TxId>1</TxId></Refs></TxDtls><TxDtls/></NtryDtls>",
    ),
    "entry-level extras": entry(
        "5",
        extra=(
            "<RvslInd>true</RvslInd>"
            '<AmtDtls><TxAmt><Amt Ccy="EUR">5.00</Amt></TxAmt></AmtDtls>'
            '<Chrgs><Amt Ccy="EUR">0.20</Amt><CdtDbtInd>DBIT</CdtDbtInd></Chrgs>'
            "<NtryRef>NR-1</NtryRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
            "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><AddtlNtryInf>info</AddtlNtryInf>"
        ),
    ),
    "date-times": entry().replace(
        "<BookgDt><Dt>2026-03-02</Dt></BookgDt>",
        "<BookgDt><DtTm>2026-03-02T23:30:00+02:00</DtTm></BookgDt>",
    ),
    "v08 status and party wrappers": entry(
        status="<Sts><Cd>BOOK</Cd></Sts>",
        details=(
            "<NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>Wrapped</Nm></Pty></Dbtr>"
            "<Cdtr><Agt><FinInstnId><BICFI>PARXLV22</BICFI></FinInstnId></Agt></Cdtr></RltdPties>"
            "</TxDtls></NtryDtls>"
        ),
    ),
    "CDATA and split text": entry(ref="<![CDATA[R-]]>1"),
    "JPY without decimals": entry("1200", ccy="JPY"),
}


@pytest.mark.parametrize("namespace", [V02, V08, ""], ids=["v02", "v08", "no-namespace"])
@pytest.mark.parametrize("name", list(SHAPES))
def test_shapes_read_alike_and_fast(compiled: None, name: str, namespace: str) -> None:
    body = SHAPES[name]
    if namespace == V08 and "<Sts>BOOK</Sts>" in body:
        body = body.replace("<Sts>BOOK</Sts>", "<Sts><Cd>BOOK</Cd></Sts>")
    data = document(body, namespace=namespace, balances="").encode()
    result = assert_same(data)
    assert isinstance(result, camt.Document), result
    # ... and the compiled decoder really read them, not the fallback
    tree = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    family = Decoder08 if namespace == V08 else Decoder02
    fast = accelerator.fast_entry(family(namespace), namespace)
    assert fast is not None
    ntry = next(tree.iter(f"{{{namespace}}}Ntry" if namespace else "Ntry"))
    assert fast(ntry, 0) == result.statements[0].entries[0]


def test_rich_transaction_values(compiled: None) -> None:
    """A spot check that equal also means right: fields the rich transaction carries."""
    doc = camt.read(document(SHAPES["rich transaction"], namespace=V02, balances="").encode())
    tx = doc.statements[0].entries[0].transactions[0]
    assert tx.references.end_to_end_id == "E2E-1"
    assert tx.references.proprietary == (("BANK", "X-9"),)
    assert tx.amount_details.exchange_rate == camt.model.Decimal("0.9375")
    assert tx.debtor is not None and tx.debtor.address_lines == ("Iela 1", "Rīga")
    assert tx.debtor.iban == "LV87HABA0551012345678" and tx.debtor.agent_bic == "HABALV22"
    assert tx.creditor is not None and tx.creditor.other_account_id == "ACC-1"
    assert tx.remittance_unstructured == ("Rēķins Nr. 12", "& more <text>")
    assert tx.creditor_references == ("RF18539007547034",)
    assert tx.remittance_structured[0].invoicee_name == "Buyer"
    assert tx.return_reason == "AC04" and tx.charges[0].included is True


# ------------------------------------------------------------------ generated entries

_AMOUNTS = ["10.00", "10", "0.5", " 7.25 ", "10.005", "1e3", "-5.00", "+5", "", "١٢", "010.10",
            "123456789012345678901.00", "5.", ".5", "1.000"]
_CCY = ["EUR", "JPY", "KWD", "eur", "EURO", ""]
_DATES = ["2026-03-02", " 2026-03-02 ", "2026-02-30", "20260302", "2026-03-02+01:00", "x", ""]
_TEXT = ["x", " padded ", "", "   ", "Ļoti garš teksts", "&amp;", "<![CDATA[c]]>"]
_SIDES = ["CRDT", "DBIT", " CRDT ", "crdt", ""]
_BOOLS = ["true", "false", "1", "0", "yes", ""]


def _amt(tag: str, amount: str, ccy: str) -> str:
    attr = f' Ccy="{ccy}"' if ccy != "-" else ""
    return f"<{tag}{attr}>{amount}</{tag}>"


@st.composite
def tx_details(draw: st.DrawFn) -> str:
    t = lambda: draw(st.sampled_from(_TEXT))  # noqa: E731
    parts = []
    if draw(st.booleans()):
        refs = "".join(f"<{n}>{t()}</{n}>" for n in draw(st.lists(st.sampled_from(
            ["MsgId", "EndToEndId", "TxId", "UETR", "InstrId", "Unknown"]), max_size=4)))
        if draw(st.booleans()):
            refs += f"<Prtry><Tp>{t()}</Tp><Ref>{t()}</Ref></Prtry>"
        parts.append(f"<Refs>{refs}</Refs>")
    if draw(st.booleans()):
        parts.append(_amt("Amt", draw(st.sampled_from(_AMOUNTS)), draw(st.sampled_from(_CCY + ["-"]))))
    if draw(st.booleans()):
        parts.append(f"<CdtDbtInd>{draw(st.sampled_from(_SIDES))}</CdtDbtInd>")
    if draw(st.booleans()):
        which = draw(st.sampled_from(["InstdAmt", "TxAmt", "CntrValAmt", "Other"]))
        rate = draw(st.sampled_from(["0.5", "1", "x", "1.", "-1"]))
        xchg = f"<CcyXchg><SrcCcy>{t()}</SrcCcy><XchgRate>{rate}</XchgRate></CcyXchg>"
        amount = _amt("Amt", draw(st.sampled_from(_AMOUNTS)), draw(st.sampled_from(_CCY)))
        parts.append(f"<AmtDtls><{which}>{amount}{xchg if draw(st.booleans()) else ''}</{which}></AmtDtls>")
    if draw(st.booleans()):
        role = draw(st.sampled_from(["Dbtr", "Cdtr", "UltmtDbtr", "UltmtCdtr", "Other"]))
        inner = f"<Nm>{t()}</Nm>"
        if draw(st.booleans()):
            inner += f"<PstlAdr><Ctry>{t()}</Ctry><AdrLine>{t()}</AdrLine></PstlAdr>"
        if draw(st.booleans()):
            inner += f"<Id><OrgId><Othr><Id>{t()}</Id></Othr></OrgId></Id>"
        if draw(st.booleans()):
            inner = f"<Pty>{inner}</Pty>"
        acct = draw(st.sampled_from(["", "<DbtrAcct><Id><IBAN>LV87HABA0551012345678</IBAN></Id></DbtrAcct>",
                                     "<CdtrAcct><Id><Othr><Id>9</Id></Othr></Id></CdtrAcct>"]))
        parts.append(f"<RltdPties><{role}>{inner}</{role}>{acct}</RltdPties>")
    if draw(st.booleans()):
        parts.append(f"<RltdAgts><DbtrAgt><FinInstnId><BIC>{t()}</BIC></FinInstnId></DbtrAgt></RltdAgts>")
    if draw(st.booleans()):
        strd = f"<Strd><CdtrRefInf><Ref>{t()}</Ref></CdtrRefInf></Strd>" if draw(st.booleans()) else ""
        day = draw(st.sampled_from(_DATES))
        docs = f"<Strd><RfrdDocInf><Nb>{t()}</Nb><RltdDt>{day}</RltdDt></RfrdDocInf></Strd>"
        parts.append(f"<RmtInf><Ustrd>{t()}</Ustrd>{strd}{docs if draw(st.booleans()) else ''}</RmtInf>")
    if draw(st.booleans()):
        parts.append(f"<RtrInf><Rsn><Prtry>{t()}</Prtry></Rsn></RtrInf>")
    if draw(st.booleans()):
        parts.append(f'<Chrgs><Rcrd>{_amt("Amt", draw(st.sampled_from(_AMOUNTS)), "EUR")}'
                     f"<ChrgInclInd>{draw(st.sampled_from(_BOOLS))}</ChrgInclInd></Rcrd></Chrgs>")
    if draw(st.booleans()):
        parts.append('<x:Foreign xmlns:x="urn:example:other">1</x:Foreign>')
    draw(st.randoms()).shuffle(parts)
    return "<TxDtls>" + "".join(parts) + "</TxDtls>"


@st.composite
def entries(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.integers(0, 9)):
        parts.append(_amt("Amt", draw(st.sampled_from(_AMOUNTS)), draw(st.sampled_from(_CCY + ["-"]))))
    if draw(st.integers(0, 9)):
        parts.append(f"<CdtDbtInd>{draw(st.sampled_from(_SIDES))}</CdtDbtInd>")
    if draw(st.integers(0, 9)):
        parts.append(draw(st.sampled_from(
            ["<Sts>BOOK</Sts>", "<Sts> PDNG </Sts>", "<Sts><Cd>BOOK</Cd></Sts>", "<Sts/>",
             "<Sts><Prtry>X</Prtry></Sts>", "<Sts>INFO<Cd>BOOK</Cd></Sts>"])))
    for tag in ("BookgDt", "ValDt"):
        if draw(st.booleans()):
            inner = draw(st.sampled_from(["Dt", "DtTm"]))
            value = draw(st.sampled_from(_DATES + ["2026-03-02T10:00:00", "2026-03-02T10:00:00Z"]))
            parts.append(f"<{tag}><{inner}>{value}</{inner}></{tag}>")
    if draw(st.booleans()):
        parts.append(f"<RvslInd>{draw(st.sampled_from(_BOOLS))}</RvslInd>")
    if draw(st.booleans()):
        parts.append(f"<AcctSvcrRef>{draw(st.sampled_from(_TEXT))}</AcctSvcrRef>")
    if draw(st.booleans()):
        count = draw(st.sampled_from(["2", "x", ""]))
        btch = f"<Btch><NbOfTxs>{count}</NbOfTxs>{_amt('TtlAmt', '30.00', 'EUR')}</Btch>"
        txs = "".join(draw(st.lists(tx_details(), max_size=3)))
        parts.append(f"<NtryDtls>{btch if draw(st.booleans()) else ''}{txs}</NtryDtls>")
    if draw(st.booleans()):
        parts.append("<Unknown><Amt>1</Amt></Unknown>")
    draw(st.randoms()).shuffle(parts)
    return "<Ntry>" + "".join(parts) + "</Ntry>"


@pytest.mark.skipif(os.environ.get("KVITS_ACCEL_EXAMPLES") == "0", reason="disabled")
@settings(max_examples=int(os.environ.get("KVITS_ACCEL_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(entries(), min_size=1, max_size=3),
       namespace=st.sampled_from([V02, V08, ""]))
def test_generated_entries_read_alike(compiled: None, body: list[str], namespace: str) -> None:
    assert_same(document("".join(body), namespace=namespace, balances="").encode())


# ------------------------------------------------------------------ real files


def _real_files(shared: Path | None) -> list[Path]:
    repo = Path(__file__).resolve().parents[2]
    files = [repo / "examples" / "demo-statement.xml"]
    if shared is not None:
        files += sorted((shared / "samples" / "camt").glob("*.xml"))
        files += sorted((shared / "cases").glob("*/statement.xml"))
    return files


def test_real_files_read_alike(compiled: None, shared_dir: Path) -> None:
    files = _real_files(shared_dir)
    assert len(files) > 40
    for path in files:
        assert_same(path.read_bytes()), path


def test_demo_statement_reads_alike(compiled: None) -> None:
    """Without ../shared too: the statement that ships with kvits."""
    (path,) = _real_files(None)
    result = assert_same(path.read_bytes())
    assert isinstance(result, camt.Document) and result.statements[0].entries


def test_status_names_the_decoder() -> None:
    line = accelerator.status()
    assert line.startswith(("compiled (lxml ", "pure Python ("))
