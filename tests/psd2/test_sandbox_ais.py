"""Account information at the sandbox banks: the consent and its SCA, accounts, and the
transactions as Berlin Group JSON and as camt.053 written by camt/writer.py."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

import camt
from tests.psd2.conftest import TPP, Sandbox
from tests.psd2.payer import pay
from tests.psd2.test_sandbox_pis import INST, body, headers, post


def consent(sandbox: Sandbox, ibans: list[str], user: str = "veikals", frequency: int = 4,
            recurring: bool = True) -> str:
    refs = [{"iban": i} for i in ibans]
    r = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"accounts": refs, "balances": refs, "transactions": refs}, "recurringIndicator": recurring,
        "validUntil": "2027-01-31", "frequencyPerDay": frequency, "combinedServiceIndicator": False})
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["consentStatus"] == "received"
    out = pay(data["_links"]["scaRedirect"]["href"], user, http=sandbox.http)
    if out.back_to is None:
        return data["consentId"]
    assert out.back_to == f"{TPP}/ok"
    return str(data["consentId"])


def ais(sandbox: Sandbox, consent_id: str, path: str, present: bool = True, **params: Any) -> Any:
    h = {**headers(), "Consent-ID": consent_id}
    if not present:
        del h["PSU-IP-Address"]
    return sandbox.http.get(f"/dzintars/v1{path}", headers=h, params=params)


def paid_into_shop(sandbox: Sandbox) -> str:
    """An instant payment from Alise to the shop with an RF reference; returns the shop's IBAN."""
    data = post(sandbox, product=INST).json()
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    return str(sandbox.account("veikals", "dzintars").iban)


def test_consent_sca_then_accounts_and_balances(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [shop.iban])
    assert sandbox.http.get(f"/dzintars/v1/consents/{cid}/status", headers=headers()).json() == {"consentStatus": "valid"}
    accounts = ais(sandbox, cid, "/accounts").json()["accounts"]
    assert [(a["iban"], a["resourceId"], a["ownerName"]) for a in accounts] == [(shop.iban, shop.resource_id, "SIA Piemera Veikals")]
    balances = ais(sandbox, cid, f"/accounts/{shop.resource_id}/balances").json()["balances"]
    assert balances[0]["balanceAmount"] == {"currency": "EUR", "amount": f"{shop.balance():.2f}"}
    assert sandbox.http.get(f"/dzintars/v1/consents/{cid}", headers=headers()).json()["consentStatus"] == "valid"


def test_someone_else_cannot_authorise_access_to_the_shop_account(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    refs = [{"iban": shop.iban}]
    data = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"accounts": refs}, "recurringIndicator": True, "validUntil": "2027-01-31",
        "frequencyPerDay": 4}).json()
    out = pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    assert out.back_to is None and out.status == 400
    r = ais(sandbox, data["consentId"], "/accounts")
    assert r.status_code == 401 and r.json()["tppMessages"][0]["code"] == "CONSENT_INVALID"


def test_transactions_as_json(sandbox: Sandbox) -> None:
    iban = paid_into_shop(sandbox)
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [iban])
    data = ais(sandbox, cid, f"/accounts/{shop.resource_id}/transactions", bookingStatus="booked",
               dateFrom="2026-12-01", dateTo="2026-12-03").json()
    ours = [t for t in data["transactions"]["booked"] if t.get("endToEndId") == "pay_0001"]
    assert len(ours) == 1
    assert ours[0]["transactionAmount"] == {"currency": "EUR", "amount": "12.30"}
    assert ours[0]["remittanceInformationStructured"] == {"reference": "RF18539007547034", "referenceType": "SCOR"}
    assert ours[0]["debtorName"] == "Alise Ozola" and ours[0]["bookingDate"] == "2026-12-03"
    assert all("2026-12-01" <= t["bookingDate"] <= "2026-12-03" for t in data["transactions"]["booked"])
    assert data["balances"][0]["balanceType"] == "openingBooked"


def test_transactions_as_camt053_validate_and_read_back(sandbox: Sandbox, shared_dir: Any) -> None:
    iban = paid_into_shop(sandbox)
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [iban])
    r = ais(sandbox, cid, f"/accounts/{shop.resource_id}/transactions", bookingStatus="booked",
            dateFrom="2026-11-01", dateTo="2026-12-03", headers={"Accept": "application/xml"})
    r = sandbox.http.get(f"/dzintars/v1/accounts/{shop.resource_id}/transactions",
                         params={"bookingStatus": "booked", "dateFrom": "2026-11-01", "dateTo": "2026-12-03"},
                         headers={**headers(), "Consent-ID": cid, "Accept": "application/xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    document = camt.read(io.BytesIO(r.content), schema_dir=shared_dir / "specs" / "iso20022")
    assert document.message.kind == "camt.053" and document.message.version == "001.08"
    statement = document.statements[0]
    assert statement.account.iban == shop.iban and statement.balance_check is not None
    assert statement.balance_check.status == "ok"
    expected = sorted((b.reference, b.amount, b.credit_debit) for b in shop.bookings
                      if date(2026, 11, 1) <= b.booking_date <= date(2026, 12, 3))
    assert sorted((e.account_servicer_reference, e.amount, e.credit_debit) for e in statement.entries) == expected
    ours = [e for e in statement.entries if e.transactions[0].references.end_to_end_id == "pay_0001"]
    assert len(ours) == 1
    tx = ours[0].transactions[0]
    assert tx.creditor_references == ("RF18539007547034",) and tx.amount == Decimal("12.30")
    assert tx.debtor is not None and tx.debtor.name == "Alise Ozola" and tx.debtor.agent_bic == "DZINLV22"
    card = [e for e in statement.entries if e.bank_transaction_code and e.bank_transaction_code.family == "MCRD"]
    assert card and all(e.batch_count and e.batch_count >= 3 for e in card)
    assert not statement.batch_problems


@pytest.mark.parametrize("params, status, code", [
    ({}, 400, "FORMAT_ERROR"),
    ({"bookingStatus": "sometimes"}, 400, "PARAMETER_NOT_SUPPORTED"),
    ({"bookingStatus": "booked", "dateFrom": "2026-12-03", "dateTo": "2026-12-01"}, 400, "PERIOD_INVALID"),
    ({"bookingStatus": "booked", "dateTo": "2027-01-01"}, 400, "PERIOD_INVALID"),
    ({"bookingStatus": "booked", "dateFrom": "yesterday"}, 400, "FORMAT_ERROR"),
    ({"bookingStatus": "booked", "dateFrom": "1900-01-01"}, 400, "PERIOD_INVALID"),
])
def test_transaction_queries_are_checked(sandbox: Sandbox, params: dict[str, str], status: int, code: str) -> None:
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [shop.iban])
    r = ais(sandbox, cid, f"/accounts/{shop.resource_id}/transactions", **params)
    assert r.status_code == status and r.json()["tppMessages"][0]["code"] == code


def test_reads_without_the_psu_are_limited_per_day(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [shop.iban], frequency=2)
    path = f"/accounts/{shop.resource_id}/transactions"
    assert [ais(sandbox, cid, path, present=False, bookingStatus="booked").status_code for _ in range(3)] == [200, 200, 429]
    assert ais(sandbox, cid, path, present=True, bookingStatus="booked").status_code == 200  # the PSU is there
    sandbox.clock.advance(days=1)
    assert ais(sandbox, cid, path, present=False, bookingStatus="booked").status_code == 200


def test_consent_expiry_termination_and_unknown(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [shop.iban])
    assert sandbox.http.delete(f"/dzintars/v1/consents/{cid}", headers=headers()).status_code == 204
    r = ais(sandbox, cid, "/accounts")
    assert r.status_code == 401 and r.json()["tppMessages"][0]["code"] == "CONSENT_INVALID"
    cid = consent(sandbox, [shop.iban])
    sandbox.clock.advance(days=70)
    r = ais(sandbox, cid, "/accounts")
    assert r.status_code == 401 and r.json()["tppMessages"][0]["code"] == "CONSENT_EXPIRED"
    unknown = ais(sandbox, "nope", "/accounts")
    assert unknown.status_code == 403 and unknown.json()["tppMessages"][0]["code"] == "CONSENT_UNKNOWN"
    missing = sandbox.http.get("/dzintars/v1/accounts", headers=headers())
    assert missing.status_code == 400 and missing.json()["tppMessages"][0]["path"] == "Consent-ID"


def test_an_account_outside_the_consent_is_refused(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    cid = consent(sandbox, [shop.iban])
    other = sandbox.account("alise", "dzintars")
    r = ais(sandbox, cid, f"/accounts/{other.resource_id}/transactions", bookingStatus="booked")
    assert r.status_code == 403 and r.json()["tppMessages"][0]["code"] == "CONSENT_INVALID"


@pytest.mark.parametrize("change, path", [
    ({"access": {}}, "access"), ({"recurringIndicator": "yes"}, "recurringIndicator"),
    ({"validUntil": "2020-01-01"}, "validUntil"), ({"frequencyPerDay": 0}, "frequencyPerDay"),
    ({"access": {"accounts": [{"bban": "1"}]}}, "access.accounts"),
])
def test_consent_bodies_are_validated(sandbox: Sandbox, change: dict[str, Any], path: str) -> None:
    shop = sandbox.account("veikals", "dzintars")
    data = {"access": {"accounts": [{"iban": shop.iban}]}, "recurringIndicator": True,
            "validUntil": "2027-01-31", "frequencyPerDay": 4, **change}
    r = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json=data)
    assert r.status_code == 400 and r.json()["tppMessages"][0]["path"] == path


def test_back_office_statement_matches_the_ais_one(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    r = sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{shop.iban}/statement",
                         params={"from": "2026-11-02", "to": "2026-11-30"})
    document = camt.read(io.BytesIO(r.content))
    entries = document.statements[0].entries
    assert len(entries) == len([b for b in shop.bookings if date(2026, 11, 2) <= b.booking_date <= date(2026, 11, 30)])
    assert sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{shop.iban}/statement",
                            params={"from": "2026-12-01", "to": "2027-01-01"}).status_code == 400
    assert sandbox.http.get("/_sandbox/banks/gintaro/accounts/" + shop.iban + "/statement").status_code == 404
    assert body  # the shared request builder stays importable for the other modules


def test_a_consent_is_shown_back_as_understood(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    raw = ('{"access": {"accounts": [{"iban": "%s", "x": NaN}]}, "recurringIndicator": true, '
           '"validUntil": "2027-01-31", "frequencyPerDay": 4}' % shop.iban).encode()
    r = sandbox.http.post("/dzintars/v1/consents", content=raw, headers={**headers(), "Content-Type": "application/json"})
    assert r.status_code == 400
    refs = [{"iban": shop.iban, "currency": "EUR", "extra": {"deep": [1, 2]}}]
    data = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"accounts": refs, "whatever": True}, "recurringIndicator": True,
        "validUntil": "2027-01-31", "frequencyPerDay": 4}).json()
    got = sandbox.http.get(f"/dzintars/v1/consents/{data['consentId']}", headers=headers()).json()
    assert got["access"] == {"accounts": [{"iban": shop.iban}]}


def test_a_deleted_consent_stays_deleted_even_if_its_sca_is_finished(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    refs = [{"iban": shop.iban}]
    data = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"accounts": refs, "transactions": refs}, "recurringIndicator": True,
        "validUntil": "2027-01-31", "frequencyPerDay": 4}).json()
    assert sandbox.http.delete(f"/dzintars/v1/consents/{data['consentId']}", headers=headers()).status_code == 204
    out = pay(data["_links"]["scaRedirect"]["href"], "veikals", http=sandbox.http)
    assert out.back_to is None
    r = ais(sandbox, data["consentId"], "/accounts")
    assert r.status_code == 401 and r.json()["tppMessages"][0]["code"] == "CONSENT_INVALID"


def test_a_consent_opens_only_what_it_names(sandbox: Sandbox) -> None:
    shop = sandbox.account("veikals", "dzintars")
    refs = [{"iban": shop.iban}]
    data = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"balances": refs}, "recurringIndicator": True, "validUntil": "2027-01-31",
        "frequencyPerDay": 4}).json()
    pay(data["_links"]["scaRedirect"]["href"], "veikals", http=sandbox.http)
    cid = data["consentId"]
    assert ais(sandbox, cid, f"/accounts/{shop.resource_id}/balances").status_code == 200
    r = ais(sandbox, cid, f"/accounts/{shop.resource_id}/transactions", bookingStatus="booked")
    assert r.status_code == 403 and r.json()["tppMessages"][0]["code"] == "CONSENT_INVALID"
    listing = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"availableAccounts": "allAccounts"}, "recurringIndicator": False, "validUntil": "2027-01-31",
        "frequencyPerDay": 1}).json()
    pay(listing["_links"]["scaRedirect"]["href"], "veikals", http=sandbox.http)
    assert len(ais(sandbox, listing["consentId"], "/accounts").json()["accounts"]) == 1
    r = ais(sandbox, listing["consentId"], f"/accounts/{shop.resource_id}/balances")
    assert r.status_code == 403
    bad = sandbox.http.post("/dzintars/v1/consents", headers=headers(), json={
        "access": {"accounts": [{"iban": "not-an-iban"}]}, "recurringIndicator": True, "validUntil": "2027-01-31",
        "frequencyPerDay": 4})
    assert bad.status_code == 400
