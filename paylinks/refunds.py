"""Refunds of payers' payments, in full or in part.

- card: through the acquirer, with the refund's own end-to-end id as Idempotency-Key (a
  retry after a lost answer finds the same refund, never a second one);
- bank: an outgoing SEPA credit transfer from the merchant's account to the payer's IBAN
  (known from the statement's credit, or given), initiated through `psd2.attempts`: the
  merchant confirms it at their bank (SCA), and it succeeds when the bank accepts it.

Never more than was paid: the payment's row is locked, and refunds in flight count
against what is left, so two refunds at once cannot together give back too much.

The fee: a refund gives back the fee on the part refunded, at the payment's rate, so
that a payment refunded in full has cost the merchant nothing; the shares are worked
out on the running total (fee(all refunded so far) - fee already given back), so any
number of partial refunds adds up to the payment's fee exactly, to the cent.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import transaction
from core.errors import CodedError, KvitsError
from core.events import emit
from core.models import Merchant
from core.settings import Settings
from core.money import from_minor
from invoices import service as invoice_service
from invoices.models import Invoice
from paylinks.acquirer import AcquirerError
from paylinks.fees import fee_minor
from paylinks.models import FeeEntry, PayerPayment, Refund
from paylinks.service import Payments, move
from paylinks.states import State
from psd2.attempts import AttemptError
from psd2.models import PaymentAttempt
from psd2.registry import Registry
from psd2.types import PaymentOrder
from reconciliation.models import BankTransaction

_log = logging.getLogger("kvits.paylinks")

# the money is the merchant's: it can be given back
REFUNDABLE = {"card": (State.CAPTURED, State.SETTLED, State.PARTIALLY_REFUNDED),
              "bank": (State.SETTLED, State.PARTIALLY_REFUNDED)}
IN_FLIGHT = ("pending", "awaiting_sca")
_KEY = re.compile(r"KR[0-9A-F]{24}")  # a refund's end-to-end id
_ATTEMPT_DONE = {"accepted": "succeeded", "completed": "succeeded", "rejected": "failed", "failed": "failed",
                 "timed_out": "failed", "cancelled": "failed"}


class RefundError(CodedError):
    """`code`: not_found, invalid_amount, too_much, not_refundable, payee_unknown, bank_unknown."""


@dataclass(frozen=True)
class RefundView:
    id: int
    payment_id: int
    invoice_id: int
    method: str
    state: str
    amount_minor: int
    currency: str
    reason: str
    payee_iban: str | None
    sca_url: str | None
    failure: str | None
    created_at: datetime
    succeeded_at: datetime | None


def view_of(r: Refund) -> RefundView:
    return RefundView(r.id, r.payment_id, r.invoice_id, r.method, r.state, r.amount_minor, r.currency, r.reason,
                      r.payee_iban, r.sca_url if r.state == "awaiting_sca" else None, r.failure, r.created_at,
                      r.succeeded_at)


def _why_not(p: PayerPayment) -> str:
    state = State(p.state)
    if state is State.REFUNDED:
        return f"payment pay_{p.id} is refunded in full already"
    if state in (State.FAILED, State.CANCELLED):
        return f"payment pay_{p.id} {'failed' if state is State.FAILED else 'was cancelled'}: nothing was paid, " \
               "so nothing can be refunded"
    when = "captured" if p.method == "card" else "on the merchant's statement (settled)"
    return f"payment pay_{p.id} is {p.state}: a {p.method} payment can be refunded once it is {when}"


def refundable_minor(session: Session, p: PayerPayment) -> int:
    """What can still be given back: paid, less refunded and refunds in flight."""
    if State(p.state) not in REFUNDABLE[p.method]:
        return 0
    flying = session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.payment_id == p.id, Refund.state.in_(IN_FLIGHT))) or 0
    return max(p.amount_minor - p.refunded_minor - int(flying), 0)


class Refunds:
    """`payments` gives the acquirer, the PSD2 attempts, the factory and the clock;
    `banks` the registry the merchant's own bank is found in; `return_url(end_to_end_id)`
    is where the merchant's bank sends them back after confirming a bank refund."""

    def __init__(self, payments: Payments, banks: Registry, return_url: Callable[[str], str]) -> None:
        self.payments, self.banks, self.return_url = payments, banks, return_url
        self.factory, self.now = payments.factory, payments.now

    # -- asking for one

    def request(self, merchant_id: int, payment_id: int, amount_minor: int | None, *, reason: str = "",
                requested_by: str = "", payee_iban: str | None = None, payee_name: str | None = None,
                bank_id: str | None = None, psu_ip: str = "127.0.0.1",
                on_create: Callable[[Session, int], None] | None = None) -> RefundView:
        """Refund `amount_minor` (None: all that is left) of the merchant's payment.
        `on_create(session, refund_id)` runs in the transaction that stores the refund (the
        API keeps its Idempotency-Key there: the key and the refund exist together or not)."""
        with transaction(self.factory) as s:
            p = s.scalar(select(PayerPayment).where(PayerPayment.id == payment_id,
                                                    PayerPayment.merchant_id == merchant_id).with_for_update())
            if p is None:
                raise RefundError(f"no payment pay_{payment_id}", "not_found")
            if State(p.state) not in REFUNDABLE[p.method]:
                raise RefundError(_why_not(p), "not_refundable")
            left = refundable_minor(s, p)
            amount = left if amount_minor is None else amount_minor
            if amount <= 0:
                raise RefundError("a refund's amount must be more than 0", "invalid_amount")
            if amount > left:
                raise RefundError(f"a refund of {from_minor(amount, p.currency)} {p.currency} is more than the "
                                  f"{from_minor(left, p.currency)} {p.currency} that can still be refunded on "
                                  f"payment pay_{p.id}", "too_much")
            iban, name = (None, None) if p.method == "card" else self._payee(s, p, payee_iban, payee_name)
            refund = Refund(merchant_id=merchant_id, payment_id=p.id, invoice_id=p.invoice_id, method=p.method,
                            state="pending", amount_minor=amount, currency=p.currency, reason=reason[:500],
                            end_to_end_id="KR" + secrets.token_hex(12).upper(), payee_iban=iban, payee_name=name,
                            requested_by=requested_by[:200])
            s.add(refund)
            s.flush()
            refund_id, method = refund.id, p.method
            if on_create is not None:
                on_create(s, refund_id)
            if method == "bank":  # find the merchant's bank before anything is stored
                merchant = s.get(Merchant, merchant_id)
                assert merchant is not None and merchant.iban
                bank = self._merchant_bank(merchant.iban, bank_id)
                invoice = s.get(Invoice, p.invoice_id)
                assert invoice is not None
                order = PaymentOrder(amount=from_minor(amount, p.currency), currency=p.currency,
                                     creditor_iban=iban or "", creditor_name=(name or "")[:70],
                                     end_to_end_id=refund.end_to_end_id, debtor_iban=merchant.iban,
                                     unstructured=f"Refund, invoice {invoice.number}"[:140])
        if method == "card":
            return self._card(refund_id)
        return self._bank(refund_id, bank, order, psu_ip)

    def _payee(self, s: Session, p: PayerPayment, iban: str | None, name: str | None) -> tuple[str, str]:
        """Whom a bank refund goes to: the IBAN given, else the one the statement showed
        the money come from."""
        if iban is None and p.payer_iban:
            iban, name = p.payer_iban, name or p.payer_name
        if iban is None:
            seen = s.scalar(select(BankTransaction).where(
                BankTransaction.merchant_id == p.merchant_id, BankTransaction.end_to_end_id == p.end_to_end_id,
                BankTransaction.credit_debit == "CRDT", BankTransaction.counterparty_iban.is_not(None)).limit(1))
            if seen is not None:
                iban, name = seen.counterparty_iban, name or seen.counterparty_name
        if not iban:
            raise RefundError(f"the payer's IBAN of payment pay_{p.id} is not known: give iban and name", "payee_unknown")
        try:
            iban = str(IBAN(iban))
        except SchwiftyException as exc:
            raise RefundError(f"iban {iban[:40]!r} is not an IBAN: {exc}", "payee_unknown") from None
        if not name or not name.strip():
            raise RefundError(f"the payer's name for the refund to {iban} is not known: give name", "payee_unknown")
        return iban, name.strip()[:140]

    def _merchant_bank(self, iban: str, bank_id: str | None) -> str:
        bank = self.banks.holding(iban, bank_id)
        if bank is None and bank_id:
            raise RefundError(f"no bank {bank_id[:64]!r} to send the refund from", "bank_unknown")
        if bank is None:
            raise RefundError(f"which bank holds {iban}? give bank (one of: "
                              f"{', '.join(b.id for b in self.banks.all())})", "bank_unknown")
        return bank.id

    def _card(self, refund_id: int) -> RefundView:
        with transaction(self.factory) as s:
            refund = s.get(Refund, refund_id)
            assert refund is not None
            p = s.get(PayerPayment, refund.payment_id)
            assert p is not None and p.acquirer_id
            acquirer_id, amount, key = p.acquirer_id, from_minor(refund.amount_minor, refund.currency), refund.end_to_end_id
        if self.payments.acquirer is None:
            return self._fail(refund_id, "card payments are not configured (KVITS_ACQUIRER_KEY)")
        client = self.payments.acquirer()
        try:
            made = client.refund(acquirer_id, amount, key)
        except AcquirerError as exc:
            if exc.unreachable:  # asked again later with the same key: never a second refund
                _log.warning("refund %s: the acquirer's answer is not known: %s", refund_id, exc)
                return self.view(refund_id)
            return self._fail(refund_id, f"the card acquirer refused: {exc}")
        finally:
            client.close()
        if made.payment_id != acquirer_id or made.amount != amount:
            # not the refund asked for: nothing is recorded, and it is asked again (same key)
            _log.error("refund %s: the acquirer answered about %s %s, not %s %s", refund_id, made.payment_id,
                       made.amount, acquirer_id, amount)
            return self.view(refund_id)
        if made.status == "failed":
            return self._fail(refund_id, "the card acquirer could not refund")
        with transaction(self.factory) as s:
            refund = s.get(Refund, refund_id, with_for_update=True)
            assert refund is not None
            refund.acquirer_refund_id, refund.payout_id = made.id, made.payout_id
            if made.status == "succeeded":
                succeed(s, refund, self.now())
            return view_of(refund)

    def _bank(self, refund_id: int, bank_id: str, order: PaymentOrder, psu_ip: str) -> RefundView:
        attempts = self.payments.attempts
        try:
            back = self.return_url(order.end_to_end_id)
            attempt_id = attempts.create(self._merchant(refund_id), bank_id, order, back)
            with transaction(self.factory) as s:
                refund = s.get(Refund, refund_id, with_for_update=True)
                assert refund is not None
                refund.attempt_id = attempt_id
            url = attempts.redirect(attempt_id, psu_ip=psu_ip, nok_redirect_uri=back)
        except (AttemptError, KvitsError) as exc:
            self.follow(refund_id)
            view = self.view(refund_id)
            if view.state in IN_FLIGHT and view.sca_url is None:
                return self._fail(refund_id, f"the merchant's bank could not start the transfer: {exc}")
            return view
        with transaction(self.factory) as s:
            refund = s.get(Refund, refund_id, with_for_update=True)
            assert refund is not None
            if refund.state == "pending":
                refund.state, refund.sca_url = "awaiting_sca", url
            return view_of(refund)

    def _merchant(self, refund_id: int) -> int:
        return self.view_row(refund_id).merchant_id

    def _fail(self, refund_id: int, why: str) -> RefundView:
        with transaction(self.factory) as s:
            refund = s.get(Refund, refund_id, with_for_update=True)
            assert refund is not None
            if refund.state in IN_FLIGHT:
                refund.state, refund.failure = "failed", why[:2000]
            return view_of(refund)

    # -- following

    def view_row(self, refund_id: int) -> Refund:
        with transaction(self.factory) as s:
            refund = s.get(Refund, refund_id)
            if refund is None:
                raise RefundError(f"no refund re_{refund_id}", "not_found")
            s.expunge(refund)
            return refund

    def view(self, refund_id: int) -> RefundView:
        return view_of(self.view_row(refund_id))

    def follow(self, refund_id: int) -> RefundView:
        """Where a refund in flight stands now: a card refund whose answer was lost is asked
        for again (same key); a bank refund follows its transfer's attempt."""
        row = self.view_row(refund_id)
        if row.state not in IN_FLIGHT:
            return view_of(row)
        if row.method == "card":
            return self._card(refund_id)
        if row.attempt_id is None:
            return view_of(row)
        try:
            self.payments.attempts.poll(row.attempt_id)
        except KvitsError as exc:
            _log.warning("refund %s: its bank did not answer: %s", refund_id, exc)
        with transaction(self.factory) as s:
            refund = s.get(Refund, refund_id, with_for_update=True)
            assert refund is not None and refund.attempt_id is not None
            attempt = s.get(PaymentAttempt, refund.attempt_id)
            assert attempt is not None
            outcome = _ATTEMPT_DONE.get(attempt.state)
            if refund.state in IN_FLIGHT and outcome == "succeeded":
                succeed(s, refund, self.now())
            elif refund.state in IN_FLIGHT and outcome == "failed":
                refund.state = "failed"
                refund.failure = (attempt.last_error or attempt.bank_status or attempt.state)[:2000]
            return view_of(refund)

    def follow_key(self, end_to_end_id: str) -> RefundView | None:
        """`follow` by the refund's end-to-end id (the merchant's bank return address)."""
        if not _KEY.fullmatch(end_to_end_id):
            return None
        with transaction(self.factory) as s:
            refund_id = s.scalar(select(Refund.id).where(Refund.end_to_end_id == end_to_end_id))
        return None if refund_id is None else self.follow(refund_id)

    def due(self, limit: int = 100) -> list[int]:
        with transaction(self.factory) as s:
            return list(s.scalars(select(Refund.id).where(Refund.state.in_(IN_FLIGHT)).order_by(Refund.id)
                                  .limit(limit)))


def succeed(session: Session, refund: Refund, now: datetime) -> None:
    """The (locked) refund went through: the payment, the invoice and the fee follow, once."""
    if refund.state == "succeeded":
        return
    p = session.get(PayerPayment, refund.payment_id, with_for_update=True)
    assert p is not None
    refund.state, refund.succeeded_at = "succeeded", now
    before = p.refunded_minor
    p.refunded_minor = min(before + refund.amount_minor, p.amount_minor)
    move(session, p, State.REFUNDED if p.refunded_minor == p.amount_minor else State.PARTIALLY_REFUNDED, now)
    invoice = session.get(Invoice, p.invoice_id)
    assert invoice is not None
    invoice_service.lock(session, invoice)
    # what the payment captured beyond its invoice is given back first: only the rest was
    # the invoice's (and the database's own check stops more than it was paid)
    spare = p.unapplied_minor
    part = max(p.refunded_minor - spare, 0) - max(before - spare, 0)
    give = min(part, max(invoice.paid_minor - invoice.refunded_minor, 0))
    if give > 0:
        invoice_service.record_refund(session, invoice, give, f"refund re_{refund.id} of payment pay_{p.id}"
                                      + (f": {refund.reason}" if refund.reason else ""))
    fee = session.scalar(select(FeeEntry).where(FeeEntry.payment_id == p.id, FeeEntry.kind == "fee",
                                                FeeEntry.refund_id.is_(None)))
    if fee is not None:
        back = fee_minor(p.refunded_minor, fee.rate_bp) - fee_minor(before, fee.rate_bp)
        if back:
            session.add(FeeEntry(merchant_id=p.merchant_id, payment_id=p.id, refund_id=refund.id, kind="refund",
                                 base_minor=-refund.amount_minor, fee_minor=-back, rate_bp=fee.rate_bp,
                                 currency=p.currency, month=f"{now:%Y-%m}", created_at=now))
    emit(session, p.merchant_id, "refund.succeeded", refund=f"re_{refund.id}", payment=f"pay_{p.id}",
         invoice=f"inv_{p.invoice_id}", amount=str(from_minor(refund.amount_minor, refund.currency)),
         currency=refund.currency, method=refund.method)
    session.flush()


def refunds_for(settings: Settings, payments: Payments, banks: Registry | None = None) -> Refunds:
    """The refunds of this deployment: its payments' acquirer and banks; the merchant
    comes back from confirming a bank refund to KVITS_PUBLIC_URL/refunds/{end-to-end id}/
    returned (the refund's random end-to-end id: not a number anyone could count through)."""
    registry = banks or Registry.from_settings(settings.sandbox_url, settings.psd2_banks_file)
    base = settings.public_url.rstrip("/")
    return Refunds(payments, registry, lambda key: f"{base}/refunds/{key}/returned")
