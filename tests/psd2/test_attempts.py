"""No double payments: one payment attempt sends the payer to exactly one SCA, whatever
the bank, the network or the payer's browser do (docs/psd2.md, "One attempt, one SCA")."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.tenancy import get_or_create_merchant
from psd2 import (
    AttemptError,
    Attempts,
    BankUnavailable,
    PaymentOrder,
    Psd2Client,
    Registry,
    RequestRejected,
    next_poll,
)
from psd2.models import PaymentAttempt
from tests.psd2.conftest import TPP, Sandbox
from tests.psd2.payer import pay, query


@pytest.fixture
def merchant_id(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return get_or_create_merchant(session, "shop").id


def attempts_for(sandbox: Sandbox, factory: sessionmaker[Session], **client_options: Any) -> Attempts:
    return Attempts(factory, lambda bank_id: sandbox.client(bank_id, **client_options), now=sandbox.clock.now)


def new_attempt(sandbox: Sandbox, attempts: Attempts, merchant_id: int, bank_id: str = "dzintars",
                e2e: str = "pay_att_1", instant: bool = False) -> int:
    shop = sandbox.account("veikals", "dzintars")
    order = PaymentOrder(Decimal("40.00"), "EUR", shop.iban, "SIA Piemera Veikals", e2e,
                         creditor_reference="RF18539007547034", instant=instant)
    return attempts.create(merchant_id, bank_id, order, f"{TPP}/return/{e2e}")


def bank_payments(sandbox: Sandbox, e2e: str) -> list[Any]:
    return [p for p in sandbox.world.payments.values() if p.end_to_end_id == e2e]


def debits(sandbox: Sandbox, e2e: str) -> list[Any]:
    return [b for a in sandbox.world.accounts.values() for b in a.bookings
            if b.end_to_end_id == e2e and b.credit_debit == "DBIT"]


def test_two_clicks_get_the_same_sca(sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    first = attempts.redirect(attempt, psu_ip="192.0.2.10")
    second = attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert first == second and len(bank_payments(sandbox, "pay_att_1")) == 1
    assert attempts.view(attempt).state == "awaiting_sca"


def test_concurrent_starts_post_once(live_sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(live_sandbox, factory, timeout=5.0)
    attempt = new_attempt(live_sandbox, attempts, merchant_id)
    live_sandbox.faults.add("dzintars", "initiate", "slow")  # a slow bank widens the race
    results: list[str] = []
    errors: list[str] = []

    def start() -> None:
        try:
            results.append(attempts.redirect(attempt, psu_ip="192.0.2.10"))
        except AttemptError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bank_payments(live_sandbox, "pay_att_1")) == 1
    assert len(results) + len(errors) == 6 and len(set(results)) == 1
    assert all("right now" in e for e in errors)
    assert attempts.redirect(attempt, psu_ip="192.0.2.10") == results[0]


def test_503_after_create_leaves_an_orphan_nobody_can_authorise(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    sandbox.faults.add("dzintars", "initiate", "503-after")
    with pytest.raises(BankUnavailable) as lost:
        attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert lost.value.ambiguous
    view = attempts.view(attempt)
    assert view.state == "uncertain" and view.orphaned == 1 and view.sca_redirect is None
    assert [p.status for p in bank_payments(sandbox, "pay_att_1")] == ["RCVD"]  # the bank did create it
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")  # the payer tries again
    payments = bank_payments(sandbox, "pay_att_1")
    assert len(payments) == 2
    assert pay(url, "alise", http=sandbox.http).back_to == f"{TPP}/return/pay_att_1"
    sandbox.clock.advance(minutes=16)
    sandbox.clock.advance(days=1)
    assert attempts.poll(attempt).state == "completed"
    assert sorted(p.status for p in bank_payments(sandbox, "pay_att_1")) == ["ACSC", "RJCT"]  # orphan timed out
    assert len(debits(sandbox, "pay_att_1")) == 1


def test_a_timeout_after_the_bank_created_it(live_sandbox: Sandbox, factory: sessionmaker[Session],
                                            merchant_id: int) -> None:
    attempts = attempts_for(live_sandbox, factory, timeout=0.5)
    attempt = new_attempt(live_sandbox, attempts, merchant_id, instant=True)
    live_sandbox.faults.add("dzintars", "initiate", "timeout-after")
    with pytest.raises(BankUnavailable, match="no answer") as lost:
        attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert lost.value.ambiguous and attempts.view(attempt).state == "uncertain"
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert pay(url, "alise").back_to == f"{TPP}/return/pay_att_1"
    assert attempts.poll(attempt).state == "completed"
    live_sandbox.clock.advance(minutes=16)
    live_sandbox.world.tick()
    assert sorted(p.status for p in bank_payments(live_sandbox, "pay_att_1")) == ["ACSC", "RJCT"]
    assert len(debits(live_sandbox, "pay_att_1")) == 1


def test_a_refused_connection_sent_nothing(sandbox: Sandbox, factory: sessionmaker[Session],
                                           merchant_id: int) -> None:
    registry = Registry.sandbox("http://127.0.0.1:9")  # nothing listens on the discard port
    attempts = Attempts(factory, lambda bank_id: Psd2Client(registry.get(bank_id), timeout=1.0, sleep=lambda _: None),
                        now=sandbox.clock.now)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    with pytest.raises(BankUnavailable, match="cannot connect") as refused:
        attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert not refused.value.ambiguous
    view = attempts.view(attempt)
    assert view.state == "new" and view.orphaned == 0


def test_a_refused_initiation_ends_the_attempt(sandbox: Sandbox, factory: sessionmaker[Session],
                                               merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id, bank_id="gintaro", instant=True)
    with pytest.raises(RequestRejected):
        attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert attempts.view(attempt).state == "failed"
    with pytest.raises(AttemptError, match="failed; start a new one"):
        attempts.redirect(attempt, psu_ip="192.0.2.10")


def test_a_process_that_died_mid_post(sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    with transaction(factory) as session:
        session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt)
                        .values(state="initiating", updated_at=sandbox.clock.now()))
    with pytest.raises(AttemptError, match="right now"):
        attempts.redirect(attempt, psu_ip="192.0.2.10")
    sandbox.clock.advance(minutes=6)
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert url and attempts.view(attempt).orphaned == 1


def test_duplicate_returns_from_an_oauth_bank_exchange_the_code_once(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id, bank_id="kalevi")
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    back = pay(url, "alise", http=sandbox.http).back_to or ""
    tokens = len(sandbox.app.app.state.oauth.store.tokens)
    first = attempts.returned(attempt, query(back))
    second = attempts.returned(attempt, query(back))
    assert first.state == second.state == "pending" and first.bank_status == "ACTC"
    assert len(sandbox.app.app.state.oauth.store.tokens) == tokens + 1  # one payer token, one exchange
    sandbox.clock.advance(days=1)
    assert attempts.poll(attempt).state == "completed"
    assert len(debits(sandbox, "pay_att_1")) == 1


def test_payer_who_fails_sca_ends_rejected(sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert pay(url, "lauris", http=sandbox.http, codes=["1", "2", "3"]).back_to == f"{TPP}/return/pay_att_1"
    view = attempts.returned(attempt, {})
    assert view.state == "rejected" and view.bank_status == "RJCT"
    with pytest.raises(AttemptError, match="rejected"):
        attempts.redirect(attempt, psu_ip="192.0.2.10")


def test_polling_a_payment_that_never_settles_stops_at_the_deadline(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    pay(attempts.redirect(attempt, psu_ip="192.0.2.10"), "pauls", http=sandbox.http)
    sandbox.clock.advance(seconds=3)
    assert attempts.poll(attempt).state == "accepted"
    sandbox.clock.advance(hours=71)
    assert attempts.poll(attempt).state == "accepted"
    sandbox.clock.advance(hours=2)
    view = attempts.poll(attempt)
    assert view.state == "timed_out" and view.bank_status == "ACSP"
    assert attempts.due() == []


def test_a_bank_down_during_polling_keeps_the_state(sandbox: Sandbox, factory: sessionmaker[Session],
                                                    merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id, instant=True)
    pay(attempts.redirect(attempt, psu_ip="192.0.2.10"), "alise", http=sandbox.http)
    sandbox.faults.add("dzintars", "status", "503", times=8)
    view = attempts.poll(attempt)
    assert view.state == "awaiting_sca" and view.last_error and "503" in view.last_error
    sandbox.faults.clear()
    sandbox.clock.advance(seconds=30)
    assert attempt in attempts.due()
    assert attempts.poll(attempt).state == "completed"


def test_next_poll_backs_off_and_stops() -> None:
    assert [next_poll("pending", n, timedelta(0)).total_seconds() for n in range(1, 6)] == [2, 4, 8, 16, 32]  # type: ignore[union-attr]
    assert next_poll("pending", 20, timedelta(hours=1)) == timedelta(minutes=5)
    assert next_poll("accepted", 20, timedelta(hours=1)) == timedelta(minutes=15)
    assert next_poll("completed", 1, timedelta(0)) is None
    assert next_poll("pending", 1, timedelta(hours=72)) is None


def test_amounts_are_checked_before_anything_is_stored(sandbox: Sandbox, factory: sessionmaker[Session],
                                                       merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    shop = sandbox.account("veikals", "dzintars")
    for amount in ("0.00", "1.001", "-5"):
        with pytest.raises(AttemptError, match="payable"):
            attempts.create(merchant_id, "dzintars", PaymentOrder(Decimal(amount), "EUR", shop.iban, "S", "e"), TPP)


def test_polling_runs_in_process_on_a_timer_without_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from core import tasks

    ran: list[tuple[Any, ...]] = []
    done = threading.Event()

    class FakeTask:
        def apply(self, args: tuple[Any, ...] = ()) -> None:
            ran.append(args)
            done.set()

    monkeypatch.setattr(tasks, "get_settings", lambda: type("S", (), {"broker_url": ""})())
    tasks.enqueue(FakeTask(), 7)  # type: ignore[arg-type]
    assert ran == [(7,)]
    done.clear()
    tasks.enqueue(FakeTask(), 8, countdown=0.2)  # type: ignore[arg-type]
    assert ran == [(7,)]  # not yet: the delay is kept, unlike Celery's eager mode
    assert done.wait(5) and ran == [(7,), (8,)]


def test_poll_once_schedules_until_final(sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    from psd2.tasks import poll_once

    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    pay(attempts.redirect(attempt, psu_ip="192.0.2.10"), "alise", http=sandbox.http)
    delay = poll_once(attempts, attempt)
    assert delay == timedelta(seconds=2)
    sandbox.clock.advance(days=1)
    assert poll_once(attempts, attempt) is None and attempts.view(attempt).state == "completed"



def test_an_end_to_end_id_is_used_once(sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    new_attempt(sandbox, attempts, merchant_id)
    with pytest.raises(AttemptError, match="exists already"):
        new_attempt(sandbox, attempts, merchant_id)


def test_a_429_on_initiation_sent_nothing_and_a_retry_pays_once(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id, instant=True)
    sandbox.faults.add("dzintars", "initiate", "429")
    with pytest.raises(BankUnavailable) as limited:
        attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert limited.value.status == 429 and attempts.view(attempt).state == "new"
    assert bank_payments(sandbox, "pay_att_1") == []
    pay(attempts.redirect(attempt, psu_ip="192.0.2.10"), "alise", http=sandbox.http)
    assert attempts.returned(attempt, {}).state == "completed"
    assert len(debits(sandbox, "pay_att_1")) == 1


def test_the_celery_task_polls_and_schedules_the_next_poll(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from psd2 import tasks

    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id)
    pay(attempts.redirect(attempt, psu_ip="192.0.2.10"), "alise", http=sandbox.http)
    scheduled: list[tuple[int, float]] = []
    monkeypatch.setattr(tasks, "_attempts", lambda: attempts)
    monkeypatch.setattr(tasks, "enqueue", lambda task, attempt_id, countdown: scheduled.append((attempt_id, countdown)))
    assert tasks.poll_attempt.apply(args=[attempt]).get() == "pending"
    assert scheduled == [(attempt, 2.0)]
    sandbox.clock.advance(days=1)
    assert tasks.poll_attempt.apply(args=[attempt]).get() == "completed"
    assert scheduled == [(attempt, 2.0)]  # final: nothing more scheduled


def test_a_hung_post_taken_over_never_hands_out_its_link(
        live_sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(live_sandbox, factory, timeout=10.0)
    attempt = new_attempt(live_sandbox, attempts, merchant_id)
    live_sandbox.faults.add("dzintars", "initiate", "slow")  # A's POST hangs for 1.5 s
    outcome: dict[str, object] = {}

    def first() -> None:
        try:
            outcome["a"] = attempts.redirect(attempt, psu_ip="192.0.2.10")
        except AttemptError as exc:
            outcome["a"] = exc

    a = threading.Thread(target=first)
    a.start()
    import time

    time.sleep(0.5)
    live_sandbox.clock.advance(minutes=6)  # A looks dead now
    b_url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    a.join()
    assert isinstance(outcome["a"], AttemptError) and "started again" in str(outcome["a"])
    payments = bank_payments(live_sandbox, "pay_att_1")
    assert sorted(p.status for p in payments) == ["CANC", "RCVD"]  # A's payment taken back at the bank
    assert pay(b_url, "alise").back_to == f"{TPP}/return/pay_att_1"
    live_sandbox.clock.advance(days=1)
    assert attempts.poll(attempt).state == "completed"
    assert len(debits(live_sandbox, "pay_att_1")) == 1 and attempts.view(attempt).orphaned == 1


def test_a_forged_return_does_not_use_up_the_code_exchange(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id, bank_id="kalevi")
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    assert attempts.returned(attempt, {"state": "junk", "code": "junk"}).state == "awaiting_sca"
    assert attempts.returned(attempt, {}).state == "awaiting_sca"  # a prefetch of the bare return page
    back = pay(url, "alise", http=sandbox.http).back_to or ""
    assert attempts.returned(attempt, query(back)).state == "pending"
    sandbox.clock.advance(days=1)
    assert attempts.poll(attempt).state == "completed"


def test_every_field_of_the_order_reaches_the_bank(sandbox: Sandbox, factory: sessionmaker[Session],
                                                   merchant_id: int) -> None:
    from datetime import date

    attempts = attempts_for(sandbox, factory)
    shop, alise = sandbox.account("veikals", "dzintars"), sandbox.account("alise", "dzintars")
    order = PaymentOrder(Decimal("7.00"), "EUR", shop.iban, "SIA Piemera Veikals", "pay_full",
                         unstructured="Invoice INV-2026-00099", debtor_iban=alise.iban,
                         requested_execution_date=date(2026, 12, 10))
    attempt = attempts.create(merchant_id, "dzintars", order, f"{TPP}/back")
    attempts.redirect(attempt, psu_ip="192.0.2.10")
    payment = bank_payments(sandbox, "pay_full")[0]
    assert (payment.unstructured, payment.debtor_iban, payment.requested_execution_date) == (
        "Invoice INV-2026-00099", alise.iban, date(2026, 12, 10))


def test_create_refuses_what_cannot_be_paid_or_stored(sandbox: Sandbox, factory: sessionmaker[Session],
                                                      merchant_id: int) -> None:
    from core.settings import ConfigError

    attempts = attempts_for(sandbox, factory)
    shop = sandbox.account("veikals", "dzintars")
    for amount in ("Infinity", "NaN", "sNaN"):
        with pytest.raises(AttemptError, match="payable"):
            attempts.create(merchant_id, "dzintars", PaymentOrder(Decimal(amount), "EUR", shop.iban, "S", "e1"), TPP)
    with pytest.raises(ConfigError, match="no bank"):
        attempts.create(merchant_id, "nope", PaymentOrder(Decimal("1"), "EUR", shop.iban, "S", "e2"), TPP)
    with pytest.raises(AttemptError, match="no merchant 999"):
        attempts.create(999, "dzintars", PaymentOrder(Decimal("1"), "EUR", shop.iban, "S", "e3"), TPP)


def test_a_failed_code_exchange_leaves_the_attempt_exchangeable(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    attempt = new_attempt(sandbox, attempts, merchant_id, bank_id="kalevi")
    url = attempts.redirect(attempt, psu_ip="192.0.2.10")
    back = query(pay(url, "alise", http=sandbox.http).back_to or "")
    junk = {**back, "code": "junk"}
    assert attempts.returned(attempt, junk).state == "awaiting_sca"  # right state, bad code: not used up
    assert attempts.returned(attempt, {**back, "error": "x"}).state == "awaiting_sca"
    assert attempts.returned(attempt, back).state == "pending"
    sandbox.clock.advance(days=1)
    assert attempts.poll(attempt).state == "completed"


def test_orders_that_could_not_be_stored_are_refused_before_anything_happens(
        sandbox: Sandbox, factory: sessionmaker[Session], merchant_id: int) -> None:
    attempts = attempts_for(sandbox, factory)
    shop = sandbox.account("veikals", "dzintars")
    for order in (PaymentOrder(Decimal("1"), "EUR", shop.iban, "S", "e" * 36),
                  PaymentOrder(Decimal("1"), "EUR", shop.iban, "S" * 71, "e1"),
                  PaymentOrder(Decimal("1"), "EURO", shop.iban, "S", "e2"),
                  PaymentOrder(Decimal("1E+20"), "EUR", shop.iban, "S", "e3"),
                  PaymentOrder(Decimal("1"), "EUR", shop.iban, "S\x00", "e4")):
        with pytest.raises(AttemptError):
            attempts.create(merchant_id, "dzintars", order, TPP)


def test_a_poll_that_breaks_keeps_the_chain_going(monkeypatch: pytest.MonkeyPatch) -> None:
    from psd2 import tasks

    scheduled: list[float] = []

    class Broken:
        def poll(self, attempt_id: int) -> None:
            raise RuntimeError("database is locked")

    monkeypatch.setattr(tasks, "_attempts", lambda: Broken())
    monkeypatch.setattr(tasks, "enqueue", lambda task, attempt_id, countdown: scheduled.append(countdown))
    assert tasks.poll_attempt.apply(args=[1]).get() == "retrying"
    assert scheduled == [60.0]
