"""The sandbox's card acquirer as a merchant platform and a payer meet it: the JSON API
(keys, validation, idempotency, capture, cancel, refunds), the hosted card form with its
test cards and 3-D Secure, expiry on the world clock, and payouts booked on the
merchant's account and read back from the camt.053 with kvits' own reader."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

import camt
from sandbox import ACQUIRER_KEY, TEST_CARDS
from sandbox.acquirer import ACQUIRER_IBAN, ACQUIRER_NAME, card_brand, with_payment
from tests.psd2.conftest import Sandbox

AUTH = {"Authorization": f"Bearer {ACQUIRER_KEY}"}
RETURN = "https://shop.example/pay/back?invoice=7"
API = "/acquirer/v1"
THREE_DS = "4000000000003220"


def order(sandbox: Sandbox, **change: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "amount": "12.34", "currency": "EUR", "reference": "INV-2026-0042",
        "description": "Invoice INV-2026-0042: 2 chairs", "payout_iban": sandbox.account("veikals", "dzintars").iban,
        "payout_name": "SIA Piemera Veikals", "return_url": RETURN,
    }
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def post(sandbox: Sandbox, path: str, json: Any = None, key: str | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {**AUTH, **({"Idempotency-Key": key} if key else {}), **(headers or {})}
    return sandbox.http.post(API + path, json=json, headers=sent)


def create(sandbox: Sandbox, key: str | None = None, **change: Any) -> dict[str, Any]:
    r = post(sandbox, "/payments", order(sandbox, **change), key or str(uuid.uuid4()))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def get(sandbox: Sandbox, payment_id: str) -> dict[str, Any]:
    r = sandbox.http.get(f"{API}/payments/{payment_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def pay(sandbox: Sandbox, payment: dict[str, Any], number: str, expiry: str = "12/29", cvc: str = "123",
        name: str = "Alise Ozola") -> httpx.Response:
    """The payer opens the form and sends the card; the 303 is the test's to follow."""
    path = f"/acquirer/pay/{payment['id']}"
    page = sandbox.http.get(path)
    assert page.status_code == 200 and 'name="card_number"' in page.text
    return sandbox.http.post(path, data={"card_number": number, "expiry": expiry, "cvc": cvc, "name": name,
                                         "form_token": form_token(page)}, follow_redirects=False)


def back_to_shop(r: httpx.Response, payment_id: str) -> None:
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{RETURN}&acquirer_payment={payment_id}"


def authorised(sandbox: Sandbox, **change: Any) -> dict[str, Any]:
    payment = create(sandbox, **change)
    back_to_shop(pay(sandbox, payment, "4242424242424242"), payment["id"])
    return get(sandbox, payment["id"])


def captured(sandbox: Sandbox, amount: str = "12.34", **change: Any) -> dict[str, Any]:
    payment = authorised(sandbox, amount=amount, **change)
    r = post(sandbox, f"/payments/{payment['id']}/capture", {})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def refund(sandbox: Sandbox, payment_id: str, amount: str, key: str | None = None) -> httpx.Response:
    return post(sandbox, f"/payments/{payment_id}/refunds", {"amount": amount}, key or str(uuid.uuid4()))


def challenge(sandbox: Sandbox) -> tuple[dict[str, Any], str]:
    """A payment at its 3-D Secure page; returns it and the page's form token."""
    payment = create(sandbox)
    r = pay(sandbox, payment, THREE_DS)
    assert r.status_code == 303 and r.headers["location"] == f"/acquirer/pay/{payment['id']}/3ds"
    assert get(sandbox, payment["id"])["status"] == "requires_action"
    page = sandbox.http.get(r.headers["location"])
    assert page.status_code == 200 and "Your bank confirms it is you" in page.text
    assert 'value="confirm"' in page.text and 'value="cancel"' in page.text
    return payment, form_token(page)


def send_code(sandbox: Sandbox, payment: dict[str, Any], token: str, code: str = "",
              action: str = "confirm") -> httpx.Response:
    return sandbox.http.post(f"/acquirer/pay/{payment['id']}/3ds", follow_redirects=False,
                             data={"code": code, "action": action, "form_token": token})


def statement(sandbox: Sandbox, start: str, end: str) -> Any:
    iban = sandbox.account("veikals", "dzintars").iban
    r = sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{iban}/statement", params={"from": start, "to": end})
    assert r.status_code == 200, r.text
    document = camt.read(io.BytesIO(r.content))
    return document.statements[0]


def from_acquirer(entries: Any) -> list[Any]:
    def party(e: Any) -> Any:
        tx = e.transactions[0]
        return tx.debtor if e.credit_debit == "CRDT" else tx.creditor

    return [e for e in entries if party(e) is not None and party(e).name == ACQUIRER_NAME]


# -- the API's door ----------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk_sandbox_other"},
                                     {"Authorization": f"Basic {ACQUIRER_KEY}"}, {"Authorization": "Bearer "}])
def test_the_api_needs_the_secret_key(sandbox: Sandbox, headers: dict[str, str]) -> None:
    r = sandbox.http.post(f"{API}/payments", json=order(sandbox), headers={"Idempotency-Key": "k1", **headers})
    assert "Authorization" in error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert not sandbox.world.acquirer.payments
    assert error(sandbox.http.get(f"{API}/payments/acq_{'0' * 24}", headers=headers), 401, "unauthorized")


def test_a_new_payment_is_shown_back(sandbox: Sandbox) -> None:
    payment = create(sandbox)
    assert re.fullmatch(r"acq_[0-9a-f]{24}", payment["id"])
    assert payment == {
        "id": payment["id"], "status": "requires_payment_method", "amount": "12.34", "currency": "EUR",
        "reference": "INV-2026-0042", "description": "Invoice INV-2026-0042: 2 chairs",
        "captured_amount": "0.00", "refunded_amount": "0.00", "decline_code": None, "decline_message": None,
        "card": None, "form_url": f"http://127.0.0.1/acquirer/pay/{payment['id']}", "payout": None,
        "created_at": "2026-12-03T08:00:00+00:00", "authorised_at": None, "captured_at": None,
    }
    assert get(sandbox, payment["id"]) == payment
    assert "no payment" in error(sandbox.http.get(f"{API}/payments/acq_{'0' * 24}", headers=AUTH), 404, "not_found")
    assert create(sandbox, amount="7.5")["amount"] == "7.50"
    assert create(sandbox, payout_iban="lv21 dzin 0000 0000 0000 6")["id"]  # written as people do


@pytest.mark.parametrize("change, code, words", [
    ({"amount": "12.345"}, "invalid_request", "more than 2 decimals"),
    ({"amount": 12.34}, "invalid_request", "amount must be a string"),
    ({"amount": "0.00"}, "invalid_request", "above zero"),
    ({"amount": "-5.00"}, "invalid_request", "above zero"),
    ({"amount": "1000000000.00"}, "invalid_request", "largest amount"),
    ({"amount": "12,34"}, "invalid_request", "not an amount"),
    ({"amount": "1e3"}, "invalid_request", "not an amount"),
    ({"amount": None}, "invalid_request", "amount is required"),
    ({"currency": "USD"}, "unsupported_currency", "USD is not offered"),
    ({"currency": "eur"}, "invalid_request", "currency"),
    ({"reference": "R" * 36}, "invalid_request", "reference is 36 characters long"),
    ({"reference": None}, "invalid_request", "reference is required"),
    ({"reference": "  "}, "invalid_request", "reference must not be blank"),
    ({"reference": "INV\u202e42"}, "invalid_request", "reference contains control or invisible"),
    ({"description": "d" * 141}, "invalid_request", "description is 141 characters long"),
    ({"description": 7}, "invalid_request", "description must be a string"),
    ({"payout_iban": "LV00DZIN0000000000006"}, "invalid_request", "payout_iban 'LV00DZIN0000000000006' is not a valid IBAN"),
    ({"payout_iban": None}, "invalid_request", "payout_iban is required"),
    ({"payout_name": "N" * 71}, "invalid_request", "payout_name is 71 characters long"),
    ({"payout_name": ""}, "invalid_request", "payout_name must not be blank"),
    ({"return_url": "ftp://shop.example/back"}, "invalid_request", "return_url must be an http or https"),
    ({"return_url": "javascript:alert(1)"}, "invalid_request", "return_url"),
    ({"return_url": "https://user:pw@shop.example/"}, "invalid_request", "without user"),
    ({"return_url": "https://shop.example/" + "a" * 2000}, "invalid_request", "return_url"),
    ({"return_url": "https://shop.example/a b"}, "invalid_request", "return_url"),
    ({"card_number": "4242424242424242"}, "invalid_request", "unknown field card_number"),
])
def test_payment_bodies_are_checked_field_by_field(sandbox: Sandbox, change: dict[str, Any], code: str,
                                                   words: str) -> None:
    r = post(sandbox, "/payments", order(sandbox, **change), "key-1")
    assert words in error(r, 400, code)
    assert not sandbox.world.acquirer.payments
    assert post(sandbox, "/payments", order(sandbox), "key-1").status_code == 201  # the key was not spent


@pytest.mark.parametrize("content, content_type, words", [
    (b"", "application/json", "body is empty"),
    (b"[1, 2]", "application/json", "JSON object"),
    (b"{\"amount\": ", "application/json", "not valid JSON"),
    (b"{\"amount\": NaN}", "application/json", "not valid JSON"),
    (b"{\"amount\": \"1.00\", \"amount\": \"2.00\"}", "application/json", "appears twice"),
    (b"amount=12.34", "application/x-www-form-urlencoded", "application/json"),
])
def test_bodies_must_be_strict_json(sandbox: Sandbox, content: bytes, content_type: str, words: str) -> None:
    r = sandbox.http.post(f"{API}/payments", content=content,
                          headers={**AUTH, "Idempotency-Key": "k", "Content-Type": content_type})
    assert words in error(r, 400, "invalid_request")


def test_the_idempotency_key_is_required_and_checked(sandbox: Sandbox) -> None:
    r = post(sandbox, "/payments", order(sandbox))
    assert "Idempotency-Key" in error(r, 400, "idempotency_key_missing")
    r = post(sandbox, "/payments", order(sandbox), "k" * 256)
    assert "1 to 255" in error(r, 400, "invalid_request")
    assert post(sandbox, "/payments", order(sandbox), "k" * 255).status_code == 201


def test_creating_again_with_the_same_key_finds_the_first_payment(sandbox: Sandbox) -> None:
    first = post(sandbox, "/payments", order(sandbox), "order-42")
    again = post(sandbox, "/payments", order(sandbox), "order-42")
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = post(sandbox, "/payments", order(sandbox, amount="99.00"), "order-42")
    assert "used before" in error(other, 409, "idempotency_key_reused")
    assert len(sandbox.world.acquirer.payments) == 1
    assert post(sandbox, "/payments", order(sandbox), "order-43").json()["id"] != first.json()["id"]


# -- the hosted card form --------------------------------------------------------------------
@pytest.mark.parametrize("number, status, decline_code, brand", [
    ("4242424242424242", "authorised", None, "visa"),
    ("5555555555554444", "authorised", None, "mastercard"),
    ("4000000000000002", "declined", "card_declined", "visa"),
    ("4000000000009995", "declined", "insufficient_funds", "visa"),
    ("4000000000000069", "declined", "expired_card", "visa"),
    ("4111111111111111", "authorised", None, "visa"),  # any other valid number
    ("378282246310005", "authorised", None, "amex"),
])
def test_each_test_card_through_the_form(sandbox: Sandbox, number: str, status: str, decline_code: str | None,
                                         brand: str) -> None:
    payment = create(sandbox)
    page = sandbox.http.get(f"/acquirer/pay/{payment['id']}")
    assert "SIA Piemera Veikals" in page.text and "Invoice INV-2026-0042: 2 chairs" in page.text
    assert "12.34 EUR" in page.text
    assert all(" ".join(n[i:i + 4] for i in range(0, len(n), 4)) in page.text for n, _, _ in TEST_CARDS)
    sandbox.clock.advance(minutes=3)
    back_to_shop(pay(sandbox, payment, number[:4] + " " + number[4:8] + "-" + number[8:]), payment["id"])
    now = get(sandbox, payment["id"])
    assert now["status"] == status and now["decline_code"] == decline_code
    assert now["card"] == {"brand": brand, "last4": number[-4:]}
    assert (now["decline_message"] is None) == (decline_code is None)
    assert now["authorised_at"] == ("2026-12-03T08:03:00+00:00" if status == "authorised" else None)
    assert number not in repr(sandbox.world.acquirer.payments[payment["id"]])


def test_the_test_cards_are_what_the_form_lists() -> None:
    assert [(n, outcome) for n, outcome, _ in TEST_CARDS] == [
        ("4242424242424242", "authorised"), ("5555555555554444", "authorised"),
        ("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"), ("4000000000003220", "requires_action")]
    assert [card_brand(n) for n, _, _ in TEST_CARDS[:2]] == ["visa", "mastercard"]


@pytest.mark.parametrize("fields, field, words", [
    ({"card_number": "4242 4242 4243"}, "card_number", "not valid"),  # 12 digits, Luhn fails
    ({"card_number": "42424242424"}, "card_number", "12 to 19 digits"),
    ({"card_number": "42424242424242424242"}, "card_number", "12 to 19 digits"),
    ({"card_number": "4242abcd42424242"}, "card_number", "12 to 19 digits"),
    ({"card_number": "4242424242424241"}, "card_number", "not valid"),
    ({"expiry": "1229"}, "expiry", "MM/YY"),
    ({"expiry": "13/29"}, "expiry", "MM/YY"),
    ({"expiry": "11/26"}, "expiry", "has passed"),  # the world's today is 3 December 2026
    ({"cvc": "12"}, "cvc", "3 or 4 digits"),
    ({"cvc": "12a"}, "cvc", "3 or 4 digits"),
    ({"name": "   "}, "name", "name on the card"),
])
def test_a_wrong_card_field_shows_the_form_again(sandbox: Sandbox, fields: dict[str, str], field: str,
                                                 words: str) -> None:
    payment = create(sandbox)
    path = f"/acquirer/pay/{payment['id']}"
    sent = {"card_number": "4111111111111111", "expiry": "12/26", "cvc": "9753", "name": "Alise Ozola",
            "form_token": form_token(sandbox.http.get(path)), **fields}
    r = sandbox.http.post(path, data=sent, follow_redirects=False)
    assert r.status_code == 422 and words in r.text
    assert f'id="{field}"' in r.text and 'aria-invalid="true"' in r.text and 'role="alert"' in r.text
    assert 'name="card_number"' in r.text  # the form again, the card number not written back
    assert "4111111111111111" not in r.text and "4111 1111 1111 1111" not in r.text and 'value="9753"' not in r.text
    assert get(sandbox, payment["id"])["status"] == "requires_payment_method"


def test_the_form_needs_its_token(sandbox: Sandbox) -> None:
    payment = create(sandbox)
    r = sandbox.http.post(f"/acquirer/pay/{payment['id']}", follow_redirects=False, data={
        "card_number": "4242424242424242", "expiry": "12/29", "cvc": "123", "name": "A", "form_token": "forged"})
    assert r.status_code == 403 and get(sandbox, payment["id"])["status"] == "requires_payment_method"
    assert sandbox.http.get("/acquirer/pay/acq_nothing").status_code == 404


def test_the_pages_carry_the_bank_pages_headers(sandbox: Sandbox) -> None:
    payment = create(sandbox)
    page = sandbox.http.get(f"/acquirer/pay/{payment['id']}")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["x-content-type-options"] == "nosniff"
    assert '<label for="card_number">' in page.text and 'name="viewport"' in page.text
    plain = create(sandbox, return_url="http://shop.lan:8000/back")
    csp = sandbox.http.get(f"/acquirer/pay/{plain['id']}").headers["content-security-policy"]
    assert "form-action 'self' http://shop.lan:8000 " in csp  # the redirect after the post must be allowed


def test_a_decided_form_is_never_shown_again(sandbox: Sandbox) -> None:
    payment = authorised(sandbox)
    path = f"/acquirer/pay/{payment['id']}"
    page = sandbox.http.get(path)
    assert page.status_code == 200 and 'name="card_number"' not in page.text and "paid by card already" in page.text
    assert f'href="{RETURN}&amp;acquirer_payment={payment["id"]}"' in page.text
    again = sandbox.http.post(path, follow_redirects=False, data={
        "card_number": "4000000000000002", "expiry": "12/29", "cvc": "123", "name": "A", "form_token": "x"})
    assert again.status_code == 409 and 'name="card_number"' not in again.text
    assert get(sandbox, payment["id"]) == payment
    declined = create(sandbox)
    pay(sandbox, declined, "4000000000000002")
    assert "declined" in sandbox.http.get(f"/acquirer/pay/{declined['id']}").text


# -- 3-D Secure ----------------------------------------------------------------------------
def test_3ds_with_the_right_code_authorises(sandbox: Sandbox) -> None:
    payment, token = challenge(sandbox)
    assert sandbox.http.get(f"/acquirer/pay/{payment['id']}", follow_redirects=False).status_code == 303
    back_to_shop(send_code(sandbox, payment, token, "123456"), payment["id"])
    now = get(sandbox, payment["id"])
    assert now["status"] == "authorised" and now["card"] == {"brand": "visa", "last4": "3220"}
    assert now["decline_code"] is None
    assert "paid by card already" in sandbox.http.get(f"/acquirer/pay/{payment['id']}/3ds").text


def test_3ds_three_wrong_codes_decline(sandbox: Sandbox) -> None:
    payment, token = challenge(sandbox)
    first = send_code(sandbox, payment, token, "000000")
    assert first.status_code == 400 and "2 tries left" in first.text
    assert send_code(sandbox, payment, token, "111111").status_code == 400
    back_to_shop(send_code(sandbox, payment, token, "222222"), payment["id"])
    now = get(sandbox, payment["id"])
    assert now["status"] == "declined" and now["decline_code"] == "authentication_failed"
    assert send_code(sandbox, payment, token, "123456").status_code == 409  # too late for the right one


def test_3ds_cancel_declines(sandbox: Sandbox) -> None:
    payment, token = challenge(sandbox)
    assert send_code(sandbox, payment, "forged", action="cancel").status_code == 403
    back_to_shop(send_code(sandbox, payment, token, action="cancel"), payment["id"])
    now = get(sandbox, payment["id"])
    assert now["status"] == "declined" and now["decline_code"] == "authentication_failed"
    assert "cancelled" in now["decline_message"]


# -- capture, cancel, refunds -----------------------------------------------------------------
def test_capture_all_again_and_in_part(sandbox: Sandbox) -> None:
    payment = authorised(sandbox)
    r = post(sandbox, f"/payments/{payment['id']}/capture")  # no body: all of it
    assert r.status_code == 200
    done = r.json()
    assert done["status"] == "captured" and done["captured_amount"] == "12.34"
    assert done["captured_at"] == "2026-12-03T08:00:00+00:00"
    assert re.fullmatch(r"po_[0-9a-f]{24}", done["payout"]["id"]) and done["payout"]["date"] == "2026-12-03"
    sandbox.clock.advance(minutes=5)
    again = post(sandbox, f"/payments/{payment['id']}/capture", {"amount": "1.00"})
    assert again.status_code == 200 and again.json() == done

    part = authorised(sandbox, amount="20.00")
    too_much = post(sandbox, f"/payments/{part['id']}/capture", {"amount": "20.01"})
    assert "20.00" in error(too_much, 409, "amount_too_large")
    assert "amount" in error(post(sandbox, f"/payments/{part['id']}/capture", {"amount": "5"}
                                  | {"extra": 1}), 400, "invalid_request")
    r = post(sandbox, f"/payments/{part['id']}/capture", {"amount": "5"})
    assert r.json()["status"] == "captured" and r.json()["captured_amount"] == "5.00"
    assert r.json()["payout"] == done["payout"]  # the same day's payout


def test_only_an_authorised_payment_is_captured(sandbox: Sandbox) -> None:
    new = create(sandbox)
    assert "requires_payment_method" in error(post(sandbox, f"/payments/{new['id']}/capture", {}), 409, "not_capturable")
    declined = create(sandbox)
    pay(sandbox, declined, "4000000000000002")
    error(post(sandbox, f"/payments/{declined['id']}/capture", {}), 409, "not_capturable")
    refunded = captured(sandbox)
    assert refund(sandbox, refunded["id"], "12.34").status_code == 201
    error(post(sandbox, f"/payments/{refunded['id']}/capture", {}), 409, "not_capturable")
    error(post(sandbox, f"/payments/acq_{'0' * 24}/capture", {}), 404, "not_found")


def test_cancel(sandbox: Sandbox) -> None:
    new = create(sandbox)
    r = post(sandbox, f"/payments/{new['id']}/cancel", {})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert post(sandbox, f"/payments/{new['id']}/cancel").json() == r.json()  # again: unchanged
    page = sandbox.http.get(f"/acquirer/pay/{new['id']}")
    assert "cancelled" in page.text and 'name="card_number"' not in page.text
    payment = authorised(sandbox)
    assert post(sandbox, f"/payments/{payment['id']}/cancel", {}).json()["status"] == "cancelled"
    error(post(sandbox, f"/payments/{payment['id']}/capture", {}), 409, "not_capturable")
    waiting, _ = challenge(sandbox)
    assert post(sandbox, f"/payments/{waiting['id']}/cancel", {}).json()["status"] == "cancelled"
    assert "refund" in error(post(sandbox, f"/payments/{captured(sandbox)['id']}/cancel", {}), 409, "not_cancellable")
    declined = create(sandbox)
    pay(sandbox, declined, "4000000000009995")
    error(post(sandbox, f"/payments/{declined['id']}/cancel", {}), 409, "not_cancellable")
    error(post(sandbox, f"/payments/{declined['id']}/cancel", {"reason": "x"}), 400, "invalid_request")


def test_refunds_full_partial_and_too_much(sandbox: Sandbox) -> None:
    whole = captured(sandbox)
    r = refund(sandbox, whole["id"], "12.34")
    assert r.status_code == 201
    made = r.json()
    assert re.fullmatch(r"re_[0-9a-f]{24}", made["id"])
    assert made == {"id": made["id"], "payment": whole["id"], "amount": "12.34", "currency": "EUR",
                    "status": "succeeded", "created_at": "2026-12-03T08:00:00+00:00",
                    "payout": {"id": whole["payout"]["id"], "date": "2026-12-03"}}  # netted in the day's payout
    now = get(sandbox, whole["id"])
    assert now["status"] == "refunded" and now["refunded_amount"] == "12.34" and now["captured_amount"] == "12.34"
    assert "0.00" in error(refund(sandbox, whole["id"], "0.01"), 409, "amount_too_large")

    part = captured(sandbox, amount="50.00")
    assert refund(sandbox, part["id"], "10.00").status_code == 201
    assert get(sandbox, part["id"])["status"] == "partially_refunded"
    assert refund(sandbox, part["id"], "15.50").status_code == 201
    now = get(sandbox, part["id"])
    assert now["status"] == "partially_refunded" and now["refunded_amount"] == "25.50"
    assert "24.50 EUR still refundable" in error(refund(sandbox, part["id"], "24.51"), 409, "amount_too_large")
    assert refund(sandbox, part["id"], "24.50").status_code == 201
    assert get(sandbox, part["id"])["status"] == "refunded"


def test_refunds_are_idempotent_and_need_a_captured_payment(sandbox: Sandbox) -> None:
    payment = captured(sandbox, amount="30.00")
    first = refund(sandbox, payment["id"], "10.00", key="refund-1")
    again = refund(sandbox, payment["id"], "10.00", key="refund-1")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert get(sandbox, payment["id"])["refunded_amount"] == "10.00"
    error(refund(sandbox, payment["id"], "11.00", key="refund-1"), 409, "idempotency_key_reused")
    other = captured(sandbox)
    error(refund(sandbox, other["id"], "10.00", key="refund-1"), 409, "idempotency_key_reused")
    error(post(sandbox, f"/payments/{payment['id']}/refunds", {"amount": "1.00"}), 400, "idempotency_key_missing")
    error(post(sandbox, f"/payments/{payment['id']}/refunds", {}, "k2"), 400, "invalid_request")
    error(refund(sandbox, payment["id"], "1.001"), 400, "invalid_request")

    full = captured(sandbox)
    assert refund(sandbox, full["id"], "12.34", key="refund-all").status_code == 201
    assert refund(sandbox, full["id"], "12.34", key="refund-all").status_code == 200  # found, not too much

    new = authorised(sandbox)
    assert "captured" in error(refund(sandbox, new["id"], "1.00"), 409, "not_refundable")
    error(refund(sandbox, create(sandbox)["id"], "1.00"), 409, "not_refundable")
    error(refund(sandbox, f"acq_{'0' * 24}", "1.00"), 404, "not_found")


# -- time ----------------------------------------------------------------------------------
def test_a_payment_not_paid_in_30_minutes_expires(sandbox: Sandbox) -> None:
    payment = create(sandbox)
    waiting, _ = challenge(sandbox)
    sandbox.clock.advance(minutes=29, seconds=59)
    assert get(sandbox, payment["id"])["status"] == "requires_payment_method"
    sandbox.clock.advance(seconds=1)
    for which in (payment, waiting):
        now = get(sandbox, which["id"])
        assert now["status"] == "expired" and now["decline_code"] == "expired" and now["decline_message"]
    page = sandbox.http.get(f"/acquirer/pay/{payment['id']}")
    assert "expired" in page.text and 'name="card_number"' not in page.text
    assert "expired" in sandbox.http.get(f"/acquirer/pay/{waiting['id']}/3ds").text
    error(post(sandbox, f"/payments/{payment['id']}/capture", {}), 409, "not_capturable")
    error(post(sandbox, f"/payments/{payment['id']}/cancel", {}), 409, "not_cancellable")
    paid = authorised(sandbox)
    sandbox.clock.advance(hours=5)
    assert get(sandbox, paid["id"])["status"] == "authorised"  # an authorisation waits for its capture


def test_a_day_of_captures_and_refunds_is_one_entry_on_the_statement(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    one = captured(sandbox, amount="100.00", reference="INV-1")
    two = captured(sandbox, amount="25.50", reference="INV-2")
    assert refund(sandbox, one["id"], "10.00").status_code == 201
    payout_id = one["payout"]["id"]
    assert two["payout"] == one["payout"] == {"id": payout_id, "date": "2026-12-03"}
    r = sandbox.http.get(f"{API}/payouts/{payout_id}", headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {
        "id": payout_id, "date": "2026-12-03", "payout_iban": shop.iban, "currency": "EUR", "amount": "115.50",
        "count": 3, "status": "scheduled", "paid_on": None, "items": [
            {"type": "capture", "payment": one["id"], "reference": "INV-1", "amount": "100.00"},
            {"type": "capture", "payment": two["id"], "reference": "INV-2", "amount": "25.50"},
            {"type": "refund", "payment": one["id"], "reference": "INV-1", "amount": "-10.00"}]}
    before = shop.balance()

    sandbox.clock.advance(days=1)
    paid = sandbox.http.get(f"{API}/payouts/{payout_id}", headers=AUTH).json()
    assert paid["status"] == "paid" and paid["paid_on"] == "2026-12-04"
    listed = sandbox.http.get(f"{API}/payouts", headers=AUTH, params={"date": "2026-12-03", "payout_iban": shop.iban})
    assert listed.status_code == 200 and listed.json() == [paid]
    assert sandbox.http.get(f"{API}/payouts", headers=AUTH, params={"date": "2026-12-04"}).json() == []

    found = statement(sandbox, "2026-12-01", "2026-12-04")
    assert found.balance_check is not None and found.balance_check.status == "ok"
    ours = from_acquirer(found.entries)
    assert len(ours) == 1
    entry = ours[0]
    tx = entry.transactions[0]
    assert entry.amount == Decimal("115.50") and entry.credit_debit == "CRDT" and entry.status == "BOOK"
    assert entry.booking_date == entry.value_date == date(2026, 12, 4)
    assert tx.references.end_to_end_id == payout_id and entry.account_servicer_reference
    assert entry.batch_count == 3 and tx.amount == entry.amount and tx.credit_debit == "CRDT"
    assert tx.debtor is not None and tx.debtor.iban == ACQUIRER_IBAN
    assert tx.remittance_unstructured == (f"Card payout {payout_id} 2026-12-03 3 payments",)
    assert entry.additional_info == "Card payments settlement batch"
    assert entry.bank_transaction_code is not None and entry.bank_transaction_code.family == "MCRD"
    assert not found.batch_problems
    assert [b.amount for b in shop.bookings if b.end_to_end_id == payout_id] == [Decimal("115.50")]
    assert shop.balance() - before >= Decimal("115.50")  # and Thursday's other traffic, booked once it ended


def test_a_friday_capture_is_paid_out_on_monday(sandbox: Sandbox) -> None:
    sandbox.clock.advance(days=1)  # Friday 4 December
    payment = captured(sandbox, amount="40.00")
    payout_id = payment["payout"]["id"]
    assert payment["payout"]["date"] == "2026-12-04"
    sandbox.clock.advance(days=1)  # Saturday
    assert sandbox.http.get(f"{API}/payouts/{payout_id}", headers=AUTH).json()["status"] == "scheduled"
    sandbox.clock.advance(days=1)  # Sunday
    assert sandbox.http.get(f"{API}/payouts/{payout_id}", headers=AUTH).json()["status"] == "scheduled"
    sandbox.clock.advance(days=1)  # Monday 7 December
    paid = sandbox.http.get(f"{API}/payouts/{payout_id}", headers=AUTH).json()
    assert paid["status"] == "paid" and paid["paid_on"] == "2026-12-07"
    ours = from_acquirer(statement(sandbox, "2026-12-04", "2026-12-07").entries)
    assert [(e.booking_date, e.amount, e.transactions[0].references.end_to_end_id) for e in ours] == [
        (date(2026, 12, 7), Decimal("40.00"), payout_id)]


def test_a_day_of_more_refunds_than_captures_is_debited_and_a_zero_day_is_not_booked(sandbox: Sandbox) -> None:
    big = captured(sandbox, amount="80.00")
    zero = captured(sandbox, amount="5.00", payout_iban=sandbox.account("veikals", "kalevi").iban)
    assert refund(sandbox, zero["id"], "5.00").status_code == 201  # the Kalevi account's day nets to 0
    sandbox.clock.advance(days=1)
    assert refund(sandbox, big["id"], "30.00").status_code == 201
    friday = sandbox.http.get(f"{API}/payouts", headers=AUTH, params={"date": "2026-12-04"}).json()
    assert [p["amount"] for p in friday] == ["-30.00"]
    sandbox.clock.advance(days=3)
    ours = from_acquirer(statement(sandbox, "2026-12-04", "2026-12-07").entries)
    assert [(e.booking_date, e.credit_debit, e.amount) for e in ours] == [
        (date(2026, 12, 4), "CRDT", Decimal("80.00")), (date(2026, 12, 7), "DBIT", Decimal("30.00"))]
    assert ours[1].transactions[0].creditor.name == ACQUIRER_NAME
    kalevi = sandbox.account("veikals", "kalevi")
    assert not [b for b in kalevi.bookings if b.counterparty_name == ACQUIRER_NAME]
    paid = sandbox.http.get(f"{API}/payouts/{zero['payout']['id']}", headers=AUTH).json()
    assert paid["status"] == "paid" and paid["amount"] == "0.00" and paid["count"] == 2


def test_a_payout_to_another_bank_is_paid_without_a_sandbox_booking(sandbox: Sandbox) -> None:
    payment = captured(sandbox, payout_iban="LV80BANK0000435195001")
    sandbox.clock.advance(days=1)
    paid = sandbox.http.get(f"{API}/payouts/{payment['payout']['id']}", headers=AUTH).json()
    assert paid["status"] == "paid" and paid["payout_iban"] == "LV80BANK0000435195001"
    assert not [b for a in sandbox.world.accounts.values() for b in a.bookings if b.counterparty_name == ACQUIRER_NAME]


def test_payout_queries_are_checked(sandbox: Sandbox) -> None:
    error(sandbox.http.get(f"{API}/payouts/po_{'0' * 24}", headers=AUTH), 404, "not_found")
    error(sandbox.http.get(f"{API}/payouts", headers=AUTH, params={"date": "3.12.2026"}), 400, "invalid_request")
    error(sandbox.http.get(f"{API}/payouts", headers=AUTH, params={"payout_iban": "LV00"}), 400, "invalid_request")
    error(sandbox.http.get(f"{API}/payouts", headers=AUTH, params={"day": "2026-12-03"}), 400, "invalid_request")
    assert sandbox.http.get(f"{API}/payouts", headers=AUTH).json() == []


# -- around it -----------------------------------------------------------------------------
def test_unknown_api_addresses_answer_in_the_acquirer_shape(sandbox: Sandbox) -> None:
    error(sandbox.http.get(f"{API}/charges", headers=AUTH), 404, "not_found")
    error(sandbox.http.delete(f"{API}/payments/acq_1", headers=AUTH), 405, "method_not_allowed")


def test_the_index_page_names_the_acquirer_its_key_and_test_cards(sandbox: Sandbox) -> None:
    page = sandbox.http.get("/").text
    assert "Card acquirer" in page and ACQUIRER_KEY in page and "/acquirer/v1/" in page
    assert all(number in page for number, _, _ in TEST_CARDS)


def test_the_return_address_keeps_its_query_and_fragment() -> None:
    assert with_payment("https://a.example/back", "acq_1") == "https://a.example/back?acquirer_payment=acq_1"
    assert with_payment("https://a.example/b?x=1&acquirer_payment=old#top", "acq_1") == \
        "https://a.example/b?x=1&acquirer_payment=acq_1#top"


@pytest.mark.shared
def test_payout_entries_are_valid_camt053(sandbox: Sandbox, shared_dir: Any) -> None:
    payment = captured(sandbox, amount="60.00")
    sandbox.clock.advance(days=1)
    assert refund(sandbox, payment["id"], "60.00").status_code == 201
    sandbox.clock.advance(days=3)
    iban = sandbox.account("veikals", "dzintars").iban
    r = sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{iban}/statement",
                         params={"from": "2026-12-01", "to": "2026-12-07"})
    document = camt.read(io.BytesIO(r.content), schema_dir=shared_dir / "specs" / "iso20022")
    ours = from_acquirer(document.statements[0].entries)
    assert [(e.credit_debit, e.amount, e.batch_count) for e in ours] == [("CRDT", Decimal("60.00"), 1),
                                                                         ("DBIT", Decimal("60.00"), 1)]
