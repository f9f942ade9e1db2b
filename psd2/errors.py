"""Typed errors of a bank call, mapped from the bank's `tppMessages` and HTTP status."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import KvitsError


@dataclass(frozen=True, slots=True)
class TppMessage:
    category: str
    code: str
    text: str = ""
    path: str | None = None


class Psd2Error(KvitsError):
    """A bank call that did not do what was asked; `messages` are the bank's own."""

    def __init__(self, bank_id: str, text: str, status: int | None = None,
                 messages: tuple[TppMessage, ...] = ()) -> None:
        detail = "; ".join(f"{m.code}: {m.text}" if m.text else m.code for m in messages)
        super().__init__(f"{bank_id}: {text}" + (f" ({detail})" if detail else ""))
        self.bank_id = bank_id
        self.status = status
        self.messages = messages

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.messages)


class BankUnavailable(Psd2Error):
    """5xx, a timeout or a broken connection. For a call that changes something, the
    bank may or may not have done it: `ambiguous` says so."""

    def __init__(self, bank_id: str, text: str, status: int | None = None,
                 messages: tuple[TppMessage, ...] = (), ambiguous: bool = False) -> None:
        super().__init__(bank_id, text, status, messages)
        self.ambiguous = ambiguous


class RateLimited(BankUnavailable):
    """429: the bank wants fewer calls; `retry_after` seconds when it said so."""

    def __init__(self, bank_id: str, text: str, retry_after: float | None = None,  # float-ok: seconds
                 messages: tuple[TppMessage, ...] = ()) -> None:
        super().__init__(bank_id, text, 429, messages)
        self.retry_after = retry_after


class RequestRejected(Psd2Error):
    """4xx: the bank refused the request as it was (format, product, state...)."""


class AuthenticationFailed(RequestRejected):
    """401: our token or certificate was refused (TOKEN_EXPIRED, TOKEN_INVALID...)."""


class NotFound(RequestRejected):
    """404 / RESOURCE_UNKNOWN: the bank does not know the payment or consent."""


class ProtocolError(Psd2Error):
    """The bank answered something that is not what the standard says (bad JSON, a
    missing paymentId, an unsafe link): never trusted, never half-used."""
