"""The client side of Berlin Group NextGenPSD2: bank registry, payment initiation with
one SCA per attempt, status polling, account information (JSON and camt)."""

from psd2.attempts import AttemptError, Attempts, AttemptView, next_poll
from psd2.client import Psd2Client
from psd2.errors import (
    AuthenticationFailed,
    BankUnavailable,
    NotFound,
    ProtocolError,
    Psd2Error,
    RateLimited,
    RequestRejected,
    TppMessage,
)
from psd2.registry import Bank, Registry
from psd2.status import TRANSACTION_STATUS, outcome
from psd2.types import BankAccount, ConsentStarted, Initiation, PaymentOrder, PaymentStatus, Transactions

__all__ = [
    "AttemptError", "AttemptView", "Attempts", "AuthenticationFailed", "Bank", "BankAccount", "BankUnavailable",
    "ConsentStarted", "Initiation", "NotFound", "PaymentOrder", "PaymentStatus", "ProtocolError", "Psd2Client",
    "Psd2Error", "RateLimited", "Registry", "RequestRejected", "TRANSACTION_STATUS", "TppMessage", "Transactions",
    "next_poll", "outcome",
]
