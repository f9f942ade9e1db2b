"""What an attack round found at the edges of pay link money: a payment in flight that
no longer fits, credits that meet in one statement file, reversals and undone matches,
replaced links and odd amounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.db import transaction
from invoices.models import Invoice
from paylinks.models import PayerPayment
from reconciliation import review
from reconciliation.models import BankTransaction
from reconciliation.service import ImportOptions, import_statement
from tests.helpers import Pay, statement_xml
from tests.paylinks.conftest import PUBLIC, Shop
from tests.paylinks.test_pay_by_bank import approved, fees
from tests.psd2.payer import pay


def payments(shop: Shop) -> list[tuple[str, str | None, int]]:
    with transaction(shop.factory) as s:
        return [(p.state, p.bank_id, p.amount_minor) for p in s.scalars(select(PayerPayment).order_by(PayerPayment.id))]


def authorised(shop: Shop, path: str) -> str:
    """Pay through the link at Dzintara; the end-to-end id of the payment."""
    payer = shop.payer()
    sca = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    payer.get(f"{path}/return")
    shop.sandbox.clock.advance(seconds=3)
    assert "Thank you!" in payer.get(f"{path}/payment").text
    with transaction(shop.factory) as s:
        return [p.end_to_end_id for p in s.scalars(select(PayerPayment).order_by(PayerPayment.id.desc()))][0]


def invoice_row(shop: Shop, invoice: dict[str, Any]) -> Invoice:
    with transaction(shop.factory) as s:
        row = s.get(Invoice, int(invoice["id"].split("_")[1]))
        assert row is not None
        s.expunge(row)
        return row


def imported(shop: Shop, *pays: Pay, stmt: str = "S1") -> list[str]:
    with transaction(shop.factory) as s:
        report = import_statement(s, shop.merchant_id, statement_xml(list(pays), stmt_id=stmt, msg_id=f"M-{stmt}"),
                                  options=ImportOptions())
    return [line.decision for line in report.lines]


def test_a_payment_in_flight_for_an_invoice_cancelled_meanwhile_is_stopped(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    payer = shop.payer()
    first = payer.post(f"{path}/bank", data={"bank": "dzintars"})
    assert first.status_code == 303
    assert shop.api.http.post(f"/v1/invoices/{invoice['id']}/cancel", headers=shop.api.h()).status_code == 200
    again = payer.post(f"{path}/bank", data={"bank": "dzintars"})
    assert again.status_code == 409 and "This invoice was cancelled" in again.text
    assert payments(shop) == [("cancelled", "dzintars", 12100)]
    outcome = pay(first.headers["location"], "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    assert outcome.back_to is None  # the bank cancelled it: nobody can authorise it any more
    assert fees(shop) == []


def test_another_bank_replaces_the_payment_in_flight(shop: Shop) -> None:
    _, path = approved(shop, "en")
    payer = shop.payer()
    first = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    second = payer.post(f"{path}/bank", data={"bank": "gintaro"})
    assert second.status_code == 303 and second.headers["location"] != first
    assert payments(shop) == [("cancelled", "dzintars", 12100), ("awaiting_sca", "gintaro", 12100)]


def test_a_dead_bank_page_is_not_handed_out_again(shop: Shop) -> None:
    _, path = approved(shop, "en")
    payer = shop.payer()
    first = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    shop.sandbox.clock.advance(days=2)  # the bank's SCA timed out: it rejected the payment
    again = payer.post(f"{path}/bank", data={"bank": "dzintars"})
    assert again.status_code == 303 and again.headers["location"] != first
    assert [p[0] for p in payments(shop)] == ["failed", "awaiting_sca"]


def test_an_ordinary_credit_before_the_pay_link_credit_in_one_file(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    e2e = authorised(shop, path)
    rf = invoice["rf_reference"]
    decisions = imported(shop, Pay("121.00", "SIA Klients", rf=rf), Pay("121.00", "Alise Ozola", rf=rf, e2e=e2e))
    assert decisions[1] == "applied"  # the pay link payment is certain and goes first
    row = invoice_row(shop, invoice)
    assert row.status == "paid" and row.pending_minor == 0
    assert payments(shop)[0][0] == "settled" and fees(shop) == [("fee", 121)]


def test_the_same_end_to_end_id_twice_in_one_file_settles_once(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    e2e = authorised(shop, path)
    imported(shop, Pay("121.00", "Alise Ozola", e2e=e2e), Pay("121.00", "Alise Ozola", e2e=e2e))
    row = invoice_row(shop, invoice)
    assert row.paid_minor == 12100 and row.pending_minor == 0 and payments(shop)[0][0] == "settled"
    assert fees(shop) == [("fee", 121)]


def test_a_different_amount_with_our_end_to_end_id_still_settles_the_payment(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    e2e = authorised(shop, path)
    imported(shop, Pay("100.00", "Alise Ozola", e2e=e2e))
    row = invoice_row(shop, invoice)
    assert row.status == "partially_paid" and row.paid_minor == 10000 and row.pending_minor == 0
    assert payments(shop)[0][0] == "settled"
    assert "Still due" in shop.payer().get(path).text  # the 21.00 missing can be paid


def test_a_reversal_fails_the_payment_and_returns_the_fee(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    e2e = authorised(shop, path)
    imported(shop, Pay("121.00", "Alise Ozola", e2e=e2e, ref="R1"))
    imported(shop, Pay("121.00", "Alise Ozola", e2e=e2e, side="DBIT", reversal=True, ref="R2"), stmt="S2")
    assert invoice_row(shop, invoice).status == "issued"
    assert payments(shop)[0][0] == "failed" and fees(shop) == [("fee", 121), ("reversal", -121)]


def test_undoing_the_match_of_a_pay_link_credit_makes_it_pending_again(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    e2e = authorised(shop, path)
    imported(shop, Pay("121.00", "Alise Ozola", e2e=e2e))
    with transaction(shop.factory) as s:
        tx = s.scalar(select(BankTransaction.id).where(BankTransaction.end_to_end_id == e2e))
        assert tx is not None
        review.undo(s, shop.merchant_id, tx)
    row = invoice_row(shop, invoice)
    assert row.status == "issued" and row.pending_minor == 12100
    assert payments(shop)[0][0] == "authorised" and fees(shop) == [("fee", 121)]


def test_a_replaced_link_tells_nothing_of_the_new_ones_payments(shop: Shop) -> None:
    invoice, old = approved(shop, "en")
    new = shop.api.http.post(f"/v1/invoices/{invoice['id']}/pay-link", headers=shop.api.h()).json()["pay_url"]
    authorised(shop, "/" + new.split("/", 3)[3])
    answer = shop.payer().get(f"{old}/payment")
    assert answer.status_code == 303 and "KV" not in answer.text


def test_odd_paths_amounts_and_months(shop: Shop) -> None:
    _, path = approved(shop, "en")
    payer = shop.payer()
    assert payer.get(f"{path}/").status_code == 404  # no redirect built from the Host header
    with transaction(shop.factory) as s:
        from core.models import Merchant

        row = s.get(Merchant, shop.merchant_id)
        assert row is not None
        row.partial_payments = True
    for bad in ("sNaN", "-sNaN", "1e999999999", "１２", "1_0", "1,000.00", "12.345"):
        r = payer.post(f"{path}/bank", data={"bank": "dzintars", "amount": bad})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), (bad, r.status_code)
    r = payer.post(f"{path}/bank", data={})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert shop.api.http.get("/v1/fee-statements/%20%202026-12", headers=shop.api.h()).status_code == 404
    assert shop.api.http.get("/v1/payments/pay_01", headers=shop.api.h()).status_code == 404
