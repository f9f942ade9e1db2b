"""Plain data the matching engine takes and returns. No ORM, no I/O.

Amounts are integer minor units of `currency`. Confidence is an integer 0..100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class PayerAlias:
    """A payer name a person confirmed for a customer, with the account it paid from
    then (None: not known). From another account the same name is likely a namesake."""

    name: str
    iban: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    id: int
    name: str
    ibans: tuple[str, ...] = ()  # compact upper-case IBANs known for this customer
    # payer names a person confirmed pay this customer's invoices ("JĀNIS BĒRZIŅŠ" for
    # "SIA Kalnu Ceļš"): as good as the customer's own name
    aliases: tuple[PayerAlias | str, ...] = ()
    # payers a person said are NOT this customer: payer_key() of their IBAN or name
    not_payers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    id: int
    number: str
    customer_id: int
    currency: str
    total_minor: int
    open_minor: int  # what is still due; > 0 for an open invoice
    issue_date: date
    due_date: date
    rf_reference: str | None = None  # compact, upper case, e.g. RF18539007547034
    end_to_end_ids: tuple[str, ...] = ()  # ids of payments initiated for it (pay links)


@dataclass(frozen=True, slots=True)
class IncomingPayment:
    """One booked incoming credit transaction of a statement."""

    key: str  # the transaction's identity (unique per merchant)
    amount_minor: int
    currency: str
    booking_date: date | None = None
    payer_name: str | None = None
    payer_iban: str | None = None
    end_to_end_id: str | None = None
    creditor_references: tuple[str, ...] = ()  # structured CdtrRefInf/Ref values
    texts: tuple[str, ...] = ()  # Ustrd lines, AddtlTxInf, AddtlNtryInf, referred doc numbers


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # rf_structured, rf_text, e2e_id, number_exact, number_fuzzy, iban_known,
    #             name_similar, amount_exact, amount_sum, amount_partial, amount_over,
    #             amount_only, ambiguous, ...
    detail: str
    points: int = 0


@dataclass(frozen=True, slots=True)
class Allocation:
    invoice_id: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible explanation of a payment: which invoices, how much each."""

    invoice_ids: tuple[int, ...]
    allocations: tuple[Allocation, ...]
    overpayment_minor: int
    confidence: int
    reasons: tuple[Reason, ...]
    customer_id: int | None = None


@dataclass(frozen=True, slots=True)
class MatchResult:
    payment_key: str
    decision: str  # "apply" | "suggest" | "unmatched"
    best: Candidate | None
    alternatives: tuple[Candidate, ...] = ()  # other candidates, best first
    customer_id: int | None = None  # payer identified as this customer (IBAN/name)

    @property
    def confidence(self) -> int:
        return self.best.confidence if self.best else 0

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.best.reasons if self.best else ()


@dataclass(frozen=True, slots=True)
class MatchSettings:
    auto_apply_at: int = 85  # precision first: below this a person decides
    suggest_at: int = 25
    name_strong: int = 92  # rapidfuzz score (0..100) for "same name"
    name_weak: int = 82
    max_subset_invoices: int = 12  # per customer, for one-payment-several-invoices
    extra: dict[str, int] = field(default_factory=dict)
