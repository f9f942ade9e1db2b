"""What the PSD2 client sends and gets back, as plain typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from psd2.status import Outcome, outcome


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """A credit transfer to ask the payer's bank for. `end_to_end_id` is kvits' own id of
    the attempt: it comes back in the merchant's statement and ties the money to it."""

    amount: Decimal
    currency: str
    creditor_iban: str
    creditor_name: str
    end_to_end_id: str
    creditor_reference: str | None = None  # ISO 11649 RF reference, sent structured (SCOR)
    unstructured: str | None = None
    debtor_iban: str | None = None
    instant: bool = False
    requested_execution_date: date | None = None

    @property
    def product(self) -> str:
        return "instant-sepa-credit-transfers" if self.instant else "sepa-credit-transfers"


@dataclass(frozen=True, slots=True)
class Initiation:
    payment_id: str
    product: str
    transaction_status: str
    # where the payer's browser goes next; None until an explicit authorisation started
    sca_redirect: str | None
    authorisation_id: str | None
    links: dict[str, str] = field(default_factory=dict)
    # OAuth approach: what the TPP needs to exchange the code after the redirect back
    oauth_state: str | None = None
    oauth_verifier: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    transaction_status: str
    funds_available: bool | None = None
    psu_message: str | None = None

    @property
    def outcome(self) -> Outcome:
        return outcome(self.transaction_status)


@dataclass(frozen=True, slots=True)
class ConsentStarted:
    consent_id: str
    consent_status: str
    sca_redirect: str | None
    authorisation_id: str | None
    oauth_state: str | None = None
    oauth_verifier: str | None = None


@dataclass(frozen=True, slots=True)
class BankAccount:
    resource_id: str
    iban: str | None
    currency: str | None
    name: str | None = None
    owner_name: str | None = None


@dataclass(frozen=True, slots=True)
class Transactions:
    """Berlin Group JSON transactions, kept as the bank sent them (validated shape)."""

    iban: str | None
    booked: tuple[dict[str, object], ...]
    pending: tuple[dict[str, object], ...] = ()
