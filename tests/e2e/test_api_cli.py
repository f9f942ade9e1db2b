"""The README's API example, run as written against a real `kvits serve`."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import REPO_ROOT


def readme_block() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- api-example")[1].split("```sh\n")[1].split("```")[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_readme_api_example_works(sqlite_url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KVITS_DATABASE_URL": sqlite_url, "KVITS_SECRET_KEY": "s" * 40, "COLUMNS": "200"}
    env.pop("KVITS_MERCHANT", None)
    lines = readme_block()
    kvits = [sys.executable, "-m", "api.cli"]
    made = subprocess.run(kvits + shlex.split(lines[0], comments=True)[1:],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)
    assert made.returncode == 0 and "created" in made.stdout, made.stderr
    client = subprocess.run(kvits + ["-m", "acme", "clients", "create", "--name", "bookkeeping sync"],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)
    assert client.returncode == 0, client.stderr
    client_id = re.search(r"client_id:\s+(\S+)", client.stdout)
    secret = re.search(r"client_secret:\s+(\S+)", client.stdout)
    assert client_id and secret
    server = subprocess.Popen(kvits + ["serve", "--port", str(port)], env=env, cwd=REPO_ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        script = "\n".join(line.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for line in lines[3:])
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                                env={**env, "CLIENT_ID": client_id.group(1), "CLIENT_SECRET": secret.group(1)},
                                timeout=120, cwd=REPO_ROOT)
        assert result.returncode == 0, result.stderr
        approved, listed = result.stdout.strip().split("\n")[-2:] if "\n" in result.stdout.strip() else (
            result.stdout, "")
        assert '"status":"issued"' in result.stdout and '"total":"121.00"' in result.stdout
        assert '"number":"INV-2026-00001"' in result.stdout
        assert approved or listed
        # the statement upload's job, done, and the suggestions waiting for a person
        done = next((line for line in result.stdout.splitlines() if '"id":"job_' in line), result.stdout[-2000:])
        assert '"state":"done"' in done and '"new_transactions":' in done, done
        assert '"invoice_numbers":["INV-2026-00001"]' in result.stdout  # a payment of SIA Kalnu Ceļš, for review
    finally:
        server.terminate()
        server.wait(10)
