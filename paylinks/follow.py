"""Following payments whose payer never came back from the bank (closed the tab, lost
the connection): their bank is asked on the schedule of `psd2.attempts.next_poll`, so
the invoice shows *payment pending* and the fee is written without the payer.

Without a broker one daemon thread per process does it while payments are in flight
(`Follower`); with a broker the Celery task `paylinks.follow_due` is meant for beat
(every minute). Both call `follow_due`, which is safe to run in several places at once:
each step is a locked, idempotent move."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from datetime import timedelta

from sqlalchemy import or_, select

from core.db import transaction
from paylinks.models import PayerPayment, Refund
from paylinks.refunds import IN_FLIGHT, Refunds
from paylinks.service import Payments
from paylinks.states import ACTIVE, State
from psd2.models import PaymentAttempt

_log = logging.getLogger("kvits.paylinks")
# the bank has decided (or decided enough): the payment follows without asking again
_DECIDED = ("accepted", "completed", "rejected", "failed", "timed_out", "cancelled")


CARD_EVERY = timedelta(seconds=30)  # a card payment in flight is asked about this often


def due(payments: Payments, limit: int = 100) -> list[int]:
    """Payments in flight whose bank should be asked now, or has answered already; card
    payments at the acquirer's form (or authorised, to capture): the follower asks about
    those every CARD_EVERY."""
    with transaction(payments.factory) as s:
        bank = list(s.scalars(
            select(PayerPayment.id).join(PaymentAttempt, PaymentAttempt.id == PayerPayment.attempt_id)
            .where(PayerPayment.state.in_([a.value for a in ACTIVE]),
                   or_(PaymentAttempt.next_poll_at <= payments.now(), PaymentAttempt.state.in_(_DECIDED)))
            .order_by(PayerPayment.id).limit(limit)))
        card = list(s.scalars(
            select(PayerPayment.id).where(
                PayerPayment.method == "card", PayerPayment.acquirer_id.is_not(None),
                PayerPayment.state.in_([*(a.value for a in ACTIVE), State.AUTHORISED.value]))
            .order_by(PayerPayment.id).limit(limit)))
    return bank + card


def follow_due(payments: Payments, refunds: Refunds | None = None) -> int:
    """Ask the bank or acquirer about every due payment and refund in flight (one
    failing bank stops nobody else)."""
    ids = due(payments)
    for payment_id in ids:
        try:
            payments.poll(payment_id)
        except Exception:
            _log.exception("following payment %s failed", payment_id)
    refund_ids = refunds.due() if refunds is not None else []
    for refund_id in refund_ids:
        try:
            refunds.follow(refund_id)  # type: ignore[union-attr]
        except Exception:
            _log.exception("following refund %s failed", refund_id)
    return len(ids) + len(refund_ids)


def next_time(payments: Payments, refunds: Refunds | None = None) -> datetime | None:
    """When the earliest payment or refund in flight should be asked next (None: none)."""
    with transaction(payments.factory) as s:
        value: datetime | None = s.scalar(
            select(PaymentAttempt.next_poll_at).join(PayerPayment, PayerPayment.attempt_id == PaymentAttempt.id)
            .where(PayerPayment.state.in_([a.value for a in ACTIVE]), PaymentAttempt.next_poll_at.is_not(None))
            .order_by(PaymentAttempt.next_poll_at).limit(1))
        cards = s.scalar(select(PayerPayment.id).where(
            PayerPayment.method == "card", PayerPayment.acquirer_id.is_not(None),
            PayerPayment.state.in_([*(a.value for a in ACTIVE), State.AUTHORISED.value])).limit(1))
        flying = s.scalar(select(Refund.id).where(Refund.state.in_(IN_FLIGHT)).limit(1)) if refunds else None
    if cards is not None or flying is not None:
        soon = payments.now() + CARD_EVERY
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=soon.tzinfo)
        value = soon if value is None else min(value, soon)
    return value


class Follower:
    """The in-process follower: `wake()` after a payment started; it then runs until no
    payment is in flight, sleeping until the next one is due (at most `idle` seconds)."""

    def __init__(self, payments: Payments, idle: float = 30.0,  # float-ok: seconds
                 refunds: Refunds | None = None) -> None:
        self.payments, self.idle, self.refunds = payments, idle, refunds
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        with self._lock:
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="kvits-paylinks")
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                follow_due(self.payments, self.refunds)
                following = next_time(self.payments, self.refunds)
            except Exception:
                _log.exception("following payments failed")
                following = None
            with self._lock:
                if following is None and not self._wake.is_set():
                    self._thread = None
                    return
            if following is None:
                continue
            moment = following if following.tzinfo else following.replace(tzinfo=self.payments.now().tzinfo)
            delay = (moment - self.payments.now()).total_seconds()
            self._wake.wait(min(max(delay, 0.5), self.idle))
