"""The card acquirer's API, as kvits calls it: a payment session whose hosted card form
the payer fills in (card data never reaches kvits), capture, cancel, refunds, payouts.

The sandbox's acquirer (`sandbox/acquirer.py`) speaks it; a real acquirer is reached
through the same small surface. Every answer is untrusted: bodies are size-capped,
parsed into `CardPayment` / `CardRefund` field by field, and an answer that does not
fit is an `AcquirerError` like a refusal. Calls that create something carry an
Idempotency-Key, so a retry after a lost answer finds what the first call made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from core.errors import KvitsError

MAX_BODY = 1024 * 1024
STATUSES = frozenset({"requires_payment_method", "requires_action", "authorised", "captured", "declined",
                      "cancelled", "expired", "refunded", "partially_refunded"})
REFUND_STATUSES = frozenset({"pending", "succeeded", "failed"})
_ID = re.compile(r"(acq|re|po)_[0-9a-f]{8,64}")
_AMOUNT = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,3})?")


class AcquirerError(KvitsError):
    """The acquirer refused (`code` is its stable code), or what happened is not known
    (`unreachable`: no answer, a failure on its side, an answer kvits cannot read, or a
    request it is still working on: the call may or may not have happened, and retrying
    with the same Idempotency-Key is safe and tells)."""

    def __init__(self, message: str, code: str = "unreachable", status: int = 0) -> None:
        super().__init__(message)
        self.code, self.status = code, status

    @property
    def unreachable(self) -> bool:
        return self.code in ("unreachable", "bad_answer", "idempotency_key_in_use") or self.status in (408, 409, 429) \
            or self.status >= 500


@dataclass(frozen=True, slots=True)
class CardPayment:
    id: str
    status: str
    amount: Decimal
    currency: str
    reference: str
    captured: Decimal
    refunded: Decimal
    form_url: str
    decline_code: str | None
    decline_message: str | None
    card: str | None  # "visa •••• 4242"
    payout_id: str | None
    payout_date: date | None


@dataclass(frozen=True, slots=True)
class CardRefund:
    id: str
    payment_id: str
    amount: Decimal
    status: str
    payout_id: str | None  # the payout it is netted in


@dataclass(frozen=True, slots=True)
class PayoutItem:
    kind: str  # capture | refund
    payment_id: str
    reference: str
    amount: Decimal  # refunds negative


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    day: date
    amount: Decimal
    currency: str
    status: str
    items: tuple[PayoutItem, ...]


def _text(data: dict[str, Any], key: str, limit: int = 2000, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise AcquirerError(f"the acquirer's answer has no usable {key!r}", "bad_answer")
    return value


def _money(data: dict[str, Any], key: str) -> Decimal:
    value = _text(data, key, 20)
    assert value is not None
    if not _AMOUNT.fullmatch(value):
        raise AcquirerError(f"the acquirer's {key!r} is not an amount: {value[:20]!r}", "bad_answer")
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise AcquirerError(f"the acquirer's {key!r} is not an amount", "bad_answer") from None


def _id(data: dict[str, Any], key: str, optional: bool = False) -> str | None:
    value = _text(data, key, 80, optional)
    if value is not None and not _ID.fullmatch(value):
        raise AcquirerError(f"the acquirer's {key!r} is not an id it gives out", "bad_answer")
    return value


def _day(value: object) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def card_payment(data: object) -> CardPayment:
    if not isinstance(data, dict):
        raise AcquirerError("the acquirer's answer is not a JSON object", "bad_answer")
    status = _text(data, "status", 40)
    if status not in STATUSES:
        raise AcquirerError(f"the acquirer answered an unknown status {str(status)[:40]!r}", "bad_answer")
    card = data.get("card")
    card_text = None
    if isinstance(card, dict) and isinstance(card.get("last4"), str) and re.fullmatch(r"[0-9]{4}", card["last4"]):
        brand = card.get("brand") if isinstance(card.get("brand"), str) else "card"
        card_text = f"{str(brand)[:16]} •••• {card['last4']}"
    payout = data.get("payout")
    payout_id = _id(payout, "id") if isinstance(payout, dict) else None
    form_url = _text(data, "form_url")
    assert form_url is not None
    if not form_url.startswith(("https://", "http://")):
        raise AcquirerError("the acquirer's form address is not http(s)", "bad_answer")
    return CardPayment(
        id=_id(data, "id") or "", status=status, amount=_money(data, "amount"), currency=_text(data, "currency", 3) or "",
        reference=_text(data, "reference", 35) or "", captured=_money(data, "captured_amount"),
        refunded=_money(data, "refunded_amount"), form_url=form_url,
        decline_code=_text(data, "decline_code", 40, optional=True),
        decline_message=_text(data, "decline_message", 300, optional=True), card=card_text,
        payout_id=payout_id, payout_date=_day(payout.get("date")) if isinstance(payout, dict) else None)


def _refund(data: object) -> CardRefund:
    if not isinstance(data, dict):
        raise AcquirerError("the acquirer's answer is not a JSON object", "bad_answer")
    payout = data.get("payout")
    status = _text(data, "status", 40)
    if status not in REFUND_STATUSES:
        raise AcquirerError(f"the acquirer answered an unknown refund status {str(status)[:40]!r}", "bad_answer")
    return CardRefund(id=_id(data, "id") or "", payment_id=_id(data, "payment") or "", amount=_money(data, "amount"),
                      status=status,
                      payout_id=_id(payout, "id") if isinstance(payout, dict) else None)


def _payout(data: object) -> Payout:
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise AcquirerError("the acquirer's payout is not a JSON object with items", "bad_answer")
    day = _day(data.get("date"))
    if day is None:
        raise AcquirerError("the acquirer's payout has no date", "bad_answer")
    items = []
    for item in data["items"][:100_000]:
        if not isinstance(item, dict) or item.get("type") not in ("capture", "refund"):
            raise AcquirerError("the acquirer's payout has an item it does not explain", "bad_answer")
        items.append(PayoutItem(str(item["type"]), _id(item, "payment") or "", _text(item, "reference", 35) or "",
                                _money(item, "amount")))
    return Payout(_id(data, "id") or "", day, _money(data, "amount"), _text(data, "currency", 3) or "",
                  _text(data, "status", 20) or "", tuple(items))


class AcquirerClient:
    """`base_url` is the acquirer's API root (…/acquirer/v1), `key` kvits' secret key."""

    def __init__(self, base_url: str, key: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 10.0) -> None:  # float-ok: seconds
        self.base_url, self.key = base_url.rstrip("/"), key
        self.http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict[str, object] | None = None,
              idempotency_key: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            with self.http.stream(method, self.base_url + path, json=body, headers=headers) as response:
                raw = b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_BODY:
                        raise AcquirerError(f"the acquirer's answer to {path} is larger than {MAX_BODY} bytes",
                                            "bad_answer")
                status = response.status_code
        except httpx.HTTPError as exc:
            raise AcquirerError(f"the card acquirer did not answer ({type(exc).__name__})") from None
        try:
            data = httpx.Response(status, content=raw).json() if raw else None
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python reads
            data = None
        if status >= 500:
            raise AcquirerError(f"the card acquirer failed ({status})")
        if status < 400 and data is None:
            raise AcquirerError(f"the card acquirer's answer to {path} ({status}) is not JSON", "bad_answer", status)
        if status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            code = error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), str) else "refused"
            message = error.get("message") if isinstance(error, dict) and isinstance(error.get("message"), str) \
                else f"the card acquirer refused ({status})"
            raise AcquirerError(str(message)[:300], str(code)[:40], status)
        return status, data

    def create(self, *, idempotency_key: str, amount: Decimal, currency: str, reference: str, description: str,
               payout_iban: str, payout_name: str, return_url: str) -> CardPayment:
        _, data = self._call("POST", "/payments", {
            "amount": format(amount, "f"), "currency": currency, "reference": reference, "description": description[:140],
            "payout_iban": payout_iban, "payout_name": payout_name[:70], "return_url": return_url,
        }, idempotency_key)
        return card_payment(data)

    def get(self, payment_id: str) -> CardPayment:
        return card_payment(self._call("GET", f"/payments/{_safe(payment_id)}")[1])

    def capture(self, payment_id: str) -> CardPayment:
        return card_payment(self._call("POST", f"/payments/{_safe(payment_id)}/capture", {})[1])

    def cancel(self, payment_id: str) -> CardPayment:
        return card_payment(self._call("POST", f"/payments/{_safe(payment_id)}/cancel", {})[1])

    def refund(self, payment_id: str, amount: Decimal, idempotency_key: str) -> CardRefund:
        return _refund(self._call("POST", f"/payments/{_safe(payment_id)}/refunds", {"amount": format(amount, "f")},
                                  idempotency_key)[1])

    def payout(self, payout_id: str) -> Payout:
        return _payout(self._call("GET", f"/payouts/{_safe(payout_id)}")[1])


def _safe(value: str) -> str:
    if not _ID.fullmatch(value):
        raise AcquirerError(f"{value[:40]!r} is not an acquirer id", "invalid_id")
    return value
