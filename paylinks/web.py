"""The payer's pages: `/pay/{token}` and what follows it. No JavaScript is needed on the
main path (forms and a refreshing status page); every page is in the invoice's language
unless the payer picks another.

A token that was never given out gets the same plain 404 page whatever it looks like,
and a client that guesses (many unknown tokens in a short time) is answered 429 for a
while."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import transaction, utcnow
from core.models import Merchant, User
from core.errors import KvitsError
from invoices.models import Invoice
from invoices.status import Status
from paylinks import links, pages
from paylinks.models import PayerPayment
from paylinks.service import N_, PayError, Payments, mark_viewed, payable_minor
from paylinks.states import ACTIVE, SUCCEEDED, State
from psd2.registry import Registry

router = APIRouter(include_in_schema=False)
_log = logging.getLogger("kvits.paylinks")

GUESSES_ALLOWED = 20  # unknown tokens per client and window
GUESS_WINDOW = 600.0  # seconds
NOT_FOUND = "This pay link does not exist. Check that you copied all of it, or ask the sender for a new one."
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
            "X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'"}


class Guesses:
    """Unknown tokens seen per client address: more than `allowed` in `window` seconds
    and the client is refused until its oldest miss leaves the window."""

    def __init__(self, allowed: int = GUESSES_ALLOWED, window: float = GUESS_WINDOW) -> None:  # float-ok: seconds
        self.allowed, self.window = allowed, window
        self._misses: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:  # float-ok: monotonic seconds
        misses = self._misses.setdefault(client, deque())
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        return misses

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.allowed

    def miss(self, client: str) -> None:
        with self._lock:
            if len(self._misses) > 100_000:
                self._misses.clear()
            self._recent(client, time.monotonic()).append(time.monotonic())


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _not_found(request: Request) -> HTMLResponse:
    request.app.state.guesses.miss(_client(request))
    return _html(pages.not_found_page(NOT_FOUND), 404)


def _too_many() -> HTMLResponse:
    response = _html(pages.not_found_page("Too many unknown links from your address. Try again in a few minutes."),
                     429)
    response.headers["Retry-After"] = str(int(GUESS_WINDOW))
    return response


def _merchant_preview(request: Request, session: Session, merchant_id: int) -> bool:
    """A signed-in person of the invoice's merchant looking at it: not the payer."""
    user_id = request.session.get("user") if "session" in request.scope else None
    if not isinstance(user_id, int):
        return False
    user = session.get(User, user_id)
    return user is not None and user.merchant_id == merchant_id


def _state(found: links.Found, invoice: Invoice) -> str:
    status = Status(invoice.status)
    if status is Status.PAID:
        return "paid"
    if status is Status.CANCELLED:
        return "cancelled"
    if not found.live:
        return found.why_not or "expired"
    if payable_minor(invoice) == 0:
        return "pending"  # what is open was accepted by the payer's bank: on its way
    return "open"


def _banks(request: Request) -> Registry:
    registry: Registry = request.app.state.banks
    return registry


def _payments(request: Request) -> Payments:
    payments: Payments = request.app.state.payments
    return payments


def _show(request: Request, token: str, lang: str | None, error: PayError | None = None, status: int = 200) -> Response:
    guesses = request.app.state.guesses
    if guesses.blocked(_client(request)):
        return _too_many()
    with transaction(request.app.state.factory) as s:
        found = links.find(s, token, utcnow())
        if found is None:
            return _not_found(request)
        invoice, merchant = found.invoice, s.get(Merchant, found.invoice.merchant_id)
        assert merchant is not None
        if found.live and not _merchant_preview(request, s, invoice.merchant_id):
            mark_viewed(s, invoice, utcnow())
        language = pages.language_of(invoice, lang)
        banks = _banks(request).all()
        message = pages.gettext(language, error.msgid, **error.values) if error else None
        body = pages.invoice_page(language, merchant, invoice, state=_state(found, invoice),
                                  pay_url=f"/pay/{token}", banks=banks, error=message,
                                  card=_payments(request).acquirer is not None)
    return _html(body, status)


@router.get("/pay/{token}")
def pay_page(request: Request, token: str, lang: str | None = None) -> Response:
    return _show(request, token, lang)


_AMOUNT = re.compile(r"[0-9]{1,12}(?:[.,][0-9]{1,2})?")  # 1234.56 or 1234,56: what a payer types


@router.post("/pay/{token}/bank")
def pay_by_bank(request: Request, token: str, bank: Annotated[str, Form()] = "",
                amount: Annotated[str | None, Form()] = None, lang: str | None = None) -> Response:
    try:
        _banks(request).get(bank[:64])
        refused = None
    except KvitsError:
        refused = PayError(N_("Choose your bank from the list."))
    return _start(request, token, lang, amount, "the bank", refused, lambda wanted: _payments(request).start_bank(
        token, bank, psu_ip=_client(request), user_agent=request.headers.get("user-agent"), amount=wanted))


@router.post("/pay/{token}/card")
def pay_by_card(request: Request, token: str, amount: Annotated[str | None, Form()] = None,
                lang: str | None = None) -> Response:
    """To the acquirer's card form: the card number is typed there, never here."""
    return _start(request, token, lang, amount, "the card acquirer", None,
                  lambda wanted: _payments(request).start_card(token, amount=wanted))


def _start(request: Request, token: str, lang: str | None, amount: str | None, who: str, refused: PayError | None,
           start: Callable[[Decimal | None], tuple[int, str]]) -> Response:
    """A payer's "pay" (by bank or card): refused while guessing is blocked, for a choice
    or amount that is not one, or an unknown link; else to where the payment starts."""
    if request.app.state.guesses.blocked(_client(request)):
        return _too_many()
    if refused is not None:
        return _show(request, token, lang, error=refused, status=422)
    wanted = _typed_amount(amount)
    if isinstance(wanted, PayError):
        return _show(request, token, lang, error=wanted, status=422)
    with transaction(request.app.state.factory) as s:
        if links.find(s, token, utcnow()) is None:
            return _not_found(request)
    try:
        _payment, url = start(wanted)
    except PayError as exc:
        if "why" in exc.values:  # refused or no answer: nothing was paid (details in the log)
            _log.warning("pay link %s…: %s could not start the payment: %s", token[:6], who, exc.values["why"])
            return _show(request, token, lang, error=exc, status=502)
        return _show(request, token, lang, error=exc, status=409)
    return RedirectResponse(url, status_code=303, headers=_HEADERS)


def _typed_amount(amount: str | None) -> Decimal | PayError | None:
    """The amount a payer typed (where partial payments are allowed), None for all that is due."""
    typed = (amount or "").strip().replace(" ", "").replace("\xa0", "")
    if not typed:
        return None
    if not _AMOUNT.fullmatch(typed):
        return PayError(N_("%(amount)s is not an amount."), amount=amount[:32] if amount else "")
    return Decimal(typed.replace(",", "."))


def _link_payment(request: Request, token: str) -> Response | tuple[int, State] | None:
    """The latest payment of the link's invoice (id and state), None before the first,
    or the answer for a blocked client or an unknown token."""
    if request.app.state.guesses.blocked(_client(request)):
        return _too_many()
    with transaction(request.app.state.factory) as s:
        found = links.find(s, token, utcnow())
        if found is None:
            return _not_found(request)
        # only what was paid through this very link: a replaced link tells nothing of the new one's
        payment = s.scalar(select(PayerPayment).where(PayerPayment.pay_link_id == found.link.id)
                           .order_by(PayerPayment.id.desc()).limit(1))
        return (payment.id, State(payment.state)) if payment else None


@router.get("/pay/{token}/return")
def returned(request: Request, token: str) -> Response:
    """The bank sent the payer back (OAuth banks add code and state): take note once,
    then show the payment without the bank's parameters in the address."""
    latest = _link_payment(request, token)
    if isinstance(latest, Response):
        return latest
    if latest is not None:
        payment_id = latest[0]
        callback = {k: v[:2000] for k, v in request.query_params.items()}
        try:
            _payments(request).returned(payment_id, callback)
        except KvitsError:
            pass  # the status page polls again
    return RedirectResponse(f"/pay/{token}/payment", status_code=303, headers=_HEADERS)


@router.get("/pay/{token}/payment")
def payment_status(request: Request, token: str, lang: str | None = None) -> Response:
    latest = _link_payment(request, token)
    if isinstance(latest, Response):
        return latest
    if latest is None:
        return RedirectResponse(f"/pay/{token}", status_code=303, headers=_HEADERS)
    payment_id, state = latest
    # (a card payment authorised but not yet captured: the poll captures it)
    if state in ACTIVE or (state is State.AUTHORISED and _payments(request).view(payment_id).method == "card"):
        try:
            _payments(request).poll(payment_id)
        except KvitsError:
            pass  # a bank's hiccup: the page asks again in a moment
    with transaction(request.app.state.factory) as s:
        payment = s.get(PayerPayment, payment_id)
        invoice = s.get(Invoice, payment.invoice_id) if payment else None
        merchant = s.get(Merchant, invoice.merchant_id) if invoice else None
        assert payment is not None and invoice is not None and merchant is not None
        state = State(payment.state)
        captured = payment.method == "bank" or state is not State.AUTHORISED
        outcome = ("done" if captured else "processing") if state in SUCCEEDED else \
            "processing" if state in ACTIVE else "failed"
        try:
            bank_name = payment.card or "" if payment.method == "card" else _banks(request).get(payment.bank_id or "").name
        except KvitsError:
            bank_name = payment.bank_id or ""
        body = pages.payment_page(pages.language_of(invoice, lang), merchant, invoice, outcome=outcome,
                                  pay_url=f"/pay/{token}", amount_minor=payment.amount_minor,
                                  currency=payment.currency, bank_name=bank_name,
                                  end_to_end_id=payment.end_to_end_id,
                                  when=payment.captured_at or payment.authorised_at or payment.updated_at,
                                  method=payment.method)
    return _html(body)


@router.get("/refunds/{key}/returned")
def refund_returned(request: Request, key: str) -> Response:
    """The merchant's bank sent them back after they confirmed (or not) a bank refund
    (`key` is the refund's random end-to-end id): its state is asked for once; the refund
    itself is shown in kvits, not here."""
    refunds = request.app.state.refunds
    try:
        found = refunds.follow_key(key[:40])
    except KvitsError:
        found = None
    state = found.state if found is not None else "unknown"
    words = {"succeeded": "Your bank has accepted the refund.", "failed": "The refund did not go through.",
             "awaiting_sca": "Your bank has not confirmed the refund yet.", "pending": "The refund is on its way."}
    return _html(pages.not_found_page(words.get(state, "Back from your bank. The refund's state is in kvits.")
                                      + " You can close this page.", title="Refund"))
