"""HTTP load on loopback: kvits' pay page, invoice creation and statement upload, next to
a bare FastAPI endpoint served the same way (uvicorn, the same number of workers), in
one run, so kvits' throughput reads as a share of the framework's ceiling here.

    python bench/load.py                                  # SQLite in a temp dir, 2 workers
    python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/kvits_bench \\
        --workers 2 --seconds 15 --concurrency 32

The database must be empty (a fresh SQLite file is made when none is given; PostgreSQL:
give a database made for this). The load comes from this process (asyncio + httpx), on
the same machine: the ceiling measured is the framework's under the same client, and the
ratios are what to compare between runs and machines, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BARE = '''
from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
def ping() -> dict[str, bool]:
    return {"ok": True}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"the server at {url} exited ({proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not come up")


def kvits(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"kvits {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def statement(n: int) -> bytes:
    """A small camt.053 with entries of its own (each upload imports something new)."""
    entries = "".join(
        f'<Ntry><Amt Ccy="EUR">{10 + k}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-11-03</Dt></BookgDt><ValDt><Dt>2026-11-03</Dt></ValDt>"
        f"<AcctSvcrRef>LOAD-{n}-{k}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Payer {k}</Nm>"
        f"</Dbtr></RltdPties><RmtInf><Ustrd>load test {n}/{k}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for k in range(5))
    total = sum(10 + k for k in range(5))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>LOAD-{n}</MsgId><CreDtTm>2026-11-04T06:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>LOAD-{n}</Id><CreDtTm>2026-11-04T06:00:00</CreDtTm>"
        "<Acct><Id><IBAN>LV48PARX0001234567890</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        "<Dt><Dt>2026-11-03</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{total}.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-03</Dt></Dt></Bal>"
        f"{entries}</Stmt></BkToCstmrStmt></Document>").encode()


async def drive(name: str, call: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], base: str,
                seconds: float, concurrency: int, ok: tuple[int, ...]) -> dict[str, object]:  # float-ok: seconds
    latencies: list[float] = []  # float-ok: seconds
    failures: dict[str, int] = {}
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        async def one_user() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await call(client, next(counter))
                except httpx.HTTPError as exc:  # a timeout (30 s) counts as a failure, by its kind
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code in ok:
                    latencies.append(elapsed)
                else:
                    failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1

        begun = time.perf_counter()
        await asyncio.gather(*(one_user() for _ in range(concurrency)))
        took = time.perf_counter() - begun
    latencies.sort()

    def pct(p: float) -> float:  # float-ok: a percentile of seconds
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"name": name, "requests": len(latencies), "failed": failures, "rps": len(latencies) / took,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="an empty database (default: a temp SQLite file)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)  # float-ok: seconds
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kvits-load-"))
    db = args.database_url or f"sqlite:///{work / 'kvits.db'}"
    env = {**os.environ, "KVITS_DATABASE_URL": db, "KVITS_SECRET_KEY": "load-" + "k" * 40,
           "KVITS_UPLOAD_DIR": str(work / "uploads"), "KVITS_BROKER_URL": "", "KVITS_LOG_LEVEL": "warning",
           "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    kvits(env, "db", "upgrade")
    kvits(env, "merchants", "create", "load", "--name", "SIA Slodze", "--iban", "LV24NRDB0000000000006")
    made = kvits(env, "-m", "load", "clients", "create", "--name", "load")
    client_id = re.search(r"client_id:\s+(\S+)", made)
    secret = re.search(r"client_secret:\s+(\S+)", made)
    assert client_id and secret
    (work / "customers.csv").write_text("code,name,language\nC1,SIA Klients,lv\n", encoding="utf-8")
    kvits(env, "-m", "load", "customers", "import", str(work / "customers.csv"))
    kvits(env, "-m", "load", "invoices", "create", "--customer", "C1", "--line", "Konsultācijas;1;100.00;21")
    number = re.search(r"INV-\S+", kvits(env, "-m", "load", "invoices", "list"))
    assert number
    token = kvits(env, "-m", "load", "invoices", "pay-link", number.group(0).rstrip(":")).split("/pay/")[1].split()[0]
    (work / "bare_app.py").write_text(BARE, encoding="utf-8")

    results = []
    bare_port, kvits_port = free_port(), free_port()
    bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port), "--workers",
                             str(args.workers), "--log-level", "warning", "--no-access-log"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(kvits_port), "--workers",
                               str(args.workers)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{bare_port}/ping", bare)
        wait_up(f"http://127.0.0.1:{kvits_port}/health", server)
        base = f"http://127.0.0.1:{kvits_port}"
        got = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials",
                                                      "client_id": client_id.group(1),
                                                      "client_secret": secret.group(1)}).json()
        auth = {"Authorization": f"Bearer {got['access_token']}"}
        customer = httpx.get(f"{base}/v1/customers", headers=auth).json()["data"][0]["id"]
        draft = {"customer": customer, "currency": "EUR", "issue_date": "2026-12-04",
                 "lines": [{"description": "Hosting", "quantity": "1", "unit_price": "100.00", "vat_rate": "21"}]}

        def bare_ping(c: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
            return c.get("/ping")

        def kvits_health(c: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
            return c.get("/health")

        def pay_page(c: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
            return c.get(f"/pay/{token}")

        def new_invoice(c: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
            return c.post("/v1/invoices", headers=auth, json=draft)

        def upload(c: httpx.AsyncClient, n: int) -> Awaitable[httpx.Response]:
            return c.post("/v1/statements", headers={**auth, "Idempotency-Key": f"load-{n}",
                                                     "Content-Type": "application/xml"}, content=statement(n))

        plan = [("bare FastAPI GET /ping", bare_ping, f"http://127.0.0.1:{bare_port}", (200,)),
                ("kvits GET /health", kvits_health, base, (200,)),
                ("pay page GET /pay/{token}", pay_page, base, (200,)),
                ("create invoice POST /v1/invoices", new_invoice, base, (201,)),
                ("statement upload POST /v1/statements", upload, base, (202,))]
        for name, call, url, ok in plan:
            results.append(asyncio.run(drive(name, call, url, args.seconds, args.concurrency, ok)))
    finally:
        for proc in (bare, server):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    ceiling = float(results[0]["rps"])  # type: ignore[arg-type]
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{args.workers} uvicorn workers each, {args.concurrency} concurrent clients, {args.seconds:g} s per row, "
          f"database {db.split(':', 1)[0]}")
    print(f"{'':40} {'req/s':>9} {'share':>7} {'p50 ms':>8} {'p99 ms':>8}  failed")
    for r in results:
        rps = float(r["rps"])  # type: ignore[arg-type]
        print(f"{r['name']:40} {rps:9.0f} {rps / ceiling:7.1%} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}  "
              f"{r['failed'] or '-'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
