"""An imitation card acquirer: a merchant platform (kvits) opens a card payment over a
server-to-server JSON API, the payer types the card into the acquirer's hosted form, so
card data never touches the merchant, and the acquirer authorises, captures, refunds and
pays each day's net out to the merchant's bank account as one booking.

The state lives in `Acquirer`, owned by `World` and guarded by its lock. `tick` (run by
`World.tick`, so on every request) does what time makes due:
- a payment nobody paid within `PAYMENT_TIMEOUT` of its creation expires;
- a payout is paid on the first TARGET business day after the day it gathers, booked
  as one entry on the merchant's sandbox account (so it shows in the camt.053).

Of a card only its brand and last four digits are ever kept: the number and CVC live
in the handling of one form post and are gone with it.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from fastapi.responses import JSONResponse
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import luhn

from sandbox.users import ONE_TIME_CODE
from sandbox.world import Booking

if TYPE_CHECKING:
    from sandbox.world import World

ACQUIRER_KEY = "sk_sandbox_kvits"  # the one merchant platform's secret key
ACQUIRER_NAME = "Sandbox Card Acquiring"
ACQUIRER_IBAN = "LV77CARD0000000000001"  # where payouts come from on the merchant's statement
PAYMENT_TIMEOUT = timedelta(minutes=30)
MAX_AMOUNT = Decimal("999999999.99")
MAX_WRONG_CODES = 3
CENT = Decimal("0.01")
PAYOUT_BANK_CODE = ("PMNT", "MCRD", "POSP")

Status = Literal["requires_payment_method", "requires_action", "authorised", "captured", "declined",
                 "cancelled", "expired", "refunded", "partially_refunded"]
AWAITING_CARD: frozenset[str] = frozenset({"requires_payment_method", "requires_action"})
CAPTURED: frozenset[str] = frozenset({"captured", "partially_refunded", "refunded"})


class SandboxCard(NamedTuple):
    number: str
    # what the form does with it: "authorised", "requires_action" (a 3-D Secure
    # challenge), or the decline_code the payment is declined with
    outcome: str
    description: str


TEST_CARDS: tuple[SandboxCard, ...] = (
    SandboxCard("4242424242424242", "authorised", "Visa: the payment is authorised"),
    SandboxCard("5555555555554444", "authorised", "Mastercard: the payment is authorised"),
    SandboxCard("4000000000000002", "card_declined", "declined by the card's bank (card_declined)"),
    SandboxCard("4000000000009995", "insufficient_funds", "declined: not enough money on the card (insufficient_funds)"),
    SandboxCard("4000000000000069", "expired_card", "declined: the card has expired (expired_card)"),
    SandboxCard("4000000000003220", "requires_action",
                f"3-D Secure: the card's bank asks for a one-time code ({ONE_TIME_CODE}); the right one authorises, "
                "three wrong codes or Cancel decline the payment (authentication_failed)"),
)
_OUTCOMES = {card.number: card.outcome for card in TEST_CARDS}

DECLINE_MESSAGES = {
    "card_declined": "The card's bank declined the payment.",
    "insufficient_funds": "The card has not enough money for this payment.",
    "expired_card": "The card has expired.",
    "authentication_failed": "The card holder did not confirm the payment (3-D Secure).",
    "expired": f"The payment was not completed within {PAYMENT_TIMEOUT.seconds // 60} minutes.",
}

# control, format (bidi, zero-width), surrogate, private, unassigned characters and line
# separators: nothing a payer should be shown on the form or a merchant's statement
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NUMBER = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_URL_FORBIDDEN = re.compile(r"[\s\"<>\\^`{|}]")
_EXPIRY = re.compile(r"(0[1-9]|1[0-2]) ?/ ?([0-9]{2})")


class AcquirerError(Exception):
    """A refusal in the acquirer's own shape: `{"error": {"code", "message"}}`, where
    `code` is stable for the merchant's code and `message` names what is wrong."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message[:500]}},
                            status_code=self.status, headers=self.headers)


def invalid(message: str) -> AcquirerError:
    return AcquirerError(400, "invalid_request", message)


# -- state -----------------------------------------------------------------------
@dataclass(slots=True)
class CardPayment:
    id: str
    amount: Decimal
    currency: str
    reference: str
    description: str | None
    payout_iban: str
    payout_name: str
    return_url: str
    created_at: datetime
    form_token: str  # in the hosted form: another site cannot post a card to it
    status: Status = "requires_payment_method"
    captured_amount: Decimal = Decimal("0.00")
    refunded_amount: Decimal = Decimal("0.00")
    decline_code: str | None = None
    decline_message: str | None = None
    brand: str | None = None
    last4: str | None = None
    payout_id: str | None = None  # the payout its capture went to
    authorised_at: datetime | None = None
    captured_at: datetime | None = None
    wrong_codes: int = 0


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment_id: str
    amount: Decimal
    currency: str
    created_at: datetime
    payout_id: str


@dataclass(frozen=True, slots=True)
class PayoutItem:
    kind: Literal["capture", "refund"]
    payment_id: str
    reference: str
    amount: Decimal  # signed: captures positive, refunds negative


@dataclass(slots=True)
class Payout:
    id: str
    day: date  # the local day of the captures and refunds it gathers
    payout_iban: str
    currency: str
    created_at: datetime
    items: list[PayoutItem] = field(default_factory=list)
    status: Literal["scheduled", "paid"] = "scheduled"
    paid_on: date | None = None

    @property
    def amount(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0.00"))


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    amount: Decimal
    currency: str
    reference: str
    description: str | None
    payout_iban: str
    payout_name: str
    return_url: str


@dataclass(frozen=True, slots=True)
class _Remembered:
    """What an Idempotency-Key was first used for: the call and its body, and the id of
    what it made, so that a retry finds it and another use of the key is refused."""

    call: str
    body: object
    result_id: str


class Acquirer:
    def __init__(self, world: World) -> None:
        self.world = world
        self.payments: dict[str, CardPayment] = {}
        self.refunds: dict[str, Refund] = {}
        self.payouts: dict[str, Payout] = {}
        self._open_payouts: dict[tuple[str, date], Payout] = {}  # by payout IBAN and day
        self._keys: dict[str, _Remembered] = {}

    # -- time ------------------------------------------------------------------------
    def tick(self, now: datetime, today: date) -> None:
        """Expire payments nobody paid in time; pay the payouts that are due."""
        for payment in self.payments.values():
            if payment.status in AWAITING_CARD and now - payment.created_at >= PAYMENT_TIMEOUT:
                self._decline(payment, "expired", status="expired")
        for key, payout in list(self._open_payouts.items()):
            due = self.world.next_business_day(payout.day)
            if today >= due:
                self._pay(payout, due, now)
                del self._open_payouts[key]

    # -- idempotency -----------------------------------------------------------------
    def replayed(self, key: str, call: str, body: object) -> str | None:
        """The id an earlier call with this key made; None for a new key. The same key
        with another call or body is refused: it would hide a second, different order."""
        seen = self._keys.get(key)
        if seen is None:
            return None
        if seen.call != call or seen.body != body:
            raise AcquirerError(409, "idempotency_key_reused",
                                "this Idempotency-Key was used before for another request "
                                f"({seen.call}); use a new key for a new request")
        return seen.result_id

    def remember(self, key: str, call: str, body: object, result_id: str) -> None:
        self._keys[key] = _Remembered(call, body, result_id)

    # -- payments --------------------------------------------------------------------
    def create(self, order: PaymentRequest) -> CardPayment:
        payment = CardPayment(
            id=f"acq_{secrets.token_hex(12)}", amount=order.amount, currency=order.currency,
            reference=order.reference, description=order.description, payout_iban=order.payout_iban,
            payout_name=order.payout_name, return_url=order.return_url, created_at=self.world.now(),
            form_token=secrets.token_urlsafe(16),
        )
        self.payments[payment.id] = payment
        return payment

    def payment(self, payment_id: str) -> CardPayment:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise AcquirerError(404, "not_found", f"no payment {payment_id[:60]!r}")
        return payment

    def capture(self, payment: CardPayment, amount: Decimal | None) -> CardPayment:
        """Capture once, all or part of the authorisation (the rest is released). A
        retry of a capture that went through finds it captured and changes nothing."""
        if payment.status == "captured":
            return payment
        if payment.status != "authorised":
            raise AcquirerError(409, "not_capturable", f"payment {payment.id} is {payment.status}; "
                                "only an authorised payment can be captured")
        amount = payment.amount if amount is None else amount
        if amount > payment.amount:
            raise AcquirerError(409, "amount_too_large", f"capture of {amount:.2f} is more than the authorised "
                                f"{payment.amount:.2f} {payment.currency}")
        now = self.world.now()
        payment.status, payment.captured_amount, payment.captured_at = "captured", amount, now
        payout = self._payout_of(payment.payout_iban, payment.currency, now)
        payout.items.append(PayoutItem("capture", payment.id, payment.reference, amount))
        payment.payout_id = payout.id
        return payment

    def cancel(self, payment: CardPayment) -> CardPayment:
        if payment.status == "cancelled":
            return payment
        if payment.status not in AWAITING_CARD and payment.status != "authorised":
            raise AcquirerError(409, "not_cancellable", f"payment {payment.id} is {payment.status}; only one not "
                                "yet captured (nor declined or expired) can be cancelled; refund a captured one")
        payment.status = "cancelled"
        return payment

    def refund(self, payment: CardPayment, amount: Decimal) -> Refund:
        if payment.status not in CAPTURED:
            raise AcquirerError(409, "not_refundable", f"payment {payment.id} is {payment.status}; "
                                "only a captured payment can be refunded (cancel one that is not captured)")
        refundable = payment.captured_amount - payment.refunded_amount
        if amount > refundable:
            raise AcquirerError(409, "amount_too_large", f"refund of {amount:.2f} is more than the "
                                f"{refundable:.2f} {payment.currency} still refundable on payment {payment.id}")
        now = self.world.now()
        payout = self._payout_of(payment.payout_iban, payment.currency, now)
        payout.items.append(PayoutItem("refund", payment.id, payment.reference, -amount))
        refund = Refund(f"re_{secrets.token_hex(12)}", payment.id, amount, payment.currency, now, payout.id)
        self.refunds[refund.id] = refund
        payment.refunded_amount += amount
        payment.status = "refunded" if payment.refunded_amount == payment.captured_amount else "partially_refunded"
        return refund

    # -- the hosted form -------------------------------------------------------------
    def card_entered(self, payment: CardPayment, number: str) -> Status:
        """Decide on a card the payer typed (validated, digits only): a test card does
        what it says, any other valid number is authorised. Keeps brand and last 4 only;
        returns the payment's new status."""
        payment.brand, payment.last4 = card_brand(number), number[-4:]
        outcome = _OUTCOMES.get(number, "authorised")
        if outcome == "authorised":
            self._authorise(payment)
        elif outcome == "requires_action":
            payment.status = "requires_action"
        else:
            self._decline(payment, outcome)
        return payment.status

    def code_entered(self, payment: CardPayment, right: bool) -> int:
        """A 3-D Secure code: the right one authorises; the third wrong one declines.
        Returns how many tries are left (0 when the payment is decided)."""
        if right:
            self._authorise(payment)
            return 0
        payment.wrong_codes += 1
        left = MAX_WRONG_CODES - payment.wrong_codes
        if left <= 0:
            self._decline(payment, "authentication_failed",
                          message=f"The card holder typed a wrong 3-D Secure code {MAX_WRONG_CODES} times.")
            return 0
        return left

    def challenge_cancelled(self, payment: CardPayment) -> None:
        self._decline(payment, "authentication_failed", message="The card holder cancelled 3-D Secure.")

    def _authorise(self, payment: CardPayment) -> None:
        payment.status, payment.authorised_at = "authorised", self.world.now()

    def _decline(self, payment: CardPayment, code: str, status: Status = "declined",
                 message: str | None = None) -> None:
        payment.status, payment.decline_code = status, code
        payment.decline_message = message or DECLINE_MESSAGES[code]

    # -- payouts ---------------------------------------------------------------------
    def payout(self, payout_id: str) -> Payout:
        payout = self.payouts.get(payout_id)
        if payout is None:
            raise AcquirerError(404, "not_found", f"no payout {payout_id[:60]!r}")
        return payout

    def _payout_of(self, iban: str, currency: str, now: datetime) -> Payout:
        """The payout gathering today's captures and refunds to `iban`, made by the
        first of them (so a capture's answer already names its payout)."""
        day = self.world.today()
        payout = self._open_payouts.get((iban, day))
        if payout is None:
            payout = Payout(f"po_{secrets.token_hex(12)}", day, iban, currency, now)
            self.payouts[payout.id] = payout
            self._open_payouts[(iban, day)] = payout
        return payout

    def _pay(self, payout: Payout, day: date, now: datetime) -> None:
        """Pay the day's net: one booking on a sandbox account (a debit when refunds
        outweigh captures, nothing when they cancel out); another bank's IBAN is only
        marked paid, as the money would leave the sandbox."""
        payout.status, payout.paid_on = "paid", day
        account = self.world.accounts.get(payout.payout_iban)
        net = payout.amount
        if account is None or net == 0:
            return
        count = len(payout.items)
        account.bookings.append(Booking(
            reference=self.world._reference(account.bank, day), booking_date=day, value_date=day,
            amount=abs(net), credit_debit="CRDT" if net > 0 else "DBIT", bank_code=PAYOUT_BANK_CODE,
            booked_at=now, counterparty_name=ACQUIRER_NAME, counterparty_iban=ACQUIRER_IBAN,
            end_to_end_id=payout.id, unstructured=f"Card payout {payout.id} {payout.day} {count} payments",
            batch_count=count, additional_info="Card payments settlement batch",
        ))


# -- what the merchant sends ---------------------------------------------------------
_PAYMENT_FIELDS = ("amount", "currency", "reference", "description", "payout_iban", "payout_name", "return_url")


def idempotency_key(headers: Mapping[str, str]) -> str:
    value = headers.get("idempotency-key")
    if value is None or value == "":
        raise AcquirerError(400, "idempotency_key_missing",
                            "the Idempotency-Key header is missing: send a new unique key with every new request")
    if not _IDEMPOTENCY_KEY.fullmatch(value) or not value.strip():
        raise invalid("the Idempotency-Key header must be 1 to 255 printable ASCII characters")
    return value


def payment_request(raw: object) -> PaymentRequest:
    """Validate a new payment's body, field by field; the first problem is refused."""
    body = _object(raw, _PAYMENT_FIELDS)
    amount = amount_field(body, "amount")
    currency = currency_field(body.get("currency"))
    reference = _text(body, "reference", 35)
    description = _text(body, "description", 140, required=False, may_be_empty=True)
    raw_iban = body.get("payout_iban")
    if not isinstance(raw_iban, str):
        raise invalid("payout_iban is required: the IBAN payouts go to")
    try:
        payout_iban = IBAN(raw_iban).compact
    except SchwiftyException as exc:
        raise invalid(f"payout_iban {raw_iban[:40]!r} is not a valid IBAN: {exc}") from None
    payout_name = _text(body, "payout_name", 70)
    return_url = _return_url(body.get("return_url"))
    assert reference is not None and payout_name is not None
    return PaymentRequest(amount, currency, reference, description, payout_iban, payout_name, return_url)


def amount_body(raw: object, required: bool) -> Decimal | None:
    """The body of a capture (amount optional) or a refund (amount required)."""
    if raw is None and not required:
        return None
    body = _object(raw, ("amount",))
    if "amount" not in body and not required:
        return None
    return amount_field(body, "amount")


def amount_field(body: Mapping[str, object], name: str) -> Decimal:
    value = body.get(name)
    if value is None:
        raise invalid(f"{name} is required, a string such as \"12.34\"")
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string such as \"12.34\", not a JSON {type(value).__name__}")
    if not _NUMBER.fullmatch(value):
        raise invalid(f"{name} {value[:30]!r} is not an amount (digits with at most 2 decimals, e.g. \"12.34\")")
    amount = Decimal(value)
    if len(value.partition(".")[2]) > 2:
        raise invalid(f"{name} {value[:30]!r} has more than 2 decimals")
    if amount <= 0:
        raise invalid(f"{name} must be above zero, not {value[:30]!r}")
    if amount > MAX_AMOUNT:
        raise invalid(f"{name} {value[:30]!r} is more than the largest amount, {MAX_AMOUNT}")
    return amount.quantize(CENT)


def currency_field(value: object) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise invalid("currency is required, an ISO 4217 code: EUR")
    if value != "EUR":
        raise AcquirerError(400, "unsupported_currency", f"currency {value} is not offered: the sandbox acquirer "
                            "takes EUR only")
    return value


def _object(raw: object, allowed: tuple[str, ...]) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise invalid("the body must be a JSON object")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise invalid(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)[:200]} "
                      f"(allowed: {', '.join(allowed)})")
    return raw


def _text(body: Mapping[str, object], name: str, limit: int, required: bool = True,
          may_be_empty: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} is required (text, at most {limit} characters)")
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string, not a JSON {type(value).__name__}")
    if not value.strip() and not (may_be_empty and value == ""):
        raise invalid(f"{name} must not be blank")
    if len(value) > limit:
        raise invalid(f"{name} is {len(value)} characters long, at most {limit} allowed")
    if any(unicodedata.category(c) in _INVISIBLE for c in value):
        raise invalid(f"{name} contains control or invisible characters")
    return value


def _return_url(value: object) -> str:
    problem = "return_url must be an http or https address of at most 2000 characters"
    if not isinstance(value, str) or not value or len(value) > 2000 or _URL_FORBIDDEN.search(value) \
            or any(unicodedata.category(c) in _INVISIBLE for c in value):
        raise invalid(problem)
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises for a port out of range
    except ValueError:
        raise invalid(problem) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise invalid(problem + " (with a host, without user or password)")
    return value


def with_payment(return_url: str, payment_id: str) -> str:
    """The merchant's return address with `acquirer_payment=<id>` added to its query
    (the query it had is kept as it was, an older acquirer_payment replaced)."""
    parts = urlsplit(return_url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "acquirer_payment"]
    return urlunsplit(parts._replace(query="&".join([*kept, f"acquirer_payment={payment_id}"])))


# -- what the payer types ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CardInput:
    """A card as typed, checked; lives only while one form post is handled."""

    number: str = field(repr=False)


def card_input(values: Mapping[str, str], today: date) -> tuple[CardInput | None, dict[str, str]]:
    """The card from the hosted form's fields, or what is wrong with each of them."""
    errors: dict[str, str] = {}
    number = re.sub(r"[\s-]", "", values.get("card_number", ""))
    if not re.fullmatch(r"[0-9]{12,19}", number):
        errors["card_number"] = "The card number must be 12 to 19 digits."
    elif not luhn.is_valid(number):
        errors["card_number"] = "This card number is not valid: please check it."
    expiry = _EXPIRY.fullmatch(values.get("expiry", "").strip())
    if expiry is None:
        errors["expiry"] = "Write the expiry date as MM/YY, for example 09/29."
    elif (2000 + int(expiry.group(2)), int(expiry.group(1))) < (today.year, today.month):
        errors["expiry"] = "This card's expiry date has passed."
    if not re.fullmatch(r"[0-9]{3,4}", values.get("cvc", "").strip()):
        errors["cvc"] = "The security code (CVC) is the 3 or 4 digits on the card."
    name = values.get("name", "").strip()
    if not name:
        errors["name"] = "Write the name on the card."
    elif len(name) > 70 or any(unicodedata.category(c) in _INVISIBLE for c in name):
        errors["name"] = "The name on the card must be at most 70 ordinary characters."
    return (None if errors else CardInput(number)), errors


def card_brand(number: str) -> str:
    """The card scheme, by its number's first digits (the schemes' published ranges)."""
    two, four = int(number[:2]), int(number[:4])
    if number.startswith("4"):
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if number.startswith(("6011", "65")) or 644 <= int(number[:3]) <= 649:
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    if two in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        return "diners"
    if two == 62:
        return "unionpay"
    if two in (50, 56, 57, 58) or number.startswith(("63", "67")):
        return "maestro"
    return "unknown"


# -- what the merchant is shown ----------------------------------------------------------
def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def payment_json(acquirer: Acquirer, payment: CardPayment, form_url: str) -> dict[str, object]:
    payout = acquirer.payouts[payment.payout_id] if payment.payout_id else None
    return {
        "id": payment.id, "status": payment.status, "amount": _money(payment.amount), "currency": payment.currency,
        "reference": payment.reference, "description": payment.description,
        "captured_amount": _money(payment.captured_amount), "refunded_amount": _money(payment.refunded_amount),
        "decline_code": payment.decline_code, "decline_message": payment.decline_message,
        "card": {"brand": payment.brand, "last4": payment.last4} if payment.last4 else None,
        "form_url": form_url,
        "payout": {"id": payout.id, "date": payout.day.isoformat()} if payout else None,
        "created_at": payment.created_at.isoformat(), "authorised_at": _iso(payment.authorised_at),
        "captured_at": _iso(payment.captured_at),
    }


def refund_json(acquirer: Acquirer, refund: Refund) -> dict[str, object]:
    payout = acquirer.payouts.get(refund.payout_id)
    return {"id": refund.id, "payment": refund.payment_id, "amount": _money(refund.amount),
            "currency": refund.currency, "status": "succeeded", "created_at": refund.created_at.isoformat(),
            # the payout it is netted in (the merchant recognises a payout as the sum of its items)
            "payout": {"id": payout.id, "date": payout.day.isoformat()} if payout else None}


def payout_json(payout: Payout) -> dict[str, object]:
    return {
        "id": payout.id, "date": payout.day.isoformat(), "payout_iban": payout.payout_iban,
        "currency": payout.currency, "amount": _money(payout.amount), "count": len(payout.items),
        "status": payout.status, "paid_on": payout.paid_on.isoformat() if payout.paid_on else None,
        "items": [{"type": i.kind, "payment": i.payment_id, "reference": i.reference, "amount": _money(i.amount)}
                  for i in payout.items],
    }
