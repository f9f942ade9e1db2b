"""Card payments through the sandbox acquirer's hosted form, their daily payout settling
them in the merchant's statement, and refunds (card and bank): full, partial, too much,
repeated, at once, and the fee following them to the cent."""

from __future__ import annotations

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
    problem(refund(shop, payment_id, amount="1.234"), 422, "validation_failed")
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
    assert outcome.back_to == f"{PUBLIC}/refunds/{body['id'].removeprefix('re_')}/returned"
    shop.sandbox.clock.advance(seconds=3)
    assert "accepted the refund" in shop.payer().get(f"/refunds/{body['id'].removeprefix('re_')}/returned").text
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
    pay(body["sca_url"], "veikals", tpp_prefix=PUBLIC, http=shop.sandbox.http, cancel=True)
    shop.payer().get(f"/refunds/{body['id'].removeprefix('re_')}/returned")
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
