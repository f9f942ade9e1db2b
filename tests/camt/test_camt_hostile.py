"""Untrusted input: every bad file is refused with one CamtError naming where and why."""

from __future__ import annotations

import io
import time
from decimal import Decimal

import pytest

import camt
from tests.camt.camt_xml import document, entry

GOOD = document(entry("10.00") + entry("20.00", ref="R-2"))

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + ']>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol9;</Document>\n'
)

XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
    "<GrpHdr><MsgId>&xxe;</MsgId></GrpHdr></BkToCstmrStmt></Document>"
)

EXTERNAL_DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>'
)


def refused(data: bytes | str) -> camt.CamtError:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(camt.CamtError) as info:
        camt.read(raw)
    assert "\n" not in str(info.value)
    return info.value


def test_good_file_reads() -> None:
    doc = camt.read(GOOD.encode())
    assert [e.amount for e in doc.statements[0].entries] == [Decimal("10.00"), Decimal("20.00")]


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["bomb", "xxe", "dtd"])
def test_doctype_refused_fast(data: str) -> None:
    start = time.perf_counter()
    error = refused(data)
    assert time.perf_counter() - start < 1.0
    assert "DOCTYPE/DTD not allowed" in str(error)
    assert "root:" not in str(error)  # /etc/passwd never read


def test_doctype_refused_in_utf16() -> None:
    error = refused(
        XXE.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    )
    assert error.problem == "DOCTYPE/DTD not allowed"


PARAMETER_ENTITY = (
    '<?xml version="1.0" encoding="{enc}"?>\n'
    '<!DOCTYPE Document [<!ENTITY % p SYSTEM "file://{path}"> %p;]>\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>'
)


@pytest.mark.parametrize("codec", ["utf-32-le", "utf-32-be", "utf-32"])
def test_utf32_is_refused_before_libxml2_sees_a_dtd(codec: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In UTF-32 '<!DOCTYPE' matches none of the byte marks, and libxml2 loads an external
    parameter entity (here a fifo that would block the import forever) before the first
    element: such files are refused on their first bytes."""
    import os

    fifo = tmp_path / "blocks"
    os.mkfifo(fifo)
    data = PARAMETER_ENTITY.format(enc="UTF-32", path=fifo).encode(codec)
    start = time.perf_counter()
    error = refused(data)
    assert time.perf_counter() - start < 1.0
    assert error.problem.startswith("UTF-32 is not accepted")


@pytest.mark.parametrize("encoding", ["UTF-7", "UTF-32", "IBM037", "x-unknown"])
def test_declared_encodings_outside_the_accepted_ones_are_refused(encoding: str) -> None:
    data = PARAMETER_ENTITY.format(enc=encoding, path="/dev/zero").encode("ascii")
    error = refused(data)
    assert error.problem.startswith(f"encoding '{encoding}' is not accepted")


def test_ebcdic_is_refused() -> None:
    error = refused(GOOD.replace('encoding="UTF-8"', 'encoding="IBM037"').encode("cp037"))
    assert error.problem.startswith("EBCDIC is not accepted")


@pytest.mark.parametrize("encoding", ["windows-1257", "ISO-8859-13", "iso-8859-1", "US-ASCII"])
def test_single_byte_bank_encodings_are_read(encoding: str) -> None:
    text = GOOD.replace('encoding="UTF-8"', f'encoding="{encoding}"')
    if encoding != "US-ASCII":
        text = text.replace("<AcctSvcrRef>R-2</AcctSvcrRef>", "<AcctSvcrRef>R-2 Zā</AcctSvcrRef>"
                            if encoding != "iso-8859-1" else "<AcctSvcrRef>R-2 Zä</AcctSvcrRef>")
    doc = camt.read(text.encode(encoding.lower().replace("us-ascii", "ascii")))
    assert doc.statements[0].entries[1].account_servicer_reference.startswith("R-2")  # type: ignore[union-attr]


def test_doctype_after_a_long_comment_refused() -> None:
    data = '<?xml version="1.0"?>\n<!--' + "x" * 200_000 + "-->\n" + XXE.split("\n", 1)[1]
    assert refused(data).problem == "DOCTYPE/DTD not allowed"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty file"),
        (b"hello, this is not xml", "not well-formed XML"),
        (b"<html><body><p>Statement</p></body></html>", "root element is <html>"),
        (b'{"camt": 53}', "not well-formed XML"),
        (b"<Document/>", "no message element"),
        (b"<Document><Invoice/></Document>", "not a camt message"),
    ],
    ids=["empty", "text", "html", "json", "bare-document", "other-root-child"],
)
def test_not_camt(data: bytes, needle: str) -> None:
    assert needle in str(refused(data))


def test_unknown_version() -> None:
    error = refused(GOOD.replace("camt.053.001.02", "camt.053.001.99"))
    assert "unknown version" in str(error)
    assert error.value == "urn:iso:std:iso:20022:tech:xsd:camt.053.001.99"


def test_foreign_namespace() -> None:
    error = refused(GOOD.replace("camt.053.001.02", "pain.001.001.03"))
    assert "not a camt" in str(error)


def test_message_element_must_fit_namespace() -> None:
    data = GOOD.replace("camt.053.001.02", "camt.052.001.02")
    error = refused(data)
    assert "does not fit camt.052.001.02" in str(error)
    assert error.path == "Document/BkToCstmrStmt"


def test_truncated_file_never_delivers_half_an_entry() -> None:
    data = GOOD.encode()
    cut = data[: data.index(b"R-2")]  # inside the second Ntry
    seen: list[camt.Entry] = []
    with pytest.raises(camt.CamtError) as info:
        for event in camt.stream(cut):
            if isinstance(event, camt.Entry):
                seen.append(event)
    # libxml2 closes open elements at the fault; that cut Ntry must not come out
    assert Decimal("20.00") not in [e.amount for e in seen]
    assert "not well-formed XML" in str(info.value)
    assert info.value.line is not None


@pytest.mark.parametrize(
    ("amount", "needle"),
    [
        ("12,50", "'12,50'"),
        ("-5", "'-5'"),
        ("NaN", "'NaN'"),
        ("1e3", "'1e3'"),
        ("", "''"),
        ("10.005", "more decimals than EUR allows (2)"),
        ("1_000", "not a plain non-negative decimal"),  # Decimal() would read 1000
        ("١٠٠", "not a plain non-negative decimal"),  # Arabic-Indic digits
        ("１００", "not a plain non-negative decimal"),  # full-width digits
        ("1234567890123456789", "more than 18 digits"),
        ("123456789012345678901234567890", "more than 18 digits"),  # beyond Decimal's precision
    ],
)
def test_bad_amounts(amount: str, needle: str) -> None:
    error = refused(document(entry("1.00") + entry(amount, ref="R-2")))
    assert needle in str(error)
    assert error.path == "Document/BkToCstmrStmt/Stmt/Ntry/Amt"
    assert error.line == 8
    assert str(error).startswith("amount ")


def test_amount_without_currency() -> None:
    error = refused(document(entry("1.00").replace(' Ccy="EUR"', "")))
    assert "currency" in error.problem


def test_trailing_zeros_are_exact() -> None:
    doc = camt.read(document(entry("12.3400000")).encode())
    assert doc.statements[0].entries[0].amount == Decimal("12.34")
    jpy = camt.read(document(entry("1500", ccy="JPY")).encode())
    assert jpy.statements[0].entries[0].amount == Decimal(1500)


@pytest.mark.parametrize(
    ("ntry", "needle", "path_end"),
    [
        (
            "<Ntry><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>",
            "without amount (Amt)",
            "/Ntry",
        ),
        (
            '<Ntry><Amt Ccy="EUR">1.00</Amt><Sts>BOOK</Sts></Ntry>',
            "credit/debit indicator",
            "/Ntry",
        ),
        (
            '<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>',
            "status (Sts)",
            "/Ntry",
        ),
        (
            entry().replace("<CdtDbtInd>CRDT", "<CdtDbtInd>CRED"),
            "neither CRDT nor DBIT",
            "/CdtDbtInd",
        ),
        (
            entry().replace("<Dt>2026-03-02</Dt></BookgDt>", "<Dt>2026-02-30</Dt></BookgDt>"),
            "bad date",
            "/BookgDt/Dt",
        ),
        (entry(extra="<RvslInd>maybe</RvslInd>"), "not a boolean", "/RvslInd"),
    ],
    ids=["no-amt", "no-cdtdbtind", "no-sts", "bad-cdtdbtind", "bad-date", "bad-rvslind"],
)
def test_bad_entries(ntry: str, needle: str, path_end: str) -> None:
    error = refused(document(ntry))
    assert needle in error.problem
    assert error.path is not None and error.path.endswith(path_end)
    assert error.line == 8


def test_size_limit() -> None:
    data = GOOD.encode()
    with pytest.raises(camt.CamtError, match="larger than the limit"):
        camt.read(data, max_bytes=100)
    assert camt.read(data, max_bytes=len(data)).statements[0].id == "ST-1"


def test_missing_file() -> None:
    with pytest.raises(camt.CamtError, match="cannot open file"):
        camt.read("/nonexistent/statement.xml")


def test_binary_file_object_is_read_and_left_open() -> None:
    handle = io.BytesIO(GOOD.encode())
    assert len(camt.read(handle).statements[0].entries) == 2
    assert not handle.closed


def test_error_str_is_one_line_with_everything() -> None:
    error = camt.CamtError(
        "amount '10.005' has more decimals than EUR allows (2)",
        path="Document/BkToCstmrStmt/Stmt/Ntry/Amt",
        line=12,
        value="10.005",
    )
    assert str(error) == (
        "amount '10.005' has more decimals than EUR allows (2) at "
        "Document/BkToCstmrStmt/Stmt/Ntry/Amt, line 12"
    )
    assert isinstance(error, ValueError)
    assert str(camt.CamtError("bad\nthing", value="x\ny")) == "bad thing: 'x\\ny'"


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("<Dt>2026-03-02</Dt></BookgDt>", "<Dt>20260302</Dt></BookgDt>", "bad date '20260302'"),
        ("<Dt>2026-03-02</Dt></BookgDt>", "<Dt>2026-03-02+99:99</Dt></BookgDt>", "bad date"),
        ("<Dt>2026-03-02</Dt></BookgDt>", "<DtTm>2026-03-02 10:00</DtTm></BookgDt>", "bad date-time"),
        ("<Dt>2026-03-02</Dt></BookgDt>", "<DtTm>2026-03-02T10:00:00+25:00</DtTm></BookgDt>", "bad date-time"),
        ("<AcctSvcrRef>R-1</AcctSvcrRef>",
         "<AcctSvcrRef>R-1</AcctSvcrRef><NtryDtls><Btch><NbOfTxs>" + "9" * 5000 + "</NbOfTxs></Btch></NtryDtls>",
         "is not a whole number of at most 18 digits"),
    ],
)
def test_values_outside_their_xml_type_are_refused(old: str, new: str, needle: str) -> None:
    """Only the forms the schema allows: Python would take '20260302' as a date, a
    5000-digit count would raise a plain ValueError, not the documented CamtError."""
    ntry = entry("1.00")
    assert old in ntry
    error = refused(document(ntry.replace(old, new)))
    assert needle in str(error)


def test_a_sequence_number_too_long_is_a_camt_error() -> None:
    data = document(entry("1.00")).replace("<Id>ST-1</Id>", "<Id>ST-1</Id><ElctrncSeqNb>" + "1" * 30 + "</ElctrncSeqNb>")
    assert "is not a whole number of at most 18 digits" in str(refused(data))


def test_fractions_of_a_second_beyond_microseconds_are_read() -> None:
    ntry = entry("1.00").replace("<Dt>2026-03-02</Dt></BookgDt>", "<DtTm>2026-03-02T10:00:00.123456789+02:00</DtTm></BookgDt>")
    booked = camt.read(document(ntry).encode()).statements[0].entries[0].booking_datetime
    assert booked is not None and booked.microsecond == 123456 and booked.utcoffset() is not None


@pytest.mark.parametrize("where", ["</GrpHdr>", "<Acct>"])
def test_a_wide_element_is_dropped_in_linear_time(where: str) -> None:
    """200 000 empty children in GrpHdr (or an unknown element before the entries): lxml
    re-homed each namespaced descendant on remove(), ~20 s for 0.8 MB; now ~0.1 s. The
    bound is loose (a loaded CI machine); quadratic would blow through it."""
    kids = "<Y/>" * 200_000
    data = GOOD.replace(where, (kids + where) if where == "</GrpHdr>" else f"<X>{kids}</X>{where}")
    start = time.perf_counter()
    doc = camt.read(data.encode())
    assert time.perf_counter() - start < 3.0
    assert len(doc.statements[0].entries) == 2


def test_a_namespace_with_a_closing_brace_is_a_camt_error() -> None:
    """Found by bench/fuzz_camt.py: lxml's QName() raised ValueError on it."""
    data = GOOD.replace("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", "urn:is{urn:iso}std")
    assert "unknown namespace" in str(refused(data))


# ---------------------------------------------------------------- the hostile corpus of issue 9
# Each is refused (or read) quickly, in bounded memory, with one CamtError naming it.


def _measured(data: bytes) -> tuple[camt.CamtError | None, float, int]:
    """Read `data` in a child process: (error, seconds, peak RSS in KiB of that child)."""
    import pickle
    import subprocess
    import sys

    code = (
        "import pickle, sys, time\n"
        "import camt\n"
        "data = sys.stdin.buffer.read()\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    camt.read(data); error = None\n"
        "except camt.CamtError as exc:\n"
        "    error = (exc.problem, exc.path, exc.line, exc.value)\n"
        "elapsed = time.perf_counter() - start\n"
        # VmHWM of this process's own memory map: ru_maxrss would carry the forking parent's peak over exec
        "peak = int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
        "sys.stdout.buffer.write(pickle.dumps((error, elapsed, peak)))\n"
    )
    from tests.conftest import REPO_ROOT

    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    error, elapsed, peak = pickle.loads(out.stdout)
    return (camt.CamtError(error[0], path=error[1], line=error[2], value=error[3]) if error else None), elapsed, peak


XINCLUDE = GOOD.replace(
    "<AcctSvcrRef>R-2</AcctSvcrRef>",
    '<AcctSvcrRef><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
    "</AcctSvcrRef>",
)


def test_xinclude_is_never_processed() -> None:
    doc = camt.read(XINCLUDE.encode())
    entry = doc.statements[0].entries[1]
    assert entry.account_servicer_reference is None  # the include element is not text, and nothing was read
    assert "root:" not in repr(doc)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "build", "needle"),
    [
        ("deep nesting", lambda: GOOD.replace("<AcctSvcrRef>R-2</AcctSvcrRef>",
                                              "<X>" * 100_000 + "</X>" * 100_000).encode(), "not well-formed XML"),
        ("50 MB text node", lambda: GOOD.replace("<AcctSvcrRef>R-2</AcctSvcrRef>",
                                                 "<AddtlNtryInf>" + "A" * 50_000_000 + "</AddtlNtryInf>").encode(),
         "not well-formed XML"),
        ("invalid UTF-8", lambda: GOOD.encode().replace(b"R-2", b"R-\xff\xfe2"), "not well-formed XML"),
        ("gzip", lambda: __import__("gzip").compress(GOOD.encode()), "a gzip file, not a camt XML file"),
        ("zip", lambda: _zipped(GOOD.encode()), "a zip archive, not a camt XML file: unpack it"),
    ],
)
def test_hostile_corpus_is_refused_fast_and_small(name: str, build, needle: str) -> None:  # type: ignore[no-untyped-def]
    data = build()
    error, elapsed, peak_kb = _measured(data)
    assert error is not None, f"{name}: read without complaint"
    assert needle in str(error), (name, str(error))
    assert "\n" not in str(error)
    megabytes = len(data) / 1e6
    assert elapsed < max(1.0, megabytes), (name, elapsed)  # at most a second per megabyte
    assert peak_kb < 100 * 1024 + len(data) / 1024, (name, peak_kb)  # the input itself plus < 100 MB


def _zipped(data: bytes) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("statement.xml", data * 1000)  # 1000x inflation: a small zip bomb
    return buffer.getvalue()
