"""What an import did, as plain data for the CLI, the API and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class TxLine:
    statement: str
    entry_index: int
    tx_index: int
    account_servicer_reference: str | None
    amount: Decimal
    currency: str
    credit_debit: str
    reversal: bool
    payer: str | None
    reference: str | None
    # applied | suggested | unmatched | duplicate | not_booked | outgoing | reversal
    # | reversal_unmatched | card_payout (the acquirer's payout of kvits' card payments)
    decision: str
    invoices: list[str] = field(default_factory=list)
    allocated: list[Decimal] = field(default_factory=list)
    overpayment: Decimal = Decimal(0)
    confidence: int | None = None
    reasons: list[str] = field(default_factory=list)
    seq: int = 0  # position in the file, for printing in file order


@dataclass
class StatementSummary:
    kind: str
    statement_id: str | None
    account: str
    currency: str | None
    opening: Decimal | None
    closing: Decimal | None
    balance_check: str
    balance_message: str
    problems: list[str]
    entries: int = 0
    transactions: int = 0
    new_transactions: int = 0
    already_imported: bool = False
    db_id: int | None = None


@dataclass
class ImportReport:
    file_name: str
    file_sha256: str = ""
    dry_run: bool = False
    statements: list[StatementSummary] = field(default_factory=list)
    lines: list[TxLine] = field(default_factory=list)
    line_limit: int | None = None  # keep at most this many lines; all are counted
    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def add(self, line: TxLine) -> None:
        self.counts[line.decision] = self.counts.get(line.decision, 0) + 1
        key = (line.decision, line.currency)
        self.sums[key] = self.sums.get(key, Decimal(0)) + line.amount
        if self.line_limit is None or len(self.lines) < self.line_limit:
            self.lines.append(line)

    def count(self, decision: str) -> int:
        return self.counts.get(decision, 0)

    def total(self, decision: str) -> dict[str, Decimal]:
        return {cur: amt for (dec, cur), amt in self.sums.items() if dec == decision}

    @property
    def lines_dropped(self) -> int:
        return sum(self.counts.values()) - len(self.lines)

    @property
    def balance_ok(self) -> bool:
        return all(s.balance_check != "mismatch" for s in self.statements)
