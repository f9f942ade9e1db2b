"""What each sandbox test user makes happen, and what the banks' ledgers then hold."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from sandbox import FakeClock, World
from tests.psd2.conftest import START, TPP, Sandbox
from tests.psd2.payer import pay
from tests.psd2.test_sandbox_pis import INST, SCT, body, headers, post


def status_of(sandbox: Sandbox, data: dict[str, object]) -> dict[str, object]:
    links = data["_links"]
    assert isinstance(links, dict)
    result: dict[str, object] = sandbox.http.get(links["status"]["href"], headers=headers()).json()
    return result


def sca_of(sandbox: Sandbox, data: dict[str, object]) -> str:
    links = data["_links"]
    assert isinstance(links, dict)
    return str(sandbox.http.get(links["scaStatus"]["href"], headers=headers()).json()["scaStatus"])


def test_success_standard_debits_payer_and_credits_merchant_next_business_day(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    assert out.back_to == f"{TPP}/ok"
    assert sca_of(sandbox, data) == "finalised"
    assert status_of(sandbox, data) == {"transactionStatus": "ACTC", "fundsAvailable": True}
    alise, shop = sandbox.account("alise", "dzintars"), sandbox.account("veikals", "dzintars")
    shop_before = shop.balance()
    assert alise.available == Decimal("24987.70") and alise.balance() == Decimal("25000.00")
    sandbox.clock.advance(seconds=3)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSP"
    sandbox.clock.advance(days=1)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSC"
    assert alise.balance() == Decimal("24987.70") and alise.reserved == 0
    credit = [b for b in shop.bookings if b.end_to_end_id == "pay_0001"]
    assert len(credit) == 1 and shop.balance() - shop_before >= Decimal("12.30")
    booking = credit[0]
    assert booking.credit_debit == "CRDT" and booking.amount == Decimal("12.30")
    assert booking.creditor_reference == "RF18539007547034" and booking.counterparty_iban == alise.iban
    assert booking.booking_date == date(2026, 12, 4) and booking.bank_code == ("PMNT", "RCDT", "ESCT")
    assert booking.reference.startswith("DZIN261204")


def test_cross_bank_payment_credits_the_other_sandbox_bank(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "gintaro")
    data = post(sandbox, json=body(sandbox, creditorAccount={"iban": shop.iban}), product=INST).json()
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSC"  # instant: at once
    credit = [b for b in shop.bookings if b.end_to_end_id == "pay_0001"]
    assert len(credit) == 1 and credit[0].counterparty_bic == "DZINLV22"
    assert credit[0].reference.startswith("GINT")


def test_insufficient_funds_rejects_after_a_finalised_sca(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "nauris", http=sandbox.http)
    assert out.back_to == f"{TPP}/ok"  # the SCA itself succeeded
    assert sca_of(sandbox, data) == "finalised"
    status = status_of(sandbox, data)
    assert status["transactionStatus"] == "RJCT" and status["fundsAvailable"] is False
    assert "Insufficient" in str(status["psuMessage"])
    assert sandbox.account("nauris", "dzintars").balance() == Decimal("3.50")


def test_small_payment_from_the_poor_user_goes_through(sandbox: Sandbox) -> None:
    data = post(sandbox, json=body(sandbox, instructedAmount={"currency": "EUR", "amount": "3.50"}), product=INST).json()
    pay(data["_links"]["scaRedirect"]["href"], "nauris", http=sandbox.http)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSC"
    assert sandbox.account("nauris", "dzintars").balance() == 0


def test_three_wrong_codes_fail_the_sca(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "lauris", http=sandbox.http, codes=["123456", "1", "2"])
    assert out.back_to == f"{TPP}/nok"
    assert sum("Wrong code" in p for p in out.pages) == 2
    assert sca_of(sandbox, data) == "failed"
    assert status_of(sandbox, data)["transactionStatus"] == "RJCT"


def test_a_wrong_code_then_the_right_one_succeeds(sandbox: Sandbox) -> None:
    data = post(sandbox, product=INST).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http, codes=["000000", "123456"])
    assert out.back_to == f"{TPP}/ok" and "1 try left" not in out.pages[-1] and "2 tries left" in out.pages[-1]
    assert status_of(sandbox, data)["transactionStatus"] == "ACSC"


def test_user_who_cancels_at_the_bank(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "ilze", http=sandbox.http)
    assert out.back_to == f"{TPP}/nok"
    assert status_of(sandbox, data)["transactionStatus"] == "CANC" and sca_of(sandbox, data) == "failed"


def test_cancel_button_on_the_first_page(sandbox: Sandbox) -> None:
    data = post(sandbox, hdrs={k: v for k, v in headers().items() if k != "TPP-Nok-Redirect-URI"}).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http, cancel=True)
    assert out.back_to == f"{TPP}/ok"  # no failure address given: the bank uses the only one it has
    assert status_of(sandbox, data)["transactionStatus"] == "CANC"


def test_pending_forever_user(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    pay(data["_links"]["scaRedirect"]["href"], "pauls", http=sandbox.http)
    sandbox.clock.advance(days=30)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSP"
    assert not [b for b in sandbox.account("veikals", "dzintars").bookings if b.end_to_end_id == "pay_0001"]


def test_second_submit_and_reopening_a_finished_sca_change_nothing(sandbox: Sandbox) -> None:
    data = post(sandbox, product=INST).json()
    url = data["_links"]["scaRedirect"]["href"]
    pay(url, "alise", http=sandbox.http)
    again = pay(url, "alise", http=sandbox.http)
    assert again.back_to is None and "complete" in again.pages[0]
    form = sandbox.http.post(url, data={"form_token": "x", "action": "confirm", "code": "123456"})
    assert "complete" in form.text
    debits = [b for b in sandbox.account("alise", "dzintars").bookings if b.end_to_end_id == "pay_0001"]
    assert len(debits) == 1


def test_a_form_from_elsewhere_is_refused(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    url = data["_links"]["scaRedirect"]["href"]
    r = sandbox.http.post(url, data={"form_token": "forged", "user": "alise", "action": "login"})
    assert r.status_code == 403
    assert sca_of(sandbox, data) == "received"


def test_the_sca_page_lists_every_test_user_with_what_they_do(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    page = sandbox.http.get(data["_links"]["scaRedirect"]["href"]).text
    for user in ("alise", "nauris", "lauris", "ilze", "pauls"):
        assert f'value="{user}"' in page
    assert "insufficient funds" in page and "never settles" in page and "12.30 EUR" in page
    assert "RF18539007547034" in page


def test_payer_must_hold_the_debtor_account_named(sandbox: Sandbox) -> None:
    alise = sandbox.account("alise", "dzintars")
    data = post(sandbox, json=body(sandbox, debtorAccount={"iban": alise.iban})).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "pauls", http=sandbox.http)
    assert out.back_to is None and out.status == 400 and "does not hold" in out.pages[-1]
    ok = pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    assert ok.back_to == f"{TPP}/ok"


def test_unknown_sca_link(sandbox: Sandbox) -> None:
    r = sandbox.http.get(f"/dzintars/sca/{uuid.uuid4()}")
    assert r.status_code == 404


@pytest.mark.parametrize("accepted, executes", [
    ("2026-12-04", "2026-12-07"),  # Friday -> Monday
    ("2026-12-24", "2026-12-28"),  # Christmas Eve -> over 25, 26 (TARGET holidays) and Sunday
    ("2026-12-31", "2027-01-04"),  # New Year's Eve -> 1 Jan is closed, then the weekend
])
def test_execution_is_the_next_target_business_day(sandbox: Sandbox, accepted: str, executes: str) -> None:
    sandbox.clock.advance(days=(date.fromisoformat(accepted) - date(2026, 12, 3)).days)
    data = post(sandbox).json()
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    payment = sandbox.world.payments[data["paymentId"]]
    assert payment.execution_date == date.fromisoformat(executes)
    sandbox.clock.advance(days=(payment.execution_date - date.fromisoformat(accepted)).days - 1)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSP"
    sandbox.clock.advance(days=1)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSC"


def test_requested_execution_date_in_the_future_waits_for_it(sandbox: Sandbox) -> None:
    data = post(sandbox, json=body(sandbox, requestedExecutionDate="2026-12-15")).json()
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    sandbox.clock.advance(days=5)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSP"
    sandbox.clock.advance(days=7)
    assert status_of(sandbox, data)["transactionStatus"] == "ACSC"


def test_merchant_accounts_have_their_daily_other_traffic(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    kinds = {b.bank_code for b in shop.bookings}
    assert {("PMNT", "RCDT", "ESCT"), ("PMNT", "MCRD", "POSP"), ("PMNT", "ICDT", "ESCT"), ("ACMT", "MDOP", "CHRG")} <= kinds
    days = {b.booking_date for b in shop.bookings}
    assert all(d.weekday() < 5 for d in days) and max(days) == date(2026, 12, 2)
    assert len({b.reference for b in shop.bookings}) == len(shop.bookings)
    before = len(shop.bookings)
    sandbox.clock.advance(days=1)
    sandbox.world.tick()
    assert max(b.booking_date for b in shop.bookings) == date(2026, 12, 3) and len(shop.bookings) > before
    # a restart at the same time gives the same world again: same IBANs, same history
    twin_clock = FakeClock(START + timedelta(days=1))
    twin = World(clock=twin_clock).accounts[shop.iban]
    assert [(b.reference, b.amount, b.booking_date) for b in twin.bookings] == \
        [(b.reference, b.amount, b.booking_date) for b in shop.bookings]


def test_sca_pages_cannot_be_framed_or_cached(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    page = sandbox.http.get(data["_links"]["scaRedirect"]["href"])
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_payment_texts_are_shown_escaped(sandbox: Sandbox) -> None:
    data = post(sandbox, json=body(sandbox, creditorName="<script>alert(1)</script>")).json()
    page = sandbox.http.get(data["_links"]["scaRedirect"]["href"]).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_monthly_fee_falls_on_the_first_business_day(sandbox: Sandbox) -> None:
    sandbox.clock.advance(days=40)  # into January 2027: 1 January is a TARGET holiday
    sandbox.world.tick()
    fees = [b.booking_date for b in sandbox.account("veikals", "dzintars").bookings if b.bank_code[0] == "ACMT"]
    assert fees == [date(2026, 11, 2), date(2026, 12, 1), date(2027, 1, 4)]
