"""Card payments through the sandbox acquirer's hosted form, their daily payout settling
them in the merchant's statement, and refunds (card and bank): full, partial, too much,
repeated, at once, and the fee following them to the cent."""

from __future__ import annotations

import re

import threading
from typing import Any

from sqlalchemy import select

from core.db import transaction
from invoices.models import Invoice
from paylinks.models import PayerPayment, Refund
from reconciliation.models import BankTransaction
from reconciliation.service import ImportOptions, import_statement
from tests.api.test_http_api import problem
from tests.paylinks.cardholder import pay_card
from tests.paylinks.conftest import PUBLIC, Shop
from tests.paylinks.test_pay_by_bank import approved, fees
from tests.psd2.payer import pay


def card_paid(shop: Shop, path: str, number: str = "4242424242424242", **options: Any) -> str:
    """The payer pays the link's invoice by card; the payment's public id."""
    payer = shop.payer()
    started = payer.post(f"{path}/card")
    assert started.status_code == 303, started.text
    form = started.headers["location"]
    assert form.startswith(f"{shop.sandbox.url}/acquirer/pay/acq_")
    card = pay_card(form, number, http=shop.sandbox.http, merchant_prefix=PUBLIC, **options)
    assert card.back_to is not None and card.back_to.startswith(f"{PUBLIC}{path}/return"), card.pages[-1][:2000]
    back = payer.get(card.back_to[len(PUBLIC):])
    assert back.status_code == 303 and back.headers["location"] == f"{path}/payment"
    payments = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"]
    return str(payments[-1]["id"])


def statement(shop: Shop) -> bytes:
    today = shop.sandbox.clock.now().date()
    got = shop.sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{shop.iban}/statement",
                                params={"from": "2026-12-01", "to": today.isoformat()})
    assert got.status_code == 200, got.text
    return got.content


def imported(shop: Shop) -> None:
    with transaction(shop.factory) as s:
        import_statement(s, shop.merchant_id, statement(shop), options=ImportOptions())


def test_a_payer_pays_by_card_and_the_payout_settles_it(shop: Shop) -> None:
    invoice, path = approved(shop)
    payer = shop.payer()
    assert "Maksāt ar karti" in payer.get(path).text
    first = payer.post(f"{path}/card").headers["location"]
    assert payer.post(f"{path}/card").headers["location"] == first  # a second click: the same card form

    payment_id = card_paid(shop, path)
    receipt = payer.get(f"{path}/payment").text
    assert "Paldies! Jūsu kartes maksājums ir veikts." in receipt and "4242" in receipt and "121,00" in receipt
    for _ in range(2):  # back twice, reloads: nothing more
        payer.get(f"{path}/return", params={"acquirer_payment": "acq_" + "0" * 24})
        payer.get(f"{path}/payment")
    payment = shop.api.http.get(f"/v1/payments/{payment_id}", headers=shop.api.h()).json()
    assert payment["method"] == "card" and payment["state"] == "captured" and payment["card"].endswith("4242")
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["status"] == "paid" and shown["paid"] == "121.00" and shown["payment_pending"] == "0.00"
    assert fees(shop) == [("fee", 121)]
    assert "Šis rēķins ir apmaksāts" in payer.get(path).text

    # the acquirer pays the day's captures out the next business day, as one credit
    shop.sandbox.clock.advance(days=1)
    for _ in range(2):
        imported(shop)
    with transaction(shop.factory) as s:
        rows = list(s.scalars(select(BankTransaction).where(BankTransaction.match_status == "card_payout")))
        assert len(rows) == 1 and rows[0].amount_minor == 12100, [r.reasons for r in rows]
        p = s.get(PayerPayment, int(payment_id.removeprefix("pay_")))
        assert p is not None and p.state == "settled" and p.settled_at is not None
        inv = s.get(Invoice, int(invoice["id"].removeprefix("inv_")))
        assert inv is not None and inv.paid_minor == 12100  # not paid twice by the payout
    assert fees(shop) == [("fee", 121)]


def test_declined_cards_fail_and_3d_secure_asks_for_a_code(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    payer = shop.payer()
    for number, words in (("4000000000000002", "declined"), ("4000000000009995", "insufficient"),
                          ("4000000000000069", "expired")):
        card_paid(shop, path, number)
        page = payer.get(f"{path}/payment").text
        assert "The payment did not go through" in page and "Try again" in page
        failure = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"][-1]["failure"]
        assert words in failure.lower(), failure
    card_paid(shop, path, "4000000000003220", codes=("000000", "123456"))  # a wrong code, then the right one
    assert "Thank you! Your card payment went through." in payer.get(f"{path}/payment").text
    states = [p["state"] for p in shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"]]
    assert states == ["failed", "failed", "failed", "captured"]
    assert shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()["status"] == "paid"
    assert fees(shop) == [("fee", 121)]  # only the payment that went through


def test_a_3d_secure_cancelled_is_no_payment(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    card_paid(shop, path, "4000000000003220", cancel_3ds=True)
    assert "did not go through" in shop.payer().get(f"{path}/payment").text
    assert shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()["status"] == "issued"
    assert fees(shop) == []


def refund(shop: Shop, payment_id: str, key: str | None = None, who: str = "a", **body: Any) -> Any:
    headers = shop.api.h(who) | ({"Idempotency-Key": key} if key else {})
    return shop.api.http.post(f"/v1/payments/{payment_id}/refunds", headers=headers, json=body)


def test_card_refunds_in_full_repeat_and_too_much(shop: Shop) -> None:
    invoice, path = approved(shop)
    payment_id = card_paid(shop, path)
    made = refund(shop, payment_id, "r-1", reason="returned goods")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["state"] == "succeeded" and body["amount"] == "121.00" and body["method"] == "card"
    again = refund(shop, payment_id, "r-1", reason="returned goods")  # the same request again
    assert again.status_code == 201 and again.json()["id"] == body["id"] and again.headers["idempotent-replayed"]
    problem(refund(shop, payment_id, "r-1", reason="other"), 409, "idempotency_key_reused")
    problem(refund(shop, payment_id, "r-2", amount="0.01"), 409, "not_refundable")
    problem(refund(shop, payment_id, "r-3", who="b"), 404, "not_found")  # another merchant's payment
    payment = shop.api.http.get(f"/v1/payments/{payment_id}", headers=shop.api.h()).json()
    assert payment["state"] == "refunded" and payment["refunded"] == "121.00"
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["refunded"] == "121.00" and shown["status"] == "paid"
    assert fees(shop) == [("fee", 121), ("refund", -121)]  # refunded in full: the fee comes back in full
    listed = shop.api.http.get("/v1/refunds", headers=shop.api.h()).json()["data"]
    assert [r["id"] for r in listed] == [body["id"]]
    assert shop.api.http.get("/v1/refunds", headers=shop.api.h("b")).json()["data"] == []
    problem(shop.api.http.get(f"/v1/refunds/{body['id']}", headers=shop.api.h("b")), 404, "not_found")


def test_partial_card_refunds_add_up_to_the_fee_to_the_cent(shop: Shop) -> None:
    _, path = approved(shop)
    payment_id = card_paid(shop, path)
    assert refund(shop, payment_id, amount="0.50").json()["state"] == "succeeded"  # its fee share: 0.005 -> 0.01
    problem(refund(shop, payment_id, amount="120.51"), 409, "too_much")
    problem(refund(shop, payment_id, amount="0"), 422, "invalid_amount")
    too_fine = problem(refund(shop, payment_id, amount="1.234"), 422, "invalid_amount")
    assert too_fine["detail"] == "'1.234' has more decimals than EUR allows (2)"
    for bad in ("1e3", "1_0", "1,00", "-1", " 1"):
        body = problem(refund(shop, payment_id, amount=bad), 422, "validation_failed")
        assert "plain decimal amount like 12.50" in body["detail"] and "[0-9]" not in body["detail"], body
    null = problem(refund(shop, payment_id, amount=None), 422, "validation_failed")
    assert "leave amount out to refund all that is left" in null["detail"]
    assert refund(shop, payment_id, amount="120.50").json()["state"] == "succeeded"
    assert fees(shop) == [("fee", 121), ("refund", -1), ("refund", -120)]
    payment = shop.api.http.get(f"/v1/payments/{payment_id}", headers=shop.api.h()).json()
    assert payment["state"] == "refunded"


def test_refunds_at_once_never_give_back_more_than_was_paid(shop: Shop) -> None:
    _, path = approved(shop)
    payment_id = card_paid(shop, path)
    answers: list[int] = []

    def one() -> None:
        answers.append(refund(shop, payment_id, amount="50.00").status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 201, 409, 409, 409, 409]
    with transaction(shop.factory) as s:
        assert sum(r.amount_minor for r in s.scalars(select(Refund).where(Refund.state == "succeeded"))) == 10000
    assert shop.api.http.get(f"/v1/payments/{payment_id}", headers=shop.api.h()).json()["refunded"] == "100.00"


def test_a_bank_payment_is_refunded_by_a_transfer_the_merchant_confirms(shop: Shop) -> None:
    invoice, path = approved(shop)
    payer = shop.payer()
    sca = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    payer.get(f"{path}/return")
    shop.sandbox.clock.advance(seconds=3)
    payer.get(f"{path}/payment")
    payment_id = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"][0]["id"]
    problem(refund(shop, payment_id, amount="21.00"), 409, "not_refundable")  # not on the statement yet
    shop.sandbox.clock.advance(days=1)
    imported(shop)

    made = refund(shop, payment_id, "bank-1", amount="21.00", reason="discount")
    assert made.status_code == 201, made.text
    body = made.json()
    alise = shop.sandbox.account("alise", "dzintars").iban
    assert body["state"] == "awaiting_sca" and body["payee_iban"] == alise and body["sca_url"], body["failure"]
    problem(refund(shop, payment_id, amount="100.01"), 409, "too_much")  # 21.00 is in flight
    outcome = pay(body["sca_url"], "veikals", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    assert outcome.back_to is not None
    back = outcome.back_to.removeprefix(PUBLIC)
    assert re.fullmatch(r"/refunds/KR[0-9A-F]{24}/returned", back), back  # not a number to count through
    shop.sandbox.clock.advance(seconds=3)
    assert "accepted the refund" in shop.payer().get(back).text
    for guess in (f"/refunds/{body['id'].removeprefix('re_')}/returned", "/refunds/KR" + "0" * 24 + "/returned"):
        assert "accepted" not in shop.payer().get(guess).text
    done = shop.api.http.get(f"/v1/refunds/{body['id']}", headers=shop.api.h()).json()
    assert done["state"] == "succeeded", done
    sent = [p for p in shop.sandbox.world.payments.values() if p.creditor_iban == alise and p.amount == 21]
    assert len(sent) == 1 and sent[0].debtor is not None and sent[0].debtor.iban == shop.iban
    payment = shop.api.http.get(f"/v1/payments/{payment_id}", headers=shop.api.h()).json()
    assert payment["state"] == "partially_refunded" and payment["refunded"] == "21.00"
    assert shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()["refunded"] == "21.00"
    assert fees(shop) == [("fee", 121), ("refund", -21)]


def test_a_bank_refund_the_merchant_does_not_confirm_frees_the_amount(shop: Shop) -> None:
    _, path = approved(shop)
    payer = shop.payer()
    sca = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    payer.get(f"{path}/return")
    shop.sandbox.clock.advance(days=1)
    imported(shop)
    payment_id = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"][0]["id"]
    body = refund(shop, payment_id).json()
    assert body["state"] == "awaiting_sca" and body["amount"] == "121.00"
    outcome = pay(body["sca_url"], "veikals", tpp_prefix=PUBLIC, http=shop.sandbox.http, cancel=True)
    assert outcome.back_to is not None
    shop.payer().get(outcome.back_to.removeprefix(PUBLIC))
    assert shop.api.http.get(f"/v1/refunds/{body['id']}", headers=shop.api.h()).json()["state"] == "failed"
    again = refund(shop, payment_id, amount="121.00")  # nothing was given back: all of it can be again
    assert again.status_code == 201 and again.json()["state"] == "awaiting_sca"
    assert fees(shop) == [("fee", 121)]


def test_a_payout_nets_the_days_refunds_and_is_still_recognised(shop: Shop) -> None:
    invoice, path = approved(shop)
    payment_id = card_paid(shop, path)
    assert refund(shop, payment_id, amount="21.00").json()["state"] == "succeeded"  # the same day
    shop.sandbox.clock.advance(days=1)
    imported(shop)
    with transaction(shop.factory) as s:
        rows = list(s.scalars(select(BankTransaction).where(BankTransaction.match_status == "card_payout")))
        assert [r.amount_minor for r in rows] == [10000], [r.reasons for r in rows]  # 121.00 - 21.00
        assert "less 21.00 refunded" in rows[0].reasons[0]["detail"]
        p = s.get(PayerPayment, int(payment_id.removeprefix("pay_")))
        assert p is not None and p.state == "partially_refunded" and p.settled_at is not None
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["paid"] == "121.00" and shown["refunded"] == "21.00" and shown["status"] == "paid"


# -- what an attacker's review found: races between the two methods, answers kvits must
#    not trust, and money captured that the invoice no longer needed


def _payment(shop: Shop, public_id: str) -> PayerPayment:
    with transaction(shop.factory) as s:
        p = s.get(PayerPayment, int(public_id.removeprefix("pay_")))
        assert p is not None
        s.expunge(p)
        return p


def _token(path: str) -> str:
    return path.removeprefix("/pay/")


def test_a_payment_cancelled_while_its_bank_is_asked_is_cancelled_there_too(shop: Shop) -> None:
    """Two tabs: bank chosen in one, card in the other, the card's cancel landing while
    the bank's attempt is being made: the payer is not sent to authorise a payment kvits
    stopped following, and the bank's one is cancelled."""
    from paylinks.service import PayError

    _, path = approved(shop)
    payments = shop.app.state.payments
    payment_id = payments._one_in_flight(_token(path), "bank", "dzintars", None)
    assert payments.cancel(payment_id)  # (the other tab, before the attempt exists)
    try:
        payments._attempt_for(payment_id, _token(path))
        raise AssertionError("a cancelled payment went on to its bank")
    except PayError as exc:
        assert "replaced" in str(exc)
    p = _payment(shop, f"pay_{payment_id}")
    assert p.state == "cancelled" and p.attempt_id is not None
    from psd2.models import PaymentAttempt

    with transaction(shop.factory) as s:
        attempt = s.get(PaymentAttempt, p.attempt_id)
        assert attempt is not None and attempt.state == "cancelled"


def test_a_card_form_opened_for_a_cancelled_payment_is_cancelled_at_the_acquirer(shop: Shop) -> None:
    _, path = approved(shop)
    payments = shop.app.state.payments
    real = payments.acquirer

    class CancelledMeanwhile:  # the acquirer answers; meanwhile the other tab cancelled the payment
        def __init__(self) -> None:
            self.client = real()

        def create(self, **order: Any) -> Any:
            card = self.client.create(**order)
            with transaction(shop.factory) as s:
                p = s.scalar(select(PayerPayment).where(PayerPayment.end_to_end_id == order["reference"]))
                assert p is not None and p.acquirer_id is None
                payment_id = p.id
            assert payments.cancel(payment_id)
            return card

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

    payments.acquirer = CancelledMeanwhile
    started = shop.payer().post(f"{path}/card")
    payments.acquirer = real
    assert started.status_code != 303 or "/acquirer/pay/" not in started.headers.get("location", "")
    opened = list(shop.sandbox.world.acquirer.payments.values())
    assert len(opened) == 1 and opened[0].status == "cancelled"
    assert shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"][0]["state"] == "cancelled"


def test_an_invoice_paid_otherwise_before_the_card_is_captured_is_not_charged_twice(shop: Shop) -> None:
    from invoices import service as invoice_service

    invoice, path = approved(shop)
    payer = shop.payer()
    form = payer.post(f"{path}/card").headers["location"]
    with transaction(shop.factory) as s:  # the statement showed a transfer for all of it meanwhile
        inv = s.get(Invoice, int(invoice["id"].removeprefix("inv_")))
        assert inv is not None
        invoice_service.change_paid(s, inv, inv.total_minor, "bank transfer")
    card = pay_card(form, "4242424242424242", http=shop.sandbox.http, merchant_prefix=PUBLIC)
    assert card.back_to is not None
    payer.get(card.back_to[len(PUBLIC):])
    made = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"][0]
    assert made["state"] == "cancelled" and "not charged" in made["failure"], made
    opened = list(shop.sandbox.world.acquirer.payments.values())
    assert [o.status for o in opened] == ["cancelled"] and opened[0].captured_amount == 0
    assert fees(shop) == []
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["paid"] == "121.00" and shown["refunded"] == "0.00"


def test_money_captured_beyond_the_invoice_is_refunded_without_touching_the_invoice(shop: Shop) -> None:
    """Paid otherwise in the very moment of the capture: the extra is recorded as the
    payer's, shown on the invoice, and a refund of it leaves the invoice's money alone."""
    from invoices import service as invoice_service

    invoice, path = approved(shop)
    payments = shop.app.state.payments
    invoice_id = int(invoice["id"].removeprefix("inv_"))

    def too_late(payment_id: int) -> None:  # the check passed; the transfer lands just after it
        with transaction(shop.factory) as s:
            inv = s.get(Invoice, invoice_id)
            assert inv is not None
            invoice_service.change_paid(s, inv, inv.open_minor, "bank transfer")
        return None

    payments._not_needed = too_late
    payment_id = card_paid(shop, path)
    del payments._not_needed
    p = _payment(shop, payment_id)
    assert p.state == "captured" and p.unapplied_minor == 12100
    with transaction(shop.factory) as s:
        from invoices.models import InvoiceEvent

        notes = list(s.scalars(select(InvoiceEvent.detail).where(InvoiceEvent.kind == "overpaid")))
        assert notes == [f"card payment {payment_id} captured 121.00 EUR more than was open: refund it to the payer"]
    made = refund(shop, payment_id, "back-1")
    assert made.json()["state"] == "succeeded" and made.json()["amount"] == "121.00"
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["status"] == "paid" and shown["paid"] == "121.00" and shown["refunded"] == "0.00"


def _answers(shop: Shop, rewrite: Any) -> None:
    """The acquirer's answers pass through `rewrite(request, response) -> response`."""
    import httpx

    from paylinks.acquirer import AcquirerClient
    from sandbox import ACQUIRER_KEY

    inner = shop.sandbox.transport

    class Rewriting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = inner.handle_request(request)
            response.read()
            return rewrite(request, response)

    shop.app.state.payments.acquirer = lambda: AcquirerClient(f"{shop.sandbox.url}/acquirer/v1", ACQUIRER_KEY,
                                                              transport=Rewriting())


def test_a_refund_whose_answer_is_lost_in_garbage_is_asked_again_never_made_twice(shop: Shop) -> None:
    import httpx

    _, path = approved(shop)
    payment_id = card_paid(shop, path)
    broken = {"left": 3}

    def garble(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/refunds") and broken["left"]:
            broken["left"] -= 1
            body = [b"<html>proxy</html>", b'{"id": "re_ZZ"', b"[" * 100_000 + b"]" * 100_000][broken["left"]]
            return httpx.Response(200, content=body)
        return response

    _answers(shop, garble)
    first = refund(shop, payment_id, "half", amount="50.00").json()
    assert first["state"] == "pending", first  # not known: not failed, not succeeded
    problem(refund(shop, payment_id, amount="71.01"), 409, "too_much")  # the 50.00 in flight counts
    refunds = shop.app.state.refunds
    for _ in range(2):
        assert refunds.follow(int(first["id"].removeprefix("re_"))).state == "pending"
    done = refunds.follow(int(first["id"].removeprefix("re_")))  # the acquirer answers properly at last
    assert done.state == "succeeded"
    at_acquirer = list(shop.sandbox.world.acquirer.payments.values())[0]
    assert at_acquirer.refunded_amount == 50  # asked four times, with one key: one refund
    assert fees(shop) == [("fee", 121), ("refund", -50)]


def test_a_refund_answer_about_another_amount_is_not_recorded(shop: Shop) -> None:
    import httpx
    import json as jsonlib

    _, path = approved(shop)
    payment_id = card_paid(shop, path)

    def other_amount(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/refunds") and response.status_code < 300:
            body = jsonlib.loads(response.content)
            body["amount"] = "99.00"
            return httpx.Response(response.status_code, json=body)
        return response

    _answers(shop, other_amount)
    made = refund(shop, payment_id, "r", amount="10.00").json()
    assert made["state"] == "pending"  # kept in flight, asked again later; nothing recorded as given back
    invoice = f"inv_{_payment(shop, payment_id).invoice_id}"
    assert shop.api.http.get(f"/v1/invoices/{invoice}", headers=shop.api.h()).json()["refunded"] == "0.00"
    assert _payment(shop, payment_id).refunded_minor == 0
    assert fees(shop) == [("fee", 121)]


def test_a_payout_booked_twice_is_recognised_once(shop: Shop) -> None:
    _, path = approved(shop)
    card_paid(shop, path)
    shop.sandbox.clock.advance(days=1)
    first = statement(shop)
    twice = first.replace(b"<AcctSvcrRef>", b"<AcctSvcrRef>AGAIN-")  # the bank booked the payout again
    with transaction(shop.factory) as s:
        import_statement(s, shop.merchant_id, first, options=ImportOptions())
    with transaction(shop.factory) as s:
        import_statement(s, shop.merchant_id, twice, options=ImportOptions())
    with transaction(shop.factory) as s:
        rows = list(s.scalars(select(BankTransaction).where(BankTransaction.amount_minor == 12100,
                                                             BankTransaction.credit_debit == "CRDT")))
    assert len(rows) == 2
    assert [r.match_status for r in rows].count("card_payout") == 1, [(r.match_status, r.reasons) for r in rows]
