"""Fault injection: banks that fail as real ones do, on a share of calls or on cue.

A fault either replaces the bank's answer (`500`, `503`, `429`: nothing happened), or
comes after the bank did its work (`503-after`: the payment exists but the TPP is told
503; `timeout-after`: the bank answers only after `slow_seconds`, when the TPP has long
given up), or just delays (`slow`). Scripted faults (`script`) are taken first, in
order, by the next call of the named operation; rates apply to every call after that.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

Fault = Literal["500", "503", "429", "503-after", "timeout-after", "slow"]
FAULTS: tuple[str, ...] = ("500", "503", "429", "503-after", "timeout-after", "slow")
MAX_SCRIPTED = 1000
# operations a fault can be aimed at
OPERATIONS = ("initiate", "status", "get", "cancel", "authorise", "sca-status", "consent", "accounts",
              "transactions", "any")


@dataclass(slots=True)
class FaultPlan:
    error_rate: float = 0.0  # share of calls answered 500/503/429 (split evenly)
    slow_rate: float = 0.0  # share of calls delayed by slow_seconds
    slow_seconds: float = 3.0
    seed: int = 7
    _script: deque[tuple[str, str, Fault]] = field(default_factory=deque)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, bank_id: str, operation: str, fault: Fault, times: int = 1) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r} (one of {', '.join(OPERATIONS)})")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")
        with self._lock:
            if len(self._script) + times > MAX_SCRIPTED:
                raise ValueError(f"at most {MAX_SCRIPTED} scripted faults may wait (clear them first)")
            for _ in range(times):
                self._script.append((bank_id, operation, fault))

    def clear(self) -> None:
        with self._lock:
            self._script.clear()

    def pending(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"bank": b, "operation": o, "fault": f} for b, o, f in self._script]

    def draw(self, bank_id: str, operation: str) -> Fault | None:
        with self._lock:
            for item in self._script:
                bank, op, fault = item
                if bank in (bank_id, "*") and op in (operation, "any"):
                    self._script.remove(item)
                    return fault
            roll = self._rng.random()
            if roll < self.error_rate:
                return self._rng.choice(("500", "503", "429"))
            if roll < self.error_rate + self.slow_rate:
                return "slow"
        return None
