"""A short run of bench/fuzz_camt.py (atheris): 20 000 mutated statements, every one
read or refused with a CamtError, none slower than 1 s per MB, memory under 512 MB.
The documented run of a million inputs is in docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_a_short_fuzzing_run_finds_nothing(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    runs = 20_000
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "fuzz_camt.py"), f"-runs={runs}", "-seed=1",
         f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    tail = result.stderr[-4000:] + result.stdout[-2000:]
    assert result.returncode == 0, tail
    assert f"Done {runs} runs" in result.stderr, tail
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("crash-", "slow-", "oom-"))], tail
