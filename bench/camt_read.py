"""Benchmark: kvits camt.stream (full extraction) against bare lxml iterparse.

Generates one large camt.053.001.02 statement into a temporary file, then runs each
reader in its own child process (so each gets its own peak RSS) over the same file:
bare iterparse, kvits (with the compiled entry decoder when it is built) and kvits
with the Python decoder only. Prints CPU and wall time, entries per CPU second, peak
memory and each kvits/bare ratio. CPU time is the figure to compare on a shared
machine; imports are done before the clock starts.

    python bench/camt_read.py --entries 200000
    python bench/camt_read.py --size-mb 1024
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import camt  # noqa: E402
from camt import accelerator  # noqa: E402

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"

_HEAD = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2026-01-31T06:00:00+02:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>BENCH-STMT-1</Id><ElctrncSeqNb>1</ElctrncSeqNb><CreDtTm>2026-01-31T06:00:00+02:00</CreDtTm>
   <Acct><Id><IBAN>LV48PARX0001234567890</IBAN></Id><Ccy>EUR</Ccy><Svcr><FinInstnId><BIC>PARXLV22</BIC></FinInstnId></Svcr></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>
"""

# A realistic SEPA credit: one TxDtls with refs, amount, parties, accounts, agent, RF.
_ENTRY = """   <Ntry>
    <Amt Ccy="EUR">{amount}</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd>
    <Sts>BOOK</Sts>
    <BookgDt><Dt>2026-01-{day:02d}</Dt></BookgDt>
    <ValDt><Dt>2026-01-{day:02d}</Dt></ValDt>
    <AcctSvcrRef>REF{n:010d}</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls>
     <TxDtls>
      <Refs><MsgId>MSG{n:010d}</MsgId><EndToEndId>E2E-{n:010d}</EndToEndId><TxId>TX{n:010d}</TxId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>
      <RltdPties>
       <Dbtr><Nm>SIA Payer Number {n}</Nm><PstlAdr><Ctry>LV</Ctry><AdrLine>Brivibas iela {day}</AdrLine></PstlAdr></Dbtr>
       <DbtrAcct><Id><IBAN>LV87HABA0551012345678</IBAN></Id></DbtrAcct>
      </RltdPties>
      <RltdAgts><DbtrAgt><FinInstnId><BIC>HABALV22</BIC></FinInstnId></DbtrAgt></RltdAgts>
      <RmtInf><Ustrd>Invoice LV-2026-{n:06d}</Ustrd><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
     </TxDtls>
    </NtryDtls>
    <AddtlNtryInf>SEPA credit transfer</AddtlNtryInf>
   </Ntry>
"""


def generate(path: Path, entries: int | None, size_mb: int | None) -> int:
    """Write the statement; return the number of entries written."""
    target = size_mb * 1024 * 1024 if size_mb else None
    total = Decimal(0)
    n = 0
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(_HEAD)
        batch: list[str] = []
        while (entries is not None and n < entries) or (target is not None and written < target):
            cents = 100 + (n * 7919) % 1_000_000
            amount = Decimal(cents).scaleb(-2)
            total += amount
            text = _ENTRY.format(amount=amount, day=1 + n % 28, n=n)
            batch.append(text)
            written += len(text)
            n += 1
            if len(batch) == 1000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
        out.write(
            f'   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{total}</Amt>'
            "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-31</Dt></Dt></Bal>\n"
            "  </Stmt>\n </BkToCstmrStmt>\n</Document>\n"
        )
    return n


def run_bare(path: str) -> int:
    """The floor: lxml iterparse that clears each Ntry and reads nothing."""
    count = 0
    for _event, el in etree.iterparse(
        path,
        events=("end",),
        tag=f"{{{NS}}}Ntry",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    ):
        count += 1
        el.clear()
        parent = el.getparent()
        while el.getprevious() is not None:
            del parent[0]
    return count


def run_kvits(path: str, accelerate: bool) -> int:
    count = 0
    for event in camt.stream(path, accelerate=accelerate):
        if isinstance(event, camt.Entry):
            count += 1
        elif isinstance(event, camt.StatementEnd):
            assert event.balance_check.status == "ok", event.balance_check.message
    return count


MODES = ("bare", "kvits", "kvits-python")


def child(mode: str, path: str) -> None:
    # Imports happen before the clock starts: the figure is reading, not start-up.
    start, cpu = time.perf_counter(), time.process_time()
    if mode == "bare":
        count = run_bare(path)
    else:
        count = run_kvits(path, accelerate=mode == "kvits")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"{count} {elapsed:.6f} {cpu:.6f} {peak_kb}")


def measure(mode: str, path: str) -> tuple[int, float, float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, path],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), int(out[3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--entries", type=int, default=None)
    ap.add_argument("--size-mb", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument("--file", help="use this existing file instead of generating one")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.file:
        path = Path(args.file)
        n = None
    else:
        if args.entries is None and args.size_mb is None:
            args.entries = 200_000
        fd, name = tempfile.mkstemp(suffix=".camt053.xml")
        os.close(fd)
        path = Path(name)
        t0 = time.perf_counter()
        n = generate(path, args.entries, args.size_mb)
        print(
            f"generated {n} entries, {path.stat().st_size / 2**20:.1f} MiB in "
            f"{time.perf_counter() - t0:.1f} s: {path}"
        )
    try:
        print(f"entry decoder: {accelerator.status()}")
        cpu: dict[str, float] = {}
        wall: dict[str, float] = {}
        for mode in MODES:
            count, secs, cpu_secs, peak_kb = measure(mode, str(path))
            wall[mode], cpu[mode] = secs, cpu_secs
            print(
                f"{mode:12} {count:>9} entries  wall {secs:7.2f} s  cpu {cpu_secs:7.2f} s  "
                f"{count / cpu_secs:>10,.0f} entries/cpu-s  peak RSS {peak_kb / 1024:7.1f} MiB"
            )
        for mode in MODES[1:]:
            print(
                f"ratio {mode}/bare: cpu {cpu[mode] / cpu['bare']:.2f}x, "
                f"wall {wall[mode] / wall['bare']:.2f}x"
            )
    finally:
        if not args.keep and not args.file:
            path.unlink()


if __name__ == "__main__":
    main()
