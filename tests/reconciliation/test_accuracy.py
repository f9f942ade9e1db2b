"""bench/accuracy.py on a small seeded month: the engine's automatic matches stay right
in every scenario, and a month of review teaches it (the full run, 10 000 invoices a
month, is in docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import REPO_ROOT


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_accuracy", REPO_ROOT / "bench" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def test_automatic_matches_are_right_and_review_teaches(capsys) -> None:  # type: ignore[no-untyped-def]
    bench = _bench()
    world = bench.World(1500, seed=11)
    cases, results, invoices, _ = bench.run_month(world, 1)
    month1 = bench.report("month 1", cases, results)
    for name, tally in month1.items():
        assert tally.auto == tally.auto_right, f"{name}: {tally.auto - tally.auto_right} wrong automatic matches"
    assert month1["OVERALL"].auto_right / month1["OVERALL"].matchable > 0.80
    # what a person would accept is mostly what the engine put first
    assert month1["OVERALL"].top1_right / month1["OVERALL"].suggested_with_truth > 0.85
    bench.review(world, cases, results, invoices)
    cases2, results2, _, _ = bench.run_month(world, 2)
    month2 = bench.report("month 2", cases2, results2)
    for name, tally in month2.items():
        assert tally.auto == tally.auto_right, f"month 2, {name}: wrong automatic matches"
    recall1 = month1["OVERALL"].auto_right / month1["OVERALL"].matchable
    recall2 = month2["OVERALL"].auto_right / month2["OVERALL"].matchable
    assert recall2 > recall1 + 0.03, (recall1, recall2)  # the review taught IBANs and names
    assert "scenario" in capsys.readouterr().out
