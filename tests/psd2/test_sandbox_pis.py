"""The sandbox banks' payment initiation as a TPP sees it on the wire: headers and bodies
checked as the standard says, answers and errors in its shapes, one per dialect."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.psd2.conftest import TPP, Sandbox
from tests.psd2.payer import pay

SCT = "sepa-credit-transfers"
INST = "instant-sepa-credit-transfers"
API = {"dzintars": "/dzintars", "kalevi": "/kalevi", "gintaro": "/gintaro", "nordbalt-lv": "/nordbalt/psd2"}


def headers(**extra: str) -> dict[str, str]:
    base = {"X-Request-ID": str(uuid.uuid4()), "PSU-IP-Address": "192.0.2.10",
            "TPP-Redirect-URI": f"{TPP}/ok", "TPP-Nok-Redirect-URI": f"{TPP}/nok"}
    base.update({k.replace("_", "-"): v for k, v in extra.items()})
    return base


def body(sandbox: Sandbox, **changes: Any) -> dict[str, Any]:
    merchant = sandbox.account("veikals", "dzintars")
    data: dict[str, Any] = {
        "endToEndIdentification": "pay_0001",
        "instructedAmount": {"currency": "EUR", "amount": "12.30"},
        "creditorAccount": {"iban": merchant.iban},
        "creditorName": "SIA Piemera Veikals",
        "remittanceInformationStructured": {"reference": "RF18539007547034", "referenceType": "SCOR"},
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def post(sandbox: Sandbox, bank: str = "dzintars", product: str = SCT, json: Any = None,
         hdrs: dict[str, str] | None = None, **kw: Any) -> Any:
    return sandbox.http.post(f"{API[bank]}/v1/payments/{product}", json=body(sandbox) if json is None else json,
                             headers=hdrs or headers(), **kw)


def errors(response: Any) -> list[tuple[str, str | None]]:
    return [(m["code"], m.get("path")) for m in response.json()["tppMessages"]]


def test_initiation_answers_201_with_links_and_echoes_the_request_id(sandbox: Sandbox) -> None:
    h = headers()
    r = post(sandbox, hdrs=h)
    assert r.status_code == 201
    data = r.json()
    assert data["transactionStatus"] == "RCVD" and len(data["paymentId"]) >= 16
    assert r.headers["X-Request-ID"] == h["X-Request-ID"]
    assert r.headers["ASPSP-SCA-Approach"] == "REDIRECT"
    assert set(data["_links"]) == {"self", "status", "scaRedirect", "scaStatus"}
    assert data["_links"]["scaRedirect"]["href"].startswith("http://127.0.0.1/dzintars/sca/")
    assert r.headers["Location"] == data["_links"]["self"]["href"]
    payment = sandbox.world.payments[data["paymentId"]]
    assert payment.amount == __import__("decimal").Decimal("12.30") and payment.creditor_reference == "RF18539007547034"


@pytest.mark.parametrize("missing, code", [
    ("X-Request-ID", "FORMAT_ERROR"), ("PSU-IP-Address", "FORMAT_ERROR"), ("TPP-Redirect-URI", "FORMAT_ERROR"),
])
def test_mandatory_headers_are_enforced(sandbox: Sandbox, missing: str, code: str) -> None:
    h = headers()
    del h[missing]
    r = post(sandbox, hdrs=h)
    assert r.status_code == 400
    assert errors(r) == [(code, missing)]
    assert not sandbox.world.payments


@pytest.mark.parametrize("name, value", [
    ("X-Request-ID", "not-a-uuid"), ("PSU-IP-Address", "999.1.1.1"),
    ("TPP-Redirect-URI", "http://tpp.example/ok"), ("TPP-Redirect-URI", "javascript:alert(1)"),
    ("TPP-Nok-Redirect-URI", "ftp://tpp.example/"),
])
def test_bad_header_values_are_refused(sandbox: Sandbox, name: str, value: str) -> None:
    r = post(sandbox, hdrs=headers(**{name: value}))
    assert r.status_code == 400 and errors(r)[0] == ("FORMAT_ERROR", name)


def test_ipv6_psu_address_and_loopback_redirect_are_accepted(sandbox: Sandbox) -> None:
    r = post(sandbox, hdrs=headers(**{"PSU-IP-Address": "2001:db8::1", "TPP-Redirect-URI": "http://localhost:8000/back"}))
    assert r.status_code == 201


@pytest.mark.parametrize("changes, path", [
    ({"instructedAmount": {"currency": "EUR", "amount": 12.3}}, "instructedAmount.amount"),
    ({"instructedAmount": {"currency": "EUR", "amount": "12.345"}}, "instructedAmount.amount"),
    ({"instructedAmount": {"currency": "EUR", "amount": "1,00"}}, "instructedAmount.amount"),
    ({"instructedAmount": {"currency": "EUR", "amount": "0.00"}}, "instructedAmount.amount"),
    ({"instructedAmount": {"currency": "EUR", "amount": "-5.00"}}, "instructedAmount.amount"),
    ({"instructedAmount": {"currency": "eur", "amount": "5.00"}}, "instructedAmount.currency"),
    ({"instructedAmount": {"currency": "USD", "amount": "5.00"}}, "instructedAmount.currency"),
    ({"instructedAmount": None}, "instructedAmount"),
    ({"creditorAccount": {"iban": "LV00DZIN0000000000001"}}, "creditorAccount.iban"),
    ({"creditorAccount": {"iban": "lv59 dzin 0000 0000 0000 1"}}, "creditorAccount.iban"),
    ({"creditorAccount": None}, "creditorAccount"),
    ({"creditorName": "X" * 71}, "creditorName"),
    ({"creditorName": None}, "creditorName"),
    ({"creditorName": "Evil\u0000Corp"}, "creditorName"),
    ({"endToEndIdentification": "E" * 36}, "endToEndIdentification"),
    ({"remittanceInformationStructured": {"reference": "RF18539007547035", "referenceType": "SCOR"}},
     "remittanceInformationStructured.reference"),
    ({"remittanceInformationStructured": {"reference": "R" * 36}}, "remittanceInformationStructured.reference"),
    ({"remittanceInformationStructured": None, "remittanceInformationUnstructured": "x" * 141},
     "remittanceInformationUnstructured"),
    ({"remittanceInformationUnstructured": "both"}, "remittanceInformationUnstructured"),
    ({"requestedExecutionDate": "03.12.2026"}, "requestedExecutionDate"),
])
def test_bodies_are_validated_field_by_field(sandbox: Sandbox, changes: dict[str, Any], path: str) -> None:
    r = post(sandbox, json=body(sandbox, **changes))
    assert r.status_code == 400, r.text
    assert path in [p for _, p in errors(r)], r.json()
    assert not sandbox.world.payments


def test_every_problem_of_a_body_is_reported_at_once(sandbox: Sandbox) -> None:
    r = post(sandbox, json={"instructedAmount": {"currency": "EUR", "amount": "1.001"}, "creditorName": "Y" * 80})
    assert {p for _, p in errors(r)} == {"instructedAmount.amount", "creditorAccount", "creditorName"}


def test_past_execution_date_has_its_own_code(sandbox: Sandbox) -> None:
    r = post(sandbox, json=body(sandbox, requestedExecutionDate="2026-12-01"))
    assert r.status_code == 400 and errors(r)[0][0] == "EXECUTION_DATE_INVALID"


@pytest.mark.parametrize("raw, content_type, status", [
    (b"{not json", "application/json", 400), (b"[1, 2]", "application/json", 400),
    (b"<xml/>", "application/xml", 415), (b"", "application/json", 400),
    (b'{"a": "' + b"x" * 70000 + b'"}', "application/json", 400),
    (b"[" * 100000 + b"]" * 100000, "application/json", 400),
])
def test_unusable_bodies_are_refused_without_a_crash(sandbox: Sandbox, raw: bytes, content_type: str, status: int) -> None:
    r = sandbox.http.post("/dzintars/v1/payments/sepa-credit-transfers", content=raw,
                          headers={**headers(), "Content-Type": content_type})
    assert r.status_code == status
    assert r.json()["tppMessages"][0]["category"] == "ERROR"


@pytest.mark.parametrize("bank, product, status, code", [
    ("dzintars", "target-2-payments", 403, "PRODUCT_INVALID"),
    ("dzintars", "no-such-product", 404, "PRODUCT_UNKNOWN"),
    ("gintaro", INST, 403, "PRODUCT_INVALID"),
])
def test_products_the_bank_does_not_offer(sandbox: Sandbox, bank: str, product: str, status: int, code: str) -> None:
    r = sandbox.http.post(f"{API[bank]}/v1/payments/{product}", json=body(sandbox),
                          headers=headers(**{"TPP-Explicit-Authorisation-Preferred": "true"}))
    assert r.status_code == status and errors(r)[0][0] == code


def test_bulk_payments_are_not_offered(sandbox: Sandbox) -> None:
    r = sandbox.http.post(f"/dzintars/v1/bulk-payments/{SCT}", json=body(sandbox), headers=headers())
    assert r.status_code == 400 and errors(r)[0][0] == "SERVICE_INVALID"


def test_explicit_bank_answers_start_authorisation_only(sandbox: Sandbox) -> None:
    r = post(sandbox, "gintaro")
    links = r.json()["_links"]
    assert set(links) == {"self", "status", "startAuthorisation"}
    start = sandbox.http.post(links["startAuthorisation"]["href"], headers=headers())
    assert start.status_code == 201
    data = start.json()
    assert data["scaStatus"] == "received" and data["_links"]["scaRedirect"]["href"].startswith("http://127.0.0.1/gintaro/sca/")
    listed = sandbox.http.get(links["self"]["href"] + "/authorisations", headers=headers())
    assert listed.json() == {"authorisationIds": [data["authorisationId"]]}


def test_hub_bank_needs_bic_and_user_agent_and_answers_relative_links(sandbox: Sandbox) -> None:
    url = f"/nordbalt/psd2/v1/payments/{SCT}"
    no_bic = sandbox.http.post(url, json=body(sandbox), headers=headers(**{"PSU-User-Agent": "Mozilla/5.0"}))
    assert no_bic.status_code == 400 and errors(no_bic)[0] == ("FORMAT_ERROR", "bic")
    wrong_bic = sandbox.http.post(url, params={"bic": "DZINLV22"}, json=body(sandbox),
                                  headers=headers(**{"PSU-User-Agent": "Mozilla/5.0"}))
    assert wrong_bic.status_code == 400
    no_agent = sandbox.http.post(url, params={"bic": "NRDBEE22"}, json=body(sandbox), headers=headers())
    assert errors(no_agent)[0] == ("FORMAT_ERROR", "PSU-User-Agent")
    ok = sandbox.http.post(url, params={"bic": "NRDBEE22"}, json=body(sandbox),
                           headers=headers(**{"PSU-User-Agent": "Mozilla/5.0"}))
    assert ok.status_code == 201
    links = ok.json()["_links"]
    assert links["scaRedirect"]["href"].startswith("/nordbalt/sca/")
    assert links["self"]["href"].startswith("/nordbalt/psd2/v1/payments/")
    assert sandbox.world.payments[ok.json()["paymentId"]].bank.bic == "NRDBEE22"
    # the hub's payments belong to the bank chosen by bic: another bic does not see it
    other = sandbox.http.get(links["status"]["href"], params={"bic": "NRDBLT22"},
                             headers=headers(**{"PSU-User-Agent": "Mozilla/5.0"}))
    assert other.status_code == 404


def test_hub_bank_limits_unstructured_remittance_to_35(sandbox: Sandbox) -> None:
    r = sandbox.http.post(f"/nordbalt/psd2/v1/payments/{SCT}", params={"bic": "NRDBLV22"},
                          json=body(sandbox, remittanceInformationStructured=None,
                                    remittanceInformationUnstructured="x" * 36),
                          headers=headers(**{"PSU-User-Agent": "Mozilla/5.0"}))
    assert r.status_code == 400 and errors(r)[0][1] == "remittanceInformationUnstructured"


def test_oauth_bank_needs_a_valid_unexpired_tpp_token(sandbox: Sandbox) -> None:
    assert post(sandbox, "kalevi").json()["tppMessages"][0]["code"] == "TOKEN_INVALID"
    bad = post(sandbox, "kalevi", hdrs={**headers(), "Authorization": "Bearer nope"})
    assert bad.status_code == 401 and errors(bad)[0][0] == "TOKEN_UNKNOWN"
    token = sandbox.http.post("/kalevi/oauth/token", data={"grant_type": "client_credentials",
                                                            "client_id": "kvits-sandbox-tpp",
                                                            "client_secret": "sandbox-secret"}).json()
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 300
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    ok = post(sandbox, "kalevi", hdrs={**headers(), **auth})
    assert ok.status_code == 201 and set(ok.json()["_links"]) == {"self", "status", "scaOAuth", "scaStatus"}
    sandbox.clock.advance(minutes=6)
    expired = post(sandbox, "kalevi", hdrs={**headers(), **auth})
    assert expired.status_code == 401 and errors(expired)[0][0] == "TOKEN_EXPIRED"
    wrong_secret = sandbox.http.post("/kalevi/oauth/token", data={"grant_type": "client_credentials",
                                                                   "client_id": "kvits-sandbox-tpp",
                                                                   "client_secret": "guess"})
    assert wrong_secret.status_code in (400, 401) and wrong_secret.json()["error"] == "invalid_client"


def test_oauth_metadata_follows_rfc_8414(sandbox: Sandbox) -> None:
    meta = sandbox.http.get("/kalevi/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == "http://127.0.0.1/kalevi"
    assert meta["authorization_endpoint"] == "http://127.0.0.1/kalevi/oauth/authorize"
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_get_payment_status_and_unknown_ids(sandbox: Sandbox) -> None:
    data = post(sandbox, json=body(sandbox, debtorAccount={"iban": sandbox.account("alise", "dzintars").iban})).json()
    pid = data["paymentId"]
    got = sandbox.http.get(f"/dzintars/v1/payments/{SCT}/{pid}", headers=headers())
    assert got.json()["transactionStatus"] == "RCVD" and got.json()["creditorName"] == "SIA Piemera Veikals"
    status = sandbox.http.get(f"/dzintars/v1/payments/{SCT}/{pid}/status", headers=headers())
    assert status.json() == {"transactionStatus": "RCVD"}
    sca = sandbox.http.get(data["_links"]["scaStatus"]["href"], headers=headers())
    assert sca.json() == {"scaStatus": "received"}
    for url in (f"/dzintars/v1/payments/{SCT}/nope/status", f"/dzintars/v1/payments/{INST}/{pid}/status",
                f"/gintaro/v1/payments/{SCT}/{pid}/status"):
        r = sandbox.http.get(url, headers=headers())
        assert r.status_code == 404 and errors(r)[0][0] == "RESOURCE_UNKNOWN", url


def test_cancel_before_sca_then_too_late(sandbox: Sandbox) -> None:
    pid = post(sandbox).json()["paymentId"]
    r = sandbox.http.delete(f"/dzintars/v1/payments/{SCT}/{pid}", headers=headers())
    assert r.status_code == 204 and r.content == b""
    assert sandbox.world.payments[pid].status == "CANC"
    again = sandbox.http.delete(f"/dzintars/v1/payments/{SCT}/{pid}", headers=headers())
    assert again.status_code == 405 and errors(again)[0][0] == "CANCELLATION_INVALID"


def test_instant_payment_cannot_be_cancelled_after_sca(sandbox: Sandbox) -> None:
    data = post(sandbox, product=INST).json()
    assert pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http).back_to == f"{TPP}/ok"
    r = sandbox.http.delete(f"/dzintars/v1/payments/{INST}/{data['paymentId']}", headers=headers())
    assert r.status_code == 405


def test_standard_payment_can_be_cancelled_until_it_executes(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    alise = sandbox.account("alise", "dzintars")
    assert alise.reserved == __import__("decimal").Decimal("12.30")
    r = sandbox.http.delete(f"/dzintars/v1/payments/{SCT}/{data['paymentId']}", headers=headers())
    assert r.status_code == 204 and alise.reserved == 0
    sandbox.clock.advance(days=2)
    sandbox.world.tick()
    assert alise.balance() == alise.opening_balance  # nothing booked


def test_start_authorisation_refused_once_sca_is_done(sandbox: Sandbox) -> None:
    data = post(sandbox, "gintaro").json()
    start = sandbox.http.post(data["_links"]["startAuthorisation"]["href"], headers=headers()).json()
    pay(start["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    again = sandbox.http.post(data["_links"]["startAuthorisation"]["href"], headers=headers())
    assert again.status_code == 409 and errors(again)[0][0] == "STATUS_INVALID"


def test_sca_timeout_rejects_the_payment(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    sandbox.clock.advance(minutes=16)
    status = sandbox.http.get(data["_links"]["status"]["href"], headers=headers()).json()
    assert status["transactionStatus"] == "RJCT"
    assert sandbox.http.get(data["_links"]["scaStatus"]["href"], headers=headers()).json() == {"scaStatus": "failed"}
    page = sandbox.http.get(data["_links"]["scaRedirect"]["href"])
    assert "failed" in page.text and "form_token" not in page.text


def test_a_debtor_account_of_another_bank_is_refused(sandbox: Sandbox) -> None:
    other = sandbox.account("alise", "gintaro")
    r = post(sandbox, json=body(sandbox, debtorAccount={"iban": other.iban}))
    assert r.status_code == 400 and errors(r)[0][1] == "debtorAccount.iban"


def test_payment_timeline_in_the_sandbox_is_clock_driven(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    payment = sandbox.world.payments[data["paymentId"]]
    assert payment.status == "ACTC"
    sandbox.clock.advance(seconds=3)
    sandbox.world.tick()
    assert payment.status == "ACSP" and payment.execution_date is not None
    assert payment.execution_date.isoformat() == "2026-12-04"  # Friday, the next business day
    sandbox.clock.advance(days=1)
    sandbox.world.tick()
    assert [s for s, _ in payment.history] == ["RCVD", "ACTC", "ACSP", "ACSC"]
    assert payment.history[-1][1] - payment.history[0][1] >= timedelta(days=1)


def test_the_spec_check_sees_the_responses_and_can_fail(sandbox: Sandbox) -> None:
    post(sandbox)
    post(sandbox, json={})
    sandbox.http.get(f"/dzintars/v1/payments/{SCT}/nope/status", headers=headers())
    from tests.conftest import locate_shared_dir

    if locate_shared_dir() is None:
        pytest.skip("../shared (the Berlin Group OpenAPI file) is not here")
    assert sandbox.bg_checked() == 3
    sandbox.recorded.append(type(sandbox.recorded[0])("GET", "/dzintars/v1/payments/sepa-credit-transfers/x/status",
                                                      200, "application/json", b'{"transactionStatus": "DONE"}',
                                                      "/dzintars"))
    with pytest.raises(AssertionError, match="transactionStatus"):
        sandbox.bg_checked()
    sandbox.recorded.pop()


# -- what an attack round found ----------------------------------------------------------

@pytest.mark.parametrize("changes, path", [
    ({"creditorName": "\u202eevil"}, "creditorName"),
    ({"creditorName": "\u200b"}, "creditorName"),
    ({"creditorName": "---"}, "creditorName"),
    ({"endToEndIdentification": "pay\udfff"}, "endToEndIdentification"),
    ({"remittanceInformationStructured": None, "remittanceInformationUnstructured": "x\uffff"},
     "remittanceInformationUnstructured"),
    ({"requestedExecutionDate": 20261231}, "requestedExecutionDate"),
])
def test_texts_xml_or_a_payer_could_not_read_are_refused(sandbox: Sandbox, changes: dict[str, Any], path: str) -> None:
    import json as _json

    raw = _json.dumps(body(sandbox, **changes)).encode()  # \\u escapes: a lone surrogate survives the trip
    r = sandbox.http.post(f"/dzintars/v1/payments/{SCT}", content=raw,
                          headers={**headers(), "Content-Type": "application/json"})
    assert r.status_code == 400 and path in [p for _, p in errors(r)]


def test_execution_dates_far_ahead_are_refused(sandbox: Sandbox) -> None:
    r = post(sandbox, json=body(sandbox, requestedExecutionDate="9999-12-31"))
    assert r.status_code == 400 and errors(r)[0][0] == "EXECUTION_DATE_INVALID"


def test_nan_is_not_json(sandbox: Sandbox) -> None:
    raw = ('{"instructedAmount": {"currency": "EUR", "amount": "1.00"}, "extra": NaN}').encode()
    r = sandbox.http.post(f"/dzintars/v1/payments/{SCT}", content=raw,
                          headers={**headers(), "Content-Type": "application/json"})
    assert r.status_code == 400 and "NaN" in r.json()["tppMessages"][0]["text"]


def test_the_bank_shows_back_only_what_it_understood(sandbox: Sandbox) -> None:
    data = post(sandbox, json=body(sandbox, _links={"x": {"href": "https://evil"}}, tppMessages=[], extra="?",
                                   debtorAccount={"iban": sandbox.account("alise", "dzintars").iban, "bban": "1"})).json()
    got = sandbox.http.get(f"/dzintars/v1/payments/{SCT}/{data['paymentId']}", headers=headers()).json()
    assert set(got) == {"endToEndIdentification", "instructedAmount", "creditorAccount", "creditorName",
                        "remittanceInformationStructured", "debtorAccount", "transactionStatus"}
    assert got["debtorAccount"] == {"iban": sandbox.account("alise", "dzintars").iban}


@pytest.mark.parametrize("name, value", [
    ("TPP-Redirect-URI", "https://[::1"), ("TPP-Redirect-URI", "http://evil.example\\@127.0.0.1/back"),
    ("TPP-Redirect-URI", "https://user@tpp.example/"), ("TPP-Redirect-URI", "https://tpp.example:99999/"),
    ("TPP-Redirect-URI", "https://a b/"), ("X-Request-ID", "{12345678-1234-1234-1234-123456789012}"),
    ("X-Request-ID", "12345678123412341234123456789012"), ("PSU-IP-Address", "fe80::1%eth0"),
])
def test_loose_header_forms_are_refused(sandbox: Sandbox, name: str, value: str) -> None:
    r = post(sandbox, hdrs=headers(**{name: value}))
    assert r.status_code == 400 and errors(r)[0] == ("FORMAT_ERROR", name)
    assert "X-Request-ID" not in r.headers or r.headers["X-Request-ID"] != value


def test_only_json_is_json(sandbox: Sandbox) -> None:
    r = post(sandbox, hdrs={**headers(), "Content-Type": "text/x-notjson"})
    assert r.status_code == 415


def test_one_authorisation_per_payment(sandbox: Sandbox) -> None:
    data = post(sandbox).json()  # implicit authorisation started
    r = sandbox.http.post(data["_links"]["self"]["href"] + "/authorisations", headers=headers())
    assert r.status_code == 409 and errors(r)[0][0] == "STATUS_INVALID"
    explicit = post(sandbox, "gintaro").json()
    url = explicit["_links"]["startAuthorisation"]["href"]
    first = sandbox.http.post(url, headers=headers()).json()
    assert sandbox.http.post(url, headers=headers()).status_code == 409
    pay(first["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http, cancel=True)  # fails: CANC
    assert sandbox.http.post(url, headers=headers()).status_code == 409  # and the payment is final


def test_a_late_sca_does_not_revive_a_cancelled_payment(sandbox: Sandbox) -> None:
    data = post(sandbox).json()
    url = data["_links"]["scaRedirect"]["href"]
    pid = data["paymentId"]
    page = sandbox.http.get(url).text
    assert "form_token" in page
    assert sandbox.http.delete(f"/dzintars/v1/payments/{SCT}/{pid}", headers=headers()).status_code == 204
    out = pay(url, "alise", http=sandbox.http)
    assert out.back_to is None
    alise = sandbox.account("alise", "dzintars")
    assert sandbox.world.payments[pid].status == "CANC" and alise.reserved == 0


def test_rate_limit_answers_say_when_to_come_back(sandbox: Sandbox) -> None:
    sandbox.faults.add("dzintars", "initiate", "429")
    r = post(sandbox)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"


def test_back_office_limits(sandbox: Sandbox) -> None:
    iban = sandbox.account("veikals", "dzintars").iban
    early = sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{iban}/statement", params={"from": "1900-01-01"})
    assert early.status_code == 400
    r = sandbox.http.post("/_sandbox/faults", json={"bank": "*", "fault": "503", "times": 1000})
    assert r.json()["waiting"] == 1000 and len(r.json()["pending"]) == 100
    assert sandbox.http.post("/_sandbox/faults", json={"bank": "*", "fault": "503"}).status_code == 400
    assert sandbox.http.post("/_sandbox/clock", json={"days": True}).status_code == 400
    assert sandbox.http.get("/_sandbox/clock").json()["today"] == "2026-12-03"


def test_oauth_bank_takes_client_secret_basic_too(sandbox: Sandbox) -> None:
    import base64

    basic = base64.b64encode(b"kvits-sandbox-tpp:sandbox-secret").decode()
    r = sandbox.http.post("/kalevi/oauth/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.json()["access_token"]


# -- what the second attack round found -------------------------------------------------

@pytest.mark.parametrize("changes, path", [
    ({"creditorName": "Shop\u061c"}, "creditorName"), ({"creditorName": "Shop\ufeff"}, "creditorName"),
    ({"creditorName": "Sh\u00adop"}, "creditorName"), ({"creditorName": "Shop\U000e0041"}, "creditorName"),
    ({"creditorName": "Shop\u2028"}, "creditorName"),
    ({"remittanceInformationStructured": {"reference": "RF18\u0665\u0663\u0669007547034", "referenceType": "SCOR"}},
     "remittanceInformationStructured.reference"),
    ({"remittanceInformationStructured": {"reference": "RF1\uff18539007547034", "referenceType": "SCOR"}},
     "remittanceInformationStructured.reference"),
    ({"requestedExecutionDate": "2026-W50-4"}, "requestedExecutionDate"),
])
def test_more_look_alikes_are_refused(sandbox: Sandbox, changes: dict[str, Any], path: str) -> None:
    r = post(sandbox, json=body(sandbox, **changes))
    assert r.status_code == 400 and path in [p for _, p in errors(r)]


def test_a_payment_to_an_account_the_bank_does_not_have_is_rejected(sandbox: Sandbox) -> None:
    data = post(sandbox, product=INST, json=body(sandbox, creditorAccount={"iban": "LV32DZIN0000000000099"})).json()
    before = sum(a.balance() for a in sandbox.world.accounts.values())
    pay(data["_links"]["scaRedirect"]["href"], "alise", http=sandbox.http)
    status = sandbox.http.get(data["_links"]["status"]["href"], headers=headers()).json()
    assert status["transactionStatus"] == "RJCT" and status["psuMessage"] == "AC03"
    assert sum(a.balance() for a in sandbox.world.accounts.values()) == before


def test_an_explicit_payment_never_authorised_ends_rejected(sandbox: Sandbox) -> None:
    data = post(sandbox, "gintaro").json()
    sandbox.clock.advance(minutes=16)
    status = sandbox.http.get(data["_links"]["status"]["href"], headers=headers()).json()
    assert status["transactionStatus"] == "RJCT"


@pytest.mark.parametrize("method, path", [
    ("PUT", f"/dzintars/v1/payments/{SCT}/x/authorisations/y"), ("GET", f"/dzintars/v1/payments/{SCT}"),
    ("GET", "/dzintars/v1/accounts/x/transactions/y"), ("POST", "/dzintars/v1/nothing/here/at/all"),
])
def test_addresses_the_bank_does_not_serve_answer_in_the_standards_shape(sandbox: Sandbox, method: str, path: str) -> None:
    r = sandbox.http.request(method, path, headers=headers())
    assert r.status_code in (404, 405) and r.json()["tppMessages"][0]["code"] in ("RESOURCE_UNKNOWN", "SERVICE_INVALID")


def test_sca_pages_may_return_to_ipv6_loopback(sandbox: Sandbox) -> None:
    data = post(sandbox, hdrs=headers(**{"TPP-Redirect-URI": "http://[::1]:8080/back"})).json()
    page = sandbox.http.get(data["_links"]["scaRedirect"]["href"])
    assert "http://[::1]:*" in page.headers["Content-Security-Policy"]
