"""Coverage-guided fuzzing of the camt reader (atheris / libFuzzer).

Every input is fed to `camt.read` - the compiled entry decoder when it is built, and
every input a second time through the pure-Python decoder - and must end in a
result or a `CamtError`. The run fails on:

- any other exception escaping the reader (a crash, as libFuzzer reports it);
- an input that takes longer than 1 s per MB (with a 0.25 s floor for tiny inputs);
- resident memory above 512 MB after any input (read from /proc/self/statm). libFuzzer's
  own `-rss_limit_mb` counts the peak since the process was forked, which on Linux
  includes its parent's memory (a large pytest process started it): it is set to
  4096 MB, as a backstop only.

Seeds: the demo statement, and as camt/writer.py writes it in every version,
the hostile shapes of tests/camt (DOCTYPE, entities, UTF-16), and, when present,
every file of ../shared/samples/camt. A dictionary of camt tags and values steers the
mutations towards structure.

    python bench/fuzz_camt.py -runs=1000000            # the documented run
    python bench/fuzz_camt.py -runs=20000 -seed=1      # what CI runs (tests/camt)

Extra libFuzzer flags pass through (-max_total_time, -jobs ...). A failing input is
written as crash-* / slow-* in the working folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["camt", "core.money"]):
    import camt
    from camt.writer import VERSIONS, to_bytes

SLOW_SECONDS_PER_MB = 1.0
SLOW_FLOOR = 0.25

_TAGS = (
    "Document BkToCstmrStmt BkToCstmrAcctRpt BkToCstmrDbtCdtNtfctn GrpHdr MsgId CreDtTm MsgPgntn PgNb "
    "LastPgInd Stmt Rpt Ntfctn Id ElctrncSeqNb LglSeqNb FrToDt FrDtTm ToDtTm Acct IBAN Othr Ccy Ownr Nm "
    "Svcr FinInstnId BIC BICFI Bal Tp CdOrPrtry Cd Prtry Amt CdtDbtInd Dt DtTm TxsSummry TtlNtries "
    "NbOfNtries Sum Ntry NtryRef RvslInd Sts BookgDt ValDt AcctSvcrRef BkTxCd Domn Fmly SubFmlyCd "
    "AmtDtls InstdAmt TxAmt CntrValAmt CcyXchg SrcCcy TrgtCcy XchgRate Chrgs Rcrd NtryDtls Btch NbOfTxs "
    "TtlAmt TxDtls Refs PmtInfId InstrId EndToEndId TxId UETR MndtId RltdPties Dbtr DbtrAcct UltmtDbtr "
    "Cdtr CdtrAcct UltmtCdtr Pty Agt RltdAgts DbtrAgt CdtrAgt RmtInf Ustrd Strd CdtrRefInf Ref Issr "
    "RfrdDocInf Nb RltdDt RtrInf Rsn AddtlInf AddtlTxInf AddtlNtryInf AddtlStmtInf PstlAdr Ctry AdrLine"
).split()
_VALUES = ("CRDT", "DBIT", "BOOK", "PDNG", "OPBD", "CLBD", "ITBD", "PRCD", "SCOR", "EUR", "JPY", "KWD",
           "true", "false", "2026-11-03", "2026-11-03T10:00:00+02:00", "NOTPROVIDED", "RF18539007547034",
           "0.01", "100.00", "1.005", "<!DOCTYPE", "<!ENTITY", "&lt;", "encoding=\"UTF-16\"",
           "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
           "urn:iso:std:iso:20022:tech:xsd:camt.052.001.02", "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08")


def _dictionary() -> str:
    fd, name = tempfile.mkstemp(prefix="camt-", suffix=".dict")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for n, tag in enumerate(_TAGS):
            out.write(f't{n}o="<{tag}>"\nt{n}c="</{tag}>"\n')
        for n, value in enumerate(_VALUES):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            out.write(f'v{n}="{escaped}"\n')
    return name


def _seeds(folder: Path) -> None:
    """Write the seed corpus into `folder`."""
    demo = (ROOT / "examples" / "demo-statement.xml").read_bytes()
    document = camt.read(demo)
    report = replace(document, message=replace(document.message, kind="camt.052"))
    seeds: dict[str, bytes] = {"demo": demo}
    for version in VERSIONS:  # the demo statement in every version the reader knows
        seeds[f"writer-053-{version}"] = to_bytes(document, version=version)
        seeds[f"writer-052-{version}"] = to_bytes(report, version=version)
    seeds["utf16"] = seeds["writer-053-001.02"].decode("utf-8").replace(
        'encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    seeds["doctype"] = seeds["writer-053-001.02"].replace(
        b"<Document", b'<!DOCTYPE Document [<!ENTITY e "x">]>\n<Document', 1)
    shared = Path(os.environ.get("KVITS_SHARED_DIR", ROOT.parent / "shared")) / "samples" / "camt"
    if shared.is_dir():
        for path in sorted(shared.glob("*.xml")):
            if path.stat().st_size <= 256 * 1024:
                seeds[f"sample-{path.name}"] = path.read_bytes()
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


def _consume(data: bytes, accelerate: bool) -> None:
    try:
        doc = camt.read(data, accelerate=accelerate)
    except camt.CamtError as exc:
        text = str(exc)
        assert text and "\n" not in text, f"CamtError message is not one line: {text!r}"
        return
    for statement in doc.statements:  # touch what a caller reads
        for entry in statement.entries:
            for tx in entry.transactions:
                assert tx.amount >= 0 and len(tx.currency) == 3


RSS_LIMIT_MB = 512
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_mb() -> int:
    """Memory this process holds now (not the peak since fork: see the docstring)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE // 2**20
    except (OSError, ValueError, IndexError):
        return 0


def test_one_input(data: bytes) -> None:
    limit = max(SLOW_FLOOR, SLOW_SECONDS_PER_MB * len(data) / 1e6)
    for accelerate in (True, False):
        start = time.perf_counter()
        _consume(data, accelerate)
        elapsed = time.perf_counter() - start
        if elapsed > limit:
            name = f"slow-{int(time.time() * 1000)}"
            Path(name).write_bytes(data)
            raise AssertionError(f"{len(data)} bytes took {elapsed:.2f} s (limit {limit:.2f} s): saved as {name}")
    resident = _resident_mb()
    if resident > RSS_LIMIT_MB:
        name = f"oom-{int(time.time() * 1000)}"
        Path(name).write_bytes(data)
        raise MemoryError(f"{resident} MB resident after {len(data)} bytes (limit {RSS_LIMIT_MB} MB): saved as {name}")


def main() -> None:
    args = list(sys.argv)
    if not any(a.startswith("-dict=") for a in args):
        args.append(f"-dict={_dictionary()}")
    if not any(a.startswith("-rss_limit_mb=") for a in args):
        args.append("-rss_limit_mb=4096")
    if not any(a.startswith("-max_len=") for a in args):
        args.append("-max_len=262144")
    corpus = [a for a in args[1:] if not a.startswith("-")]
    if not corpus:
        folder = Path(tempfile.mkdtemp(prefix="camt-corpus-"))
        _seeds(folder)
        args.append(str(folder))
    print(f"entry decoder: {__import__('camt.accelerator', fromlist=['status']).status()}", flush=True)
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
