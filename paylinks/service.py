"""Payers' payments through pay links: starting a bank payment (PSD2 initiation through
`psd2.attempts`), following it, its effect on the invoice, and the merchant's fee.

Money rules:
- the amount always comes from the server: what is still due on the invoice (open minus
  what a bank has accepted and not yet booked), or, where the merchant allows partial
  payments, a part of it;
- one payment in flight per invoice (a unique index): a second click, tab or request
  joins the first one, and `psd2.attempts` gives it the same SCA;
- every move of a payment goes through `paylinks.states.advance` under a row lock, so a
  repeated return, poll or callback changes nothing the second time;
- the fee is written once per payment (a unique key), when the payer's bank accepts it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction, utcnow
from core.errors import KvitsError
from core.events import emit
from core.models import Merchant
from core.money import from_minor, minor_unit
from invoices import service as invoice_service
from invoices.models import Invoice
from invoices.status import OPEN, Status
from paylinks import links
from paylinks.acquirer import AcquirerClient, AcquirerError, CardPayment
from paylinks.fees import fee_minor
from paylinks.models import FeeEntry, PayerPayment
from paylinks.states import ACTIVE, FROM_ATTEMPT, State, TransitionError, advance
from core.settings import Settings
from psd2.attempts import AttemptError, Attempts
from psd2.client import Psd2Client
from psd2.models import PaymentAttempt
from psd2.registry import Registry
from psd2.types import PaymentOrder


_log = logging.getLogger("kvits.paylinks")


class PayError(KvitsError):
    """Why this payment cannot be made now, in words for the payer: `msgid` is the
    message in the catalogs (paylinks/locale), `values` what fills it in."""

    def __init__(self, msgid: str, **values: object) -> None:
        super().__init__(msgid % values if values else msgid)
        self.msgid, self.values = msgid, values


def N_(message: str) -> str:  # marks a message for extraction; PayError translates it
    return message


def payable_minor(invoice: Invoice) -> int:
    """What a payer may still pay: open, less what a bank accepted but has not booked."""
    if Status(invoice.status) not in OPEN:
        return 0
    return max(invoice.open_minor - invoice.pending_minor, 0)


def mark_viewed(session: Session, invoice: Invoice, now: datetime) -> bool:
    """The payer opened the link: the first time is recorded (and sent as a webhook)."""
    if invoice.viewed_at is not None:
        return False
    changed = session.execute(update(Invoice).where(Invoice.id == invoice.id, Invoice.viewed_at.is_(None))
                              .values(viewed_at=now).execution_options(synchronize_session=False))
    if getattr(changed, "rowcount", 0) != 1:
        return False
    invoice.viewed_at = now
    emit(session, invoice.merchant_id, "invoice.viewed", invoice=f"inv_{invoice.id}", number=invoice.number)
    return True


def new_end_to_end_id() -> str:
    return "KV" + secrets.token_hex(12).upper()  # 26 characters, of the 35 allowed


@dataclass(frozen=True)
class PaymentView:
    id: int
    invoice_id: int
    state: str
    method: str
    amount_minor: int
    currency: str
    bank_id: str | None
    end_to_end_id: str
    failure: str | None


def _view(p: PayerPayment) -> PaymentView:
    return PaymentView(p.id, p.invoice_id, p.state, p.method, p.amount_minor, p.currency, p.bank_id,
                       p.end_to_end_id, p.failure)


class Payments:
    """`attempts` talks to the banks; `return_url(token)` is where a bank sends the
    payer back; `now` is the clock."""

    def __init__(self, factory: sessionmaker[Session], attempts: Attempts, return_url: Callable[[str], str],
                 now: Callable[[], datetime] = utcnow, acquirer: Callable[[], AcquirerClient] | None = None) -> None:
        self.factory, self.attempts, self.return_url, self.now = factory, attempts, return_url, now
        # the card acquirer (None: this deployment takes no cards)
        self.acquirer = acquirer
        # called once a payment is at its bank: whoever follows payments in flight starts
        self.on_start: Callable[[], None] = lambda: None

    # -- starting

    def start_bank(self, token: str, bank_id: str, *, psu_ip: str, user_agent: str | None = None,
                   amount: Decimal | None = None) -> tuple[int, str]:
        """The payer chose their bank: the payment (this invoice's one in flight, or a
        new one) and the address of its SCA page.

        The payment in flight is joined only while it still fits: asked at its bank first
        (an SCA that timed out ends it), replaced when the payer chose another bank or
        amount and its bank lets it be cancelled, stopped when the invoice was paid or
        cancelled meanwhile."""
        payment_id = self._one_in_flight(token, "bank", bank_id, amount)
        attempt_id = self._attempt_for(payment_id, token)
        url = self._redirect(payment_id, attempt_id, token, psu_ip, user_agent)
        self.follow(payment_id)
        self.on_start()
        return payment_id, url

    def _one_in_flight(self, token: str, method: str, bank_id: str | None, amount: Decimal | None) -> int:
        """This invoice's payment in flight when it fits what the payer chose now, else a
        new one (the old one cancelled where its bank or acquirer still lets it be)."""
        for _ in range(4):
            payment_id, fits = self._active_or_new(token, method, bank_id, amount)
            if fits is None:  # new
                return payment_id
            current = self.view(payment_id)
            if current.attempt_id is not None or current.acquirer_id is not None:
                self.poll(payment_id)
            if State(self.view(payment_id).state) not in ACTIVE:
                continue  # it ended at its bank (timed out, rejected, accepted): decide again
            if fits == "stale":  # the invoice was paid or cancelled, or needs less now
                self.cancel(payment_id)
                continue
            if fits == "other" and self.cancel(payment_id):
                continue  # the payer chose another bank, method or amount: that one is replaced
            if fits == "other" and current.method != method:
                break  # a payment by the other method cannot be joined
            return payment_id
        raise PayError(N_("The invoice is busy with another payment. Try again in a moment."))

    def start_card(self, token: str, *, amount: Decimal | None = None) -> tuple[int, str]:
        """The payer chose to pay by card: the payment and the address of the acquirer's
        card form (the same form for a second click: the acquirer's payment is created
        with the payment's end-to-end id as Idempotency-Key)."""
        if self.acquirer is None:
            raise PayError(N_("Card payments are not available. Pay from your bank instead."))
        payment_id = self._one_in_flight(token, "card", None, amount)
        with transaction(self.factory) as s:
            p = s.get(PayerPayment, payment_id)
            assert p is not None
            invoice, merchant = s.get(Invoice, p.invoice_id), s.get(Merchant, p.merchant_id)
            assert invoice is not None and merchant is not None
            order = dict(idempotency_key=p.end_to_end_id, amount=from_minor(p.amount_minor, p.currency),
                         currency=p.currency, reference=p.end_to_end_id,
                         description=f"{merchant.name[:60]}: invoice {invoice.number}",
                         payout_iban=merchant.iban or "", payout_name=merchant.name[:70],
                         return_url=self.return_url(token))
        client = self.acquirer()
        try:
            card = self._open_card(client, payment_id, order)
            with transaction(self.factory) as s:
                p = s.get(PayerPayment, payment_id, with_for_update=True)
                assert p is not None
                if p.acquirer_id is None:
                    p.acquirer_id = card.id
                replaced = State(p.state) not in ACTIVE  # cancelled while the acquirer was asked
                if not replaced:
                    move(s, p, State.AWAITING_SCA, self.now())
            if replaced:  # the payer must not pay on a form kvits no longer follows
                self._void(client, card.id)
                raise PayError(N_("This payment was replaced by another one. Start again."))
        finally:
            client.close()
        self.on_start()
        return payment_id, card.form_url

    def _open_card(self, client: AcquirerClient, payment_id: int, order: dict[str, Any]) -> CardPayment:
        """The acquirer's payment for this one: exactly the amount, currency and reference
        asked for, else refused (and cancelled there)."""
        try:
            card = client.create(**order)
            if (card.amount, card.currency, card.reference) != (order["amount"], order["currency"], order["reference"]):
                self._void(client, card.id)
                raise AcquirerError(f"the card acquirer opened {card.amount} {card.currency} ({card.reference[:35]}) "
                                    f"for a payment of {order['amount']} {order['currency']}: refused, and cancelled "
                                    "there", "mismatch")
            return card
        except AcquirerError as exc:
            if not exc.unreachable:
                with transaction(self.factory) as s:
                    p = s.get(PayerPayment, payment_id, with_for_update=True)
                    assert p is not None
                    move(s, p, State.FAILED, self.now(), failure=f"the card acquirer refused: {exc}"
                         if exc.code != "mismatch" else str(exc))
            raise PayError(N_("Card payment could not be started. Try again, or pay from your bank."),
                           why=str(exc)) from None

    @staticmethod
    def _void(client: AcquirerClient, acquirer_id: str) -> bool:
        """Cancel a card payment at the acquirer (not captured: nothing is charged)."""
        try:
            return client.cancel(acquirer_id).status == "cancelled"
        except AcquirerError as exc:
            _log.warning("card payment %s could not be cancelled at the acquirer: %s", acquirer_id, exc)
            return False

    def _card_sync(self, payment_id: int) -> None:
        """Bring a card payment to where its acquirer has it. An authorised payment is
        captured at once (capture is idempotent at the acquirer) while its invoice still
        needs it; one whose invoice was paid otherwise or cancelled meanwhile is cancelled
        at the acquirer instead, so the card is not charged."""
        p = self.view(payment_id)
        if self.acquirer is None or p.acquirer_id is None or State(p.state) not in (*ACTIVE, State.AUTHORISED):
            return
        client = self.acquirer()
        try:
            card = client.get(p.acquirer_id)
            if card.status == "authorised":
                why = self._not_needed(payment_id)
                if why is not None:
                    if self._void(client, p.acquirer_id):
                        with transaction(self.factory) as s:
                            locked = s.get(PayerPayment, payment_id, with_for_update=True)
                            assert locked is not None
                            move(s, locked, State.CANCELLED, self.now(), failure=why)
                    return
                card = client.capture(p.acquirer_id)
        except AcquirerError as exc:
            _log.warning("card payment %s: the acquirer did not answer as asked: %s", payment_id, exc)
            return
        finally:
            client.close()
        with transaction(self.factory) as s:
            locked = s.get(PayerPayment, payment_id, with_for_update=True)
            assert locked is not None
            apply_card(s, locked, card, self.now())

    def _not_needed(self, payment_id: int) -> str | None:
        """Why an authorised card payment must not be captured now (None: capture it)."""
        with transaction(self.factory) as s:
            p = s.get(PayerPayment, payment_id)
            assert p is not None
            invoice = s.get(Invoice, p.invoice_id)
            assert invoice is not None
            if State(p.state) not in (*ACTIVE, State.AUTHORISED):
                return f"the payment is {p.state}: the card was not charged"
            if Status(invoice.status) not in OPEN:
                return f"invoice {invoice.number} was {invoice.status} meanwhile: the card was not charged"
            own = p.amount_minor if p.state == State.AUTHORISED.value else 0
            if p.amount_minor > invoice.open_minor - max(invoice.pending_minor - own, 0):
                return f"invoice {invoice.number} was paid otherwise meanwhile: the card was not charged"
            return None

    def _redirect(self, payment_id: int, attempt_id: int, token: str, psu_ip: str, user_agent: str | None) -> str:
        """The attempt's one SCA address; a request that meets another one sending the
        payment to the bank this moment waits a little for its answer."""
        for wait in (0.2, 0.4, 0.8, 1.6, 0.0):
            try:
                return self.attempts.redirect(attempt_id, psu_ip=psu_ip, psu_user_agent=user_agent,
                                              nok_redirect_uri=self.return_url(token))
            except AttemptError as exc:
                if "right now" in str(exc) and wait:
                    time.sleep(wait)
                    continue
                self.follow(payment_id)
                raise PayError(N_("Your bank could not start the payment. Try again, or choose another way to pay."),
                               why=str(exc)) from None
            except KvitsError as exc:
                self.follow(payment_id)
                raise PayError(N_("Your bank could not start the payment. Try again, or choose another way to pay."),
                               why=str(exc)) from None
        raise AssertionError("unreachable")

    def cancel(self, payment_id: int) -> bool:
        """Stop a payment in flight that the payer has not authorised (see
        `psd2.attempts.Attempts.cancel`); True when it is cancelled. Its bank attempt or
        card payment is cancelled first; one started meanwhile by another request is
        seen under the payment's lock and cancelled too."""
        for _ in range(3):
            current = self.view(payment_id)
            if current.attempt_id is not None and not self.attempts.cancel(current.attempt_id):
                return False
            if current.acquirer_id is not None and self.acquirer is not None:
                client = self.acquirer()
                try:
                    card = client.cancel(current.acquirer_id)
                except AcquirerError:
                    card = None
                finally:
                    client.close()
                if card is None:
                    self._card_sync(payment_id)  # paid meanwhile, or the acquirer did not answer
                    return False
                if card.status != "cancelled":
                    return False
            with transaction(self.factory) as s:
                p = s.get(PayerPayment, payment_id, with_for_update=True)
                assert p is not None
                if (p.attempt_id, p.acquirer_id) != (current.attempt_id, current.acquirer_id):
                    continue  # its bank or the acquirer was asked meanwhile: cancel that too
                move(s, p, State.CANCELLED, self.now(), failure="replaced by a new payment")
                return p.state == State.CANCELLED.value
        return False

    def _active_or_new(self, token: str, method: str, bank_id: str | None,
                       amount: Decimal | None) -> tuple[int, str | None]:
        """The payment in flight and whether it fits ("fits", "other": another bank or
        amount, "stale": more than can be paid now), or a new payment (None)."""
        for _ in range(3):
            try:
                with transaction(self.factory) as s:
                    found = links.find(s, token, self.now())
                    if found is None or not found.live:
                        raise PayError(N_("This pay link does not work any more."))
                    invoice = invoice_service.lock(s, found.invoice)
                    active = s.scalar(select(PayerPayment).where(
                        PayerPayment.invoice_id == invoice.id, PayerPayment.state.in_([a.value for a in ACTIVE])))
                    if active is None:
                        return self._create(s, found.link.id, invoice, method, bank_id, amount).id, None
                    if active.amount_minor > payable_minor(invoice):
                        return active.id, "stale"
                    wanted = self._amount_minor(s, invoice, amount)
                    other = active.method != method or active.bank_id != bank_id or wanted != active.amount_minor
                    return active.id, "other" if other else "fits"
            except IntegrityError:
                continue  # another request made the payment in flight at the same moment: join it
        raise PayError(N_("The invoice is busy with another payment. Try again in a moment."))

    def _amount_minor(self, s: Session, invoice: Invoice, amount: Decimal | None) -> int:
        """What this payer may pay now: all that is due, or (where the merchant allows
        it) the part they asked for."""
        merchant = s.get(Merchant, invoice.merchant_id)
        assert merchant is not None
        due = payable_minor(invoice)
        if due <= 0:
            raise PayError(N_("There is nothing left to pay on this invoice."))
        if amount is None:
            return due
        if not merchant.partial_payments:
            raise PayError(N_("%(merchant)s takes the whole amount due only."), merchant=merchant.name)
        try:
            scaled = amount.scaleb(minor_unit(invoice.currency)) if amount.is_finite() else Decimal(-1)
            fits = scaled == scaled.to_integral_value() and 0 < scaled <= due
        except ArithmeticError:  # an exponent out of Decimal's range
            fits = False
        if not fits:
            raise PayError(N_("Pay an amount between %(least)s and %(most)s %(currency)s."),
                           least=from_minor(1, invoice.currency), most=from_minor(due, invoice.currency),
                           currency=invoice.currency)
        return int(scaled)

    def _create(self, s: Session, link_id: int, invoice: Invoice, method: str, bank_id: str | None,
                amount: Decimal | None) -> PayerPayment:
        merchant = s.get(Merchant, invoice.merchant_id)
        assert merchant is not None
        if not merchant.iban:  # card payouts go to the same account
            raise PayError(N_("%(merchant)s does not take bank payments yet."), merchant=merchant.name)
        minor = self._amount_minor(s, invoice, amount)
        payment = PayerPayment(merchant_id=invoice.merchant_id, invoice_id=invoice.id, pay_link_id=link_id,
                               method=method, state=State.CREATED.value, amount_minor=minor, currency=invoice.currency,
                               end_to_end_id=new_end_to_end_id(), bank_id=bank_id, refunded_minor=0)
        s.add(payment)
        s.flush()
        return payment

    def _attempt_for(self, payment_id: int, token: str) -> int:
        with transaction(self.factory) as s:
            p = s.get(PayerPayment, payment_id)
            assert p is not None
            if p.attempt_id is not None:
                return p.attempt_id
            invoice, merchant = s.get(Invoice, p.invoice_id), s.get(Merchant, p.merchant_id)
            assert invoice is not None and merchant is not None and merchant.iban and p.bank_id
            order = PaymentOrder(
                amount=from_minor(p.amount_minor, p.currency), currency=p.currency, creditor_iban=merchant.iban,
                creditor_name=merchant.name[:70], end_to_end_id=p.end_to_end_id,
                creditor_reference=invoice.rf_reference,
                unstructured=None if invoice.rf_reference else f"Invoice {invoice.number}"[:140])
            merchant_id, e2e, bank_id = p.merchant_id, p.end_to_end_id, p.bank_id
        try:
            attempt_id = self.attempts.create(merchant_id, bank_id, order, self.return_url(token))
        except AttemptError:
            with transaction(self.factory) as s:  # a concurrent request made it: the same one
                found = s.scalar(select(PaymentAttempt.id).where(PaymentAttempt.merchant_id == merchant_id,
                                                                 PaymentAttempt.end_to_end_id == e2e))
            if found is None:
                raise
            attempt_id = found
        with transaction(self.factory) as s:
            p = s.get(PayerPayment, payment_id, with_for_update=True)
            assert p is not None
            if p.attempt_id is None:
                p.attempt_id = attempt_id
            replaced = State(p.state) is State.CANCELLED  # while its bank was asked
        if replaced:  # the payer must not authorise a payment kvits no longer follows
            self.attempts.cancel(attempt_id)
            raise PayError(N_("This payment was replaced by another one. Start again."))
        return attempt_id

    # -- following

    def returned(self, payment_id: int, callback: dict[str, str]) -> PaymentView:
        """The bank sent the payer back (perhaps twice, perhaps forged): ask the bank."""
        current = self.view(payment_id)
        if current.attempt_id is not None:
            self.attempts.returned(current.attempt_id, callback)
        elif current.acquirer_id is not None:
            self._card_sync(payment_id)  # the acquirer is asked; the callback itself proves nothing
        return self.follow(payment_id)

    def poll(self, payment_id: int) -> PaymentView:
        current = self.view(payment_id)
        if current.attempt_id is not None:
            self.attempts.poll(current.attempt_id)
        elif current.acquirer_id is not None:
            self._card_sync(payment_id)
        return self.follow(payment_id)

    def view(self, payment_id: int) -> PayerPayment:
        with transaction(self.factory) as s:
            p = s.get(PayerPayment, payment_id)
            if p is None:
                raise PayError(N_("No such payment."))
            s.expunge(p)
            return p

    def follow(self, payment_id: int) -> PaymentView:
        """Bring the payment to where its bank attempt stands (idempotent)."""
        with transaction(self.factory) as s:
            p = s.get(PayerPayment, payment_id, with_for_update=True)
            assert p is not None
            if p.attempt_id is not None:
                attempt = s.get(PaymentAttempt, p.attempt_id)
                assert attempt is not None
                move(s, p, FROM_ATTEMPT[attempt.state], self.now(), failure=attempt.last_error or attempt.bank_status)
            return _view(p)


def move(session: Session, p: PayerPayment, target: State, now: datetime, failure: str | None = None) -> bool:
    """Move the (locked) payment and apply what the move means for the invoice and the
    fee; a move to where it is, or one the table forbids (a late poll of a settled
    payment), changes nothing."""
    current = State(p.state)
    try:
        if not advance(current, target):
            return False
    except TransitionError:
        return False
    p.state = target.value
    invoice = invoice_service.lock(session, session.get(Invoice, p.invoice_id))  # type: ignore[arg-type]
    if target is State.AUTHORISED and current is State.SETTLED:  # a person undid the statement's match
        p.settled_at = None
        invoice.pending_minor += min(p.amount_minor, max(invoice.open_minor - invoice.pending_minor, 0))
    elif target is State.AUTHORISED:
        p.authorised_at = now
        invoice.pending_minor += min(p.amount_minor, max(invoice.open_minor - invoice.pending_minor, 0))
        charge_fee(session, p, now)
        if p.method == "bank":  # a card payment succeeds when it is captured
            _succeeded(session, p)
    elif target is State.CAPTURED:  # card: the money is the merchant's, the invoice is paid
        p.captured_at = now
        if current is State.AUTHORISED:
            invoice.pending_minor = max(invoice.pending_minor - p.amount_minor, 0)
        else:
            p.authorised_at = p.authorised_at or now
            charge_fee(session, p, now)
        applied = min(p.amount_minor, invoice.open_minor) if Status(invoice.status) in OPEN else 0
        if applied > 0:
            invoice_service.change_paid(session, invoice, applied, f"card payment pay_{p.id} ({p.card or 'card'})",
                                        locked=True)
        if applied < p.amount_minor:  # paid otherwise in the same moment: the rest is the payer's
            p.unapplied_minor = p.amount_minor - applied
            extra = from_minor(p.unapplied_minor, p.currency)
            _log.warning("card payment %s captured %s more than invoice %s had open", p.id, extra, invoice.number)
            invoice_service.note(session, invoice, "overpaid",
                                 f"card payment pay_{p.id} captured {extra} {p.currency} more than was open: "
                                 "refund it to the payer", p.unapplied_minor)
        _succeeded(session, p)
    elif target in (State.FAILED, State.CANCELLED):
        p.failure = (failure or target.value)[:2000]
        if current is State.AUTHORISED:  # the bank took back what it had accepted
            invoice.pending_minor = max(invoice.pending_minor - p.amount_minor, 0)
        if current in (State.AUTHORISED, State.SETTLED):  # no success after all: the fee goes back
            reverse_fee(session, p, now)
        emit(session, p.merchant_id, "payment.failed", payment=f"pay_{p.id}", invoice=f"inv_{invoice.id}",
             reason=p.failure[:200])
    elif target is State.SETTLED:
        p.settled_at = now
        if current is State.CAPTURED:
            pass  # a card payout: the invoice was paid at capture
        elif current is State.AUTHORISED:
            invoice.pending_minor = max(invoice.pending_minor - p.amount_minor, 0)
        else:  # the statement came before kvits learned the bank's answer
            charge_fee(session, p, now)
    return True


def _succeeded(session: Session, p: PayerPayment) -> None:
    emit(session, p.merchant_id, "payment.succeeded", payment=f"pay_{p.id}", invoice=f"inv_{p.invoice_id}",
         amount=str(from_minor(p.amount_minor, p.currency)), currency=p.currency, method=p.method)


# where the acquirer's status of a card payment puts the payment
FROM_CARD: dict[str, State] = {
    "requires_payment_method": State.AWAITING_SCA, "requires_action": State.AWAITING_SCA,
    "authorised": State.AUTHORISED, "captured": State.CAPTURED, "partially_refunded": State.CAPTURED,
    "refunded": State.CAPTURED, "declined": State.FAILED, "cancelled": State.CANCELLED, "expired": State.FAILED,
}


def apply_card(session: Session, p: PayerPayment, card: CardPayment, now: datetime) -> bool:
    """Move the (locked) card payment to what the acquirer reports; an answer about
    another payment or amount than this one changes nothing (and is logged)."""
    if card.id != p.acquirer_id or card.currency != p.currency or \
            card.amount != from_minor(p.amount_minor, p.currency):
        _log.error("card payment %s: the acquirer's answer (%s %s %s) is not this payment", p.id, card.id,
                   card.amount, card.currency)
        return False
    target = FROM_CARD[card.status]
    if card.card:
        p.card = card.card
    if target is State.CAPTURED:
        if card.captured != card.amount:
            _log.error("card payment %s: the acquirer captured %s of %s", p.id, card.captured, card.amount)
            return False
        p.payout_id = card.payout_id
        if State(p.state) in (State.CREATED, State.AWAITING_SCA):
            move(session, p, State.AUTHORISED, now)
    failure = None
    if target is State.FAILED:
        failure = " ".join(filter(None, (card.decline_message, f"({card.decline_code or card.status})")))
    return move(session, p, target, now, failure=failure)


def charge_fee(session: Session, p: PayerPayment, now: datetime) -> None:
    """The fee on a successful payment: once, whatever is retried (unique per payment)."""
    if session.scalar(select(FeeEntry.id).where(FeeEntry.payment_id == p.id, FeeEntry.kind == "fee",
                                                FeeEntry.refund_id.is_(None))) is not None:
        return
    merchant = session.get(Merchant, p.merchant_id)
    assert merchant is not None
    session.add(FeeEntry(merchant_id=p.merchant_id, payment_id=p.id, kind="fee", base_minor=p.amount_minor,
                         fee_minor=fee_minor(p.amount_minor, merchant.fee_bp), rate_bp=merchant.fee_bp,
                         currency=p.currency, month=f"{now:%Y-%m}", created_at=now))
    session.flush()


def reverse_fee(session: Session, p: PayerPayment, now: datetime) -> None:
    """A payment the bank accepted and then rejected after all was no success: its fee
    is returned, once."""
    fee = session.scalar(select(FeeEntry).where(FeeEntry.payment_id == p.id, FeeEntry.kind == "fee"))
    done = session.scalar(select(FeeEntry.id).where(FeeEntry.payment_id == p.id, FeeEntry.kind == "reversal"))
    if fee is None or done is not None:
        return
    session.add(FeeEntry(merchant_id=p.merchant_id, payment_id=p.id, kind="reversal", base_minor=-fee.base_minor,
                         fee_minor=-fee.fee_minor, rate_bp=fee.rate_bp, currency=p.currency, month=f"{now:%Y-%m}",
                         created_at=now))
    session.flush()


def payments_for(settings: Settings, factory: sessionmaker[Session], registry: Registry | None = None) -> Payments:
    """The payments of this deployment: its banks (the registry of its settings), bank
    clients per call, and bank returns to KVITS_PUBLIC_URL."""
    banks = registry or Registry.from_settings(settings.sandbox_url, settings.psd2_banks_file)
    acquirer_url = settings.acquirer_url or settings.sandbox_url.rstrip("/") + "/acquirer/v1"
    return Payments(factory, Attempts(factory, lambda bank_id: Psd2Client(banks.get(bank_id))),
                    return_url=lambda token: links.pay_url(settings.public_url, token, "/return"),
                    acquirer=(lambda: AcquirerClient(acquirer_url, settings.acquirer_key))
                    if settings.acquirer_key else None)
