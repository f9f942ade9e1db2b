"""Payment attempts: how kvits makes sure one attempt sends the payer to exactly one SCA,
so that no bank call, retry, double click or duplicate redirect can pay twice.

The standard gives `X-Request-ID` no idempotency meaning, and a POST that timed out or
got a 5xx may have created the payment at the bank. The rule kvits follows instead:

1. An attempt is a database row. Only the request that moves it from `new` (or
   `uncertain`) to `initiating` with a compare-and-set UPDATE may POST; a second click,
   tab or process sees `initiating`/`awaiting_sca` and gets the *same* SCA address.
2. A payment needs the payer's SCA to be executed, and the SCA address is only in the
   bank's answer. If that answer is lost (timeout, 5xx after the bank created it), the
   bank's payment is an orphan nobody can authorise: the bank rejects it when its SCA
   times out (RJCT, as the standard requires). The attempt becomes `uncertain`
   (`orphaned` counts these) and may initiate again: the payer still reaches one SCA.
3. A connection refused means nothing reached the bank: the attempt goes back to `new`.
4. The payer's return (possibly twice, or never) only triggers a status poll; on an
   OAuth bank the code is exchanged once (compare-and-set on the state again).
5. Status is polled with backoff until final or the deadline (`next_poll`); the bank's
   transactionStatus is mapped by `psd2.status`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import changed, transaction, utcnow
from core.models import Merchant
from core.errors import KvitsError
from core.money import minor_unit
from psd2.client import Psd2Client
from psd2.errors import BankUnavailable, Psd2Error
from psd2.models import PaymentAttempt
from psd2.status import outcome
from psd2.types import PaymentOrder

# an `initiating` row older than this belongs to a process that died mid-POST
STALE_INITIATING = timedelta(minutes=5)
# stop polling a payment the bank never decided: the statement settles the question
POLL_DEADLINE = timedelta(hours=72)
FINAL_STATES = frozenset({"completed", "rejected", "cancelled", "failed", "timed_out"})


class AttemptError(KvitsError):
    """The attempt cannot do what was asked (busy, finished, unknown)."""


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    state: str
    bank_status: str | None
    sca_redirect: str | None
    bank_payment_id: str | None
    orphaned: int
    last_error: str | None


def next_poll(state: str, polls: int, age: timedelta) -> timedelta | None:
    """When to ask the bank again: quickly at first (the payer is waiting on the page),
    then every few minutes; never after a final state or the deadline."""
    if state in FINAL_STATES or age >= POLL_DEADLINE:
        return None
    cap = timedelta(minutes=15) if state == "accepted" else timedelta(minutes=5)
    return min(timedelta(seconds=2 ** min(polls, 12)), cap)


def state_for(bank_status: str, current: str) -> str:
    kvits = outcome(bank_status)
    if kvits == "pending":
        # RCVD after the payer came back still means the SCA is not through
        return "awaiting_sca" if bank_status == "RCVD" and current == "awaiting_sca" else "pending"
    return kvits


class Attempts:
    """Payment attempts in the database (see the module docstring): `create`, `redirect`
    (the one SCA address), `returned` (the payer came back), `poll`, `view`, `due`.
    `client_for(bank_id)` makes a Psd2Client; `now` is the clock (injectable for tests)."""

    def __init__(self, factory: sessionmaker[Session], client_for: Callable[[str], Psd2Client],
                 now: Callable[[], datetime] = utcnow) -> None:
        self.factory = factory
        self.client_for = client_for
        self.now = now

    def create(self, merchant_id: int, bank_id: str, order: PaymentOrder, redirect_uri: str) -> int:
        if not order.amount.is_finite() or not re.fullmatch(r"[A-Z]{3}", order.currency or ""):
            raise AttemptError(f"{order.amount} {order.currency} is not a payable amount")
        places = minor_unit(order.currency)
        minor = order.amount.scaleb(places)
        if minor != minor.to_integral_value() or not 0 < minor < 10**15:
            raise AttemptError(f"{order.amount} {order.currency} is not a payable amount")
        for what, value, limit in (("end-to-end id", order.end_to_end_id, 35), ("creditor name", order.creditor_name, 70),
                                   ("creditor reference", order.creditor_reference or "", 35),
                                   ("remittance text", order.unstructured or "", 140), ("IBAN", order.creditor_iban, 34)):
            if len(value) > limit or any(ord(c) < 32 for c in value):
                raise AttemptError(f"the {what} {value[:40]!r} is longer than {limit} or holds control characters")
        if not order.end_to_end_id or not order.creditor_name:
            raise AttemptError("an end-to-end id and a creditor name are required")
        self.client_for(bank_id).close()  # an unknown bank fails now, not at the payer's click
        try:
            return self._insert(merchant_id, bank_id, order, redirect_uri, int(minor))
        except IntegrityError:
            with transaction(self.factory) as session:
                taken = session.scalar(select(PaymentAttempt.id).where(
                    PaymentAttempt.merchant_id == merchant_id, PaymentAttempt.end_to_end_id == order.end_to_end_id))
                merchant = session.get(Merchant, merchant_id)
            if taken is not None:
                raise AttemptError(f"an attempt with end-to-end id {order.end_to_end_id!r} exists already") from None
            if merchant is None:
                raise AttemptError(f"no merchant {merchant_id}") from None
            raise

    def _insert(self, merchant_id: int, bank_id: str, order: PaymentOrder, redirect_uri: str, minor: int) -> int:
        with transaction(self.factory) as session:
            row = PaymentAttempt(
                merchant_id=merchant_id, end_to_end_id=order.end_to_end_id, bank_id=bank_id, product=order.product,
                amount_minor=minor, currency=order.currency, creditor_iban=order.creditor_iban,
                creditor_name=order.creditor_name, creditor_reference=order.creditor_reference,
                unstructured=order.unstructured, debtor_iban=order.debtor_iban,
                requested_execution_date=order.requested_execution_date, state="new",
                redirect_uri=redirect_uri, orphaned=0, polls=0, created_at=self.now(), updated_at=self.now(),
            )
            session.add(row)
            session.flush()
            return row.id

    def view_bank(self, attempt_id: int) -> str:
        with transaction(self.factory) as session:
            return self._row(session, attempt_id).bank_id

    def view(self, attempt_id: int) -> AttemptView:
        with transaction(self.factory) as session:
            row = self._row(session, attempt_id)
            return _view(row)

    def redirect(self, attempt_id: int, *, psu_ip: str, nok_redirect_uri: str | None = None,
                 psu_user_agent: str | None = None) -> str:
        """Where the payer's browser goes: the one SCA of this attempt."""
        now, claim = self.now(), secrets.token_hex(16)
        client = self.client_for(self.view_bank(attempt_id))  # before the claim: a failure here changes nothing
        with transaction(self.factory) as session:
            claimed = changed(session, update(PaymentAttempt)
                               .where(PaymentAttempt.id == attempt_id, PaymentAttempt.state.in_(("new", "uncertain")))
                               .values(state="initiating", claim=claim, updated_at=now))
            if not claimed:
                row = self._row(session, attempt_id)
                if row.state == "awaiting_sca" and row.sca_redirect:
                    return row.sca_redirect
                if row.state == "initiating" and _aware(row.updated_at) < now - STALE_INITIATING:
                    # its process died, or hangs, after (maybe) sending the POST: take over;
                    # the old claim can no longer store its answer or hand out its link
                    claimed = changed(session, update(PaymentAttempt)
                                       .where(PaymentAttempt.id == attempt_id, PaymentAttempt.state == "initiating",
                                              PaymentAttempt.claim.is_(None) if row.claim is None
                                              else PaymentAttempt.claim == row.claim)
                                       .values(updated_at=now, claim=claim, orphaned=PaymentAttempt.orphaned + 1))
                if not claimed:
                    if row.state == "initiating":
                        raise AttemptError("this payment is being started at the bank right now; try again in a moment")
                    raise AttemptError(f"this payment attempt is {row.state.replace('_', ' ')}; start a new one")
            row = self._row(session, attempt_id)
            order = _order(row)
            bank_id, redirect_uri = row.bank_id, row.redirect_uri
        try:
            initiation = client.initiate(order, psu_ip=psu_ip, redirect_uri=redirect_uri,
                                         nok_redirect_uri=nok_redirect_uri, psu_user_agent=psu_user_agent)
        except BankUnavailable as exc:
            self._claimed(attempt_id, claim, state="uncertain" if exc.ambiguous else "new",
                          orphaned_inc=1 if exc.ambiguous else 0, last_error=str(exc)[:2000])
            raise
        except Psd2Error as exc:
            self._claimed(attempt_id, claim, state="failed", last_error=str(exc)[:2000])
            raise
        except BaseException as exc:
            # anything else: the POST may have gone out; never leave the row stuck
            self._claimed(attempt_id, claim, state="uncertain", orphaned_inc=1, last_error=repr(exc)[:2000])
            raise
        finally:
            client.close()
        state = state_for(initiation.transaction_status, "awaiting_sca")
        try:
            stored = self._claimed(
            attempt_id, claim, state=state if state in FINAL_STATES else "awaiting_sca",
            bank_payment_id=initiation.payment_id, bank_status=initiation.transaction_status,
            sca_redirect=initiation.sca_redirect, authorisation_id=initiation.authorisation_id,
            oauth_state=initiation.oauth_state, oauth_verifier=initiation.oauth_verifier,
            next_poll_at=self.now() + timedelta(seconds=5), last_error=None)
        except Exception as exc:  # the answer cannot be kept: as good as lost
            self._take_back(bank_id, initiation.product, initiation.payment_id)
            self._claimed(attempt_id, claim, state="uncertain", orphaned_inc=1, last_error=repr(exc)[:2000])
            raise AttemptError("the bank's answer could not be stored; try again") from exc
        if not stored:
            # taken over while our POST hung: our payment must never reach the payer
            self._take_back(bank_id, initiation.product, initiation.payment_id)
            raise AttemptError("this payment was started again elsewhere meanwhile; use that one")
        if initiation.sca_redirect is None:
            raise AttemptError(f"the bank answered {initiation.transaction_status} without an SCA address")
        return initiation.sca_redirect

    def returned(self, attempt_id: int, callback: Mapping[str, str]) -> AttemptView:
        """The payer's browser came back from the bank (maybe twice, maybe forged): on an
        OAuth bank, a return with this attempt's state exchanges its code once; then the
        bank is asked where the payment stands."""
        with transaction(self.factory) as session:
            row = self._row(session, attempt_id)
            ours = bool(row.oauth_state) and secrets.compare_digest(
                str(callback.get("state", "")).encode("utf-8", "surrogatepass"), (row.oauth_state or "").encode()) \
                and bool(callback.get("code") or callback.get("error"))
            exchange = ours and row.state == "awaiting_sca" and changed(
                session,
                update(PaymentAttempt)
                .where(PaymentAttempt.id == attempt_id, PaymentAttempt.state == "awaiting_sca")
                .values(state="pending", updated_at=self.now())
            ) == 1
            bank_id, state_token, verifier, redirect_uri = row.bank_id, row.oauth_state, row.oauth_verifier, row.redirect_uri
        if exchange:  # noqa: SIM102
            assert state_token and verifier
            client = self.client_for(bank_id)
            try:
                client.finish_oauth(state_token, verifier, redirect_uri, callback)
            except Psd2Error as exc:
                # not exchanged (unreachable, a junk code, a payer who cancelled): the next
                # return may still bring a good code; the bank's status tells the rest
                self._set(attempt_id, "pending", state="awaiting_sca", last_error=str(exc)[:2000])
            finally:
                client.close()
        return self.poll(attempt_id)

    def poll(self, attempt_id: int) -> AttemptView:
        with transaction(self.factory) as session:
            row = self._row(session, attempt_id)
            if row.state in FINAL_STATES or row.bank_payment_id is None:
                return _view(row)
            bank_id, product, payment_id, current = row.bank_id, row.product, row.bank_payment_id, row.state
            polls, age = row.polls, self.now() - _aware(row.created_at)
        client = self.client_for(bank_id)
        try:
            status = client.status(product, payment_id)
        except Psd2Error as exc:  # 404 included: a bank's hiccup must not end a payment it may still settle
            delay = next_poll(current, polls + 1, age)
            values: dict[str, Any] = {"next_poll_at": self.now() + delay if delay else None}
            if delay is None:
                values["state"] = "timed_out"
            self._set(attempt_id, None, polls_inc=1, last_error=str(exc)[:2000], **values)
            return self.view(attempt_id)
        finally:
            client.close()
        state = state_for(status.transaction_status, current)
        delay = next_poll(state, polls + 1, age)
        if delay is None and state not in FINAL_STATES:
            state = "timed_out"
        self._set(attempt_id, None, state=state, bank_status=status.transaction_status, polls_inc=1,
                  next_poll_at=self.now() + delay if delay else None)
        return self.view(attempt_id)

    def cancel(self, attempt_id: int) -> bool:
        """Stop an attempt the payer has not authorised: one never sent (or whose answer was
        lost: nobody can authorise that orphan) ends here; one at its SCA is cancelled at
        the bank. True when it is cancelled now (or was already); False when it cannot be
        (being sent this moment, authorised, or the bank refused)."""
        with transaction(self.factory) as session:
            row = self._row(session, attempt_id)
            if row.state == "cancelled":
                return True
            if row.state in ("new", "uncertain"):
                return changed(session, update(PaymentAttempt).where(
                    PaymentAttempt.id == attempt_id, PaymentAttempt.state == row.state)
                    .values(state="cancelled", updated_at=self.now(), next_poll_at=None)) == 1
            if row.state != "awaiting_sca" or row.bank_payment_id is None:
                return False
            bank_id, product, payment_id = row.bank_id, row.product, row.bank_payment_id
        client = self.client_for(bank_id)
        try:
            cancelled = client.cancel(product, payment_id)
        except Psd2Error as exc:
            self._set(attempt_id, None, last_error=str(exc)[:2000])
            return False
        finally:
            client.close()
        if cancelled:
            self._set(attempt_id, "awaiting_sca", state="cancelled", next_poll_at=None)
        return cancelled and self.view(attempt_id).state == "cancelled"

    def due(self, limit: int = 100) -> list[int]:
        """Attempts whose next poll is due (for the scheduler)."""
        from sqlalchemy import select

        with transaction(self.factory) as session:
            return list(session.scalars(
                select(PaymentAttempt.id).where(PaymentAttempt.next_poll_at <= self.now(),
                                                PaymentAttempt.state.not_in(FINAL_STATES))
                .order_by(PaymentAttempt.next_poll_at).limit(limit)))

    # -- helpers ---------------------------------------------------------------------
    def _row(self, session: Session, attempt_id: int) -> PaymentAttempt:
        row = session.get(PaymentAttempt, attempt_id)
        if row is None:
            raise AttemptError(f"no payment attempt {attempt_id}")
        session.refresh(row)
        return row

    def _claimed(self, attempt_id: int, claim: str, **values: Any) -> bool:
        """Store the outcome of our POST, only while we still hold the claim."""
        with transaction(self.factory) as session:
            stmt = update(PaymentAttempt).where(PaymentAttempt.id == attempt_id, PaymentAttempt.claim == claim,
                                                PaymentAttempt.state == "initiating")
            if values.pop("orphaned_inc", 0):
                values["orphaned"] = PaymentAttempt.orphaned + 1
            return bool(changed(session, stmt.values(updated_at=self.now(), claim=None, **values)))

    def _take_back(self, bank_id: str, product: str, payment_id: str) -> None:
        client = self.client_for(bank_id)
        try:
            client.cancel(product, payment_id)
        except Psd2Error:
            pass  # the bank rejects it when its SCA times out: nobody has its address
        finally:
            client.close()

    def _set(self, attempt_id: int, expected_state: str | None, *, orphaned_inc: int = 0, polls_inc: int = 0,
             **values: Any) -> bool:
        """Update the row; with `expected_state`, only if it is still in that state."""
        with transaction(self.factory) as session:
            stmt = update(PaymentAttempt).where(PaymentAttempt.id == attempt_id)
            if expected_state is not None:
                stmt = stmt.where(PaymentAttempt.state == expected_state)
            else:
                stmt = stmt.where(PaymentAttempt.state.not_in(FINAL_STATES))
            if orphaned_inc:
                values["orphaned"] = PaymentAttempt.orphaned + orphaned_inc
            if polls_inc:
                values["polls"] = PaymentAttempt.polls + polls_inc
            return bool(changed(session, stmt.values(updated_at=self.now(), **values)))


def _order(row: PaymentAttempt) -> PaymentOrder:
    return PaymentOrder(
        amount=Decimal(row.amount_minor).scaleb(-minor_unit(row.currency)), currency=row.currency,
        creditor_iban=row.creditor_iban, creditor_name=row.creditor_name, end_to_end_id=row.end_to_end_id,
        creditor_reference=row.creditor_reference, unstructured=row.unstructured, debtor_iban=row.debtor_iban,
        instant=row.product.startswith("instant-"), requested_execution_date=row.requested_execution_date,
    )


def _view(row: PaymentAttempt) -> AttemptView:
    return AttemptView(row.id, row.state, row.bank_status, row.sca_redirect, row.bank_payment_id, row.orphaned,
                       row.last_error)


def _aware(value: datetime) -> datetime:
    # SQLite gives naive datetimes back; they were stored as UTC
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
