"""tests/bg_openapi.py against the Berlin Group 1.3.12 YAML in ../shared: hand-written
responses in the spec's shapes pass, broken ones fail with the JSON path in the message.
The few tests on a small hand-made document need no shared folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bg_openapi import (
    BerlinGroupSpec,
    ResponseRecorder,
    load_spec,
    shared_spec,
    spec_path,
)

JSON = "application/json"
PAYMENTS = "/v1/payments/sepa-credit-transfers"
PAYMENT = f"{PAYMENTS}/pay_7Hq2"
TRANSACTIONS = "/v1/accounts/acc_Ee01/transactions"
PAYMENT_TEMPLATE = "/v1/{payment-service}/{payment-product}/{paymentId}"


@pytest.fixture(scope="module")
def spec(shared_dir: Path) -> BerlinGroupSpec:
    return load_spec(spec_path(shared_dir))


def initiation_201() -> dict[str, Any]:
    return {
        "transactionStatus": "RCVD",
        "paymentId": "pay_7Hq2",
        "_links": {
            "scaRedirect": {"href": "https://sandbox.kvits.test/sca/pay_7Hq2?state=s1"},
            "self": {"href": PAYMENT},
            "status": {"href": f"{PAYMENT}/status"},
            "scaStatus": {"href": f"{PAYMENT}/authorisations/auth_1"},
        },
    }


def transactions_200() -> dict[str, Any]:
    return {
        "account": {"iban": "EE382200221020145685", "currency": "EUR"},
        "transactions": {
            "booked": [
                {
                    "transactionId": "tx_1",
                    "endToEndId": "RF18539007547034",
                    "bookingDate": "2024-03-28",
                    "valueDate": "2024-03-28",
                    "transactionAmount": {"currency": "EUR", "amount": "125.40"},
                    "debtorName": "Oleg Kovalenko",
                    "remittanceInformationUnstructured": "Invoice A-1",
                }
            ],
            "pending": [],
            "_links": {"account": {"href": "/v1/accounts/acc_Ee01"}},
        },
    }


def error_body(code: str, category: str = "ERROR") -> dict[str, Any]:
    return {"tppMessages": [{"category": category, "code": code, "text": "see the path"}]}


def rejection(spec: BerlinGroupSpec, *args: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        spec.check(*args)
    return str(caught.value)


# ---------------------------------------------------------------------- accepted


@pytest.mark.shared
class TestAccepted:
    def test_payment_initiation_201_as_bytes(self, spec: BerlinGroupSpec) -> None:
        body = json.dumps(initiation_201()).encode()
        spec.check("POST", PAYMENTS, 201, "application/json; charset=utf-8", body)

    def test_payment_initiation_201_with_optional_fields(self, spec: BerlinGroupSpec) -> None:
        body = initiation_201() | {
            "scaStatus": "received",
            "transactionFees": {"currency": "EUR", "amount": "0.35"},
            "tppMessages": [{"category": "WARNING", "code": "WARNING", "text": "fee applies"}],
        }
        spec.check("POST", "/v1/periodic-payments/instant-sepa-credit-transfers", 201, JSON, body)

    def test_explicit_authorisation_has_only_start_authorisation(
        self, spec: BerlinGroupSpec
    ) -> None:
        body = {
            "transactionStatus": "RCVD",
            "paymentId": "pay_7Hq2",
            "_links": {"startAuthorisation": {"href": f"{PAYMENT}/authorisations"}},
        }
        spec.check("POST", PAYMENTS, 201, JSON, body)

    @pytest.mark.parametrize("status", ["RCVD", "ACTC", "ACSP", "ACSC", "RJCT", "CANC"])
    def test_payment_status_200(self, spec: BerlinGroupSpec, status: str) -> None:
        body = {"transactionStatus": status, "fundsAvailable": True}
        spec.check("GET", f"{PAYMENT}/status", 200, JSON, body)

    def test_payment_status_as_pain002_xml_only_needs_the_declared_type(
        self, spec: BerlinGroupSpec
    ) -> None:
        spec.check("GET", f"{PAYMENT}/status", 200, "application/xml", b"<Document/>")

    def test_payment_read_200_matches_one_of_three(self, spec: BerlinGroupSpec) -> None:
        body = {
            "transactionStatus": "ACSP",
            "instructedAmount": {"currency": "EUR", "amount": "125.40"},
            "debtorAccount": {"iban": "EE382200221020145685"},
            "creditorName": "Kvits Demo OU",
            "creditorAccount": {"iban": "EE471000001020145685"},
            "remittanceInformationUnstructured": "RF18539007547034",
        }
        spec.check("GET", PAYMENT, 200, JSON, body)

    def test_sca_status_200(self, spec: BerlinGroupSpec) -> None:
        body = {"scaStatus": "finalised", "_links": {"status": {"href": f"{PAYMENT}/status"}}}
        spec.check("GET", f"{PAYMENT}/authorisations/auth_1", 200, JSON, body)

    def test_format_error_400(self, spec: BerlinGroupSpec) -> None:
        message = {
            "category": "ERROR",
            "code": "FORMAT_ERROR",
            "path": "instructedAmount.amount",
            "text": "must be a decimal string",
        }
        spec.check("POST", PAYMENTS, 400, JSON, {"tppMessages": [message]})
        # Nothing in Error400_NG_PIS is required: even an empty object is a valid 400 body.
        spec.check("POST", PAYMENTS, 400, JSON, {})

    def test_format_error_400_as_problem_json(self, spec: BerlinGroupSpec) -> None:
        body = {
            "type": "https://berlin-group.org/problem-types/format-error",
            "code": "FORMAT_ERROR",
            "detail": "instructedAmount.amount must be a decimal string",
        }
        spec.check("POST", PAYMENTS, 400, "application/problem+json", json.dumps(body).encode())

    @pytest.mark.parametrize(
        ("method", "path", "status", "code"),
        [
            ("POST", PAYMENTS, 401, "CERTIFICATE_INVALID"),
            ("GET", f"{PAYMENT}/status", 403, "RESOURCE_UNKNOWN"),
            ("GET", PAYMENT, 404, "RESOURCE_UNKNOWN"),
            ("DELETE", PAYMENT, 405, "CANCELLATION_INVALID"),
            ("PUT", f"{PAYMENT}/authorisations/auth_1", 409, "STATUS_INVALID"),
            # The spec gives PIS no 429 body at all; AIS has one (ACCESS_EXCEEDED).
            ("GET", TRANSACTIONS, 429, "ACCESS_EXCEEDED"),
            ("GET", "/v1/consents/con_1", 401, "CONSENT_EXPIRED"),
        ],
    )
    def test_error_statuses(
        self, spec: BerlinGroupSpec, method: str, path: str, status: int, code: str
    ) -> None:
        spec.check(method, path, status, JSON, error_body(code))

    def test_status_declared_without_content_accepts_any_body(
        self, spec: BerlinGroupSpec
    ) -> None:
        # 429, 406, 408, 415, 500 and 503 of PIS have no content in the spec.
        spec.check("POST", PAYMENTS, 429, JSON, error_body("ACCESS_EXCEEDED"))
        spec.check("POST", PAYMENTS, 503, "text/html", b"<h1>down</h1>")

    @pytest.mark.parametrize("body", [None, b""])
    def test_cancellation_204_without_body(
        self, spec: BerlinGroupSpec, body: bytes | None
    ) -> None:
        spec.check("DELETE", PAYMENT, 204, None, body)
        spec.check("DELETE", "/v1/consents/con_1", 204, None, body)

    def test_cancellation_202(self, spec: BerlinGroupSpec) -> None:
        body = {
            "transactionStatus": "ACTC",
            "_links": {"startAuthorisation": {"href": f"{PAYMENT}/cancellation-authorisations"}},
        }
        spec.check("DELETE", PAYMENT, 202, JSON, body)

    def test_consents_201(self, spec: BerlinGroupSpec) -> None:
        body = {
            "consentStatus": "received",
            "consentId": "con_1",
            "_links": {
                "scaRedirect": {"href": "https://sandbox.kvits.test/sca/con_1"},
                "self": {"href": "/v1/consents/con_1"},
                "status": {"href": "/v1/consents/con_1/status"},
                "scaStatus": {"href": "/v1/consents/con_1/authorisations/auth_2"},
            },
        }
        spec.check("POST", "/v1/consents", 201, JSON, body)

    def test_transactions_200_json(self, spec: BerlinGroupSpec) -> None:
        spec.check("GET", TRANSACTIONS, 200, JSON, transactions_200())

    @pytest.mark.parametrize("media", ["application/xml", "text/plain"])
    def test_transactions_200_camt_or_mt940(self, spec: BerlinGroupSpec, media: str) -> None:
        spec.check("GET", TRANSACTIONS, 200, media, b"<Document>camt.053</Document>")

    def test_extra_fields_pass_where_the_spec_does_not_close_the_object(
        self, spec: BerlinGroupSpec
    ) -> None:
        body = initiation_201() | {"kvitsTrace": "abc"}
        spec.check("POST", PAYMENTS, 201, JSON, body)

    def test_patterns_are_unanchored_as_in_the_spec(self, spec: BerlinGroupSpec) -> None:
        # amountValue is "-?[0-9]{1,14}(\.[0-9]{1,3})?" without ^...$: a comma amount passes.
        body = transactions_200()
        body["transactions"]["booked"][0]["transactionAmount"]["amount"] = "125,40"
        spec.check("GET", TRANSACTIONS, 200, JSON, body)


# ---------------------------------------------------------------------- rejected


@pytest.mark.shared
class TestRejected:
    def test_missing_transaction_status(self, spec: BerlinGroupSpec) -> None:
        body = initiation_201()
        del body["transactionStatus"]
        message = rejection(spec, "POST", PAYMENTS, 201, JSON, body)
        assert message.startswith(f"POST {PAYMENTS} -> 201 (application/json) does not match")
        assert "paymentInitiationRequestResponse-201" in message
        assert "$: 'transactionStatus' is a required property [required]" in message

    def test_missing_links(self, spec: BerlinGroupSpec) -> None:
        body = initiation_201()
        del body["_links"]
        assert "'_links' is a required property" in rejection(
            spec, "POST", PAYMENTS, 201, JSON, body
        )

    def test_unknown_transaction_status(self, spec: BerlinGroupSpec) -> None:
        message = rejection(
            spec, "GET", f"{PAYMENT}/status", 200, JSON, {"transactionStatus": "DONE"}
        )
        assert "$.transactionStatus: 'DONE' is not one of ['ACCC'" in message
        assert "[enum]" in message

    def test_unknown_sca_status(self, spec: BerlinGroupSpec) -> None:
        message = rejection(
            spec, "GET", f"{PAYMENT}/authorisations/auth_1", 200, JSON, {"scaStatus": "done"}
        )
        assert "$.scaStatus: 'done' is not one of ['received'" in message

    def test_tpp_message_code_outside_the_201_enum(self, spec: BerlinGroupSpec) -> None:
        body = initiation_201() | {"tppMessages": [{"category": "WARNING", "code": "FORMAT_ERROR"}]}
        message = rejection(spec, "POST", PAYMENTS, 201, JSON, body)
        assert "$.tppMessages[0].code: 'FORMAT_ERROR' is not one of" in message

    def test_tpp_message_category_outside_the_enum(self, spec: BerlinGroupSpec) -> None:
        message = rejection(spec, "POST", PAYMENTS, 400, JSON, error_body("FORMAT_ERROR", "INFO"))
        assert "$.tppMessages[0].category: 'INFO' is not one of ['ERROR', 'WARNING']" in message

    def test_tpp_message_without_code(self, spec: BerlinGroupSpec) -> None:
        body = {"tppMessages": [{"category": "ERROR", "text": "no code"}]}
        message = rejection(spec, "GET", TRANSACTIONS, 401, JSON, body)
        assert "$.tppMessages[0]: 'code' is a required property" in message

    def test_amount_as_number(self, spec: BerlinGroupSpec) -> None:
        body = transactions_200()
        body["transactions"]["booked"][0]["transactionAmount"]["amount"] = 125.4
        message = rejection(spec, "GET", TRANSACTIONS, 200, JSON, body)
        assert (
            "$.transactions.booked[0].transactionAmount.amount: 125.4 is not of type 'string'"
            in message
        )

    def test_booking_date_not_a_date(self, spec: BerlinGroupSpec) -> None:
        body = transactions_200()
        body["transactions"]["booked"][0]["bookingDate"] = "2024-02-30"
        message = rejection(spec, "GET", TRANSACTIONS, 200, JSON, body)
        assert "$.transactions.booked[0].bookingDate: '2024-02-30' is not a 'date'" in message

    def test_account_report_needs_its_account_link(self, spec: BerlinGroupSpec) -> None:
        body = transactions_200()
        del body["transactions"]["_links"]
        message = rejection(spec, "GET", TRANSACTIONS, 200, JSON, body)
        assert "$.transactions: '_links' is a required property" in message

    def test_link_must_be_an_href_object(self, spec: BerlinGroupSpec) -> None:
        body = initiation_201()
        body["_links"]["self"] = PAYMENT
        message = rejection(spec, "POST", PAYMENTS, 201, JSON, body)
        assert f"$['_links'].self: '{PAYMENT}' is not of type 'object'" in message

    def test_one_of_failure_names_each_alternative(self, spec: BerlinGroupSpec) -> None:
        body = {"transactionStatus": "ACSP"}
        message = rejection(spec, "GET", PAYMENT, 200, JSON, body)
        assert "is not valid under any of the given schemas [oneOf]" in message
        assert (
            "under #/components/schemas/bulkPaymentInitiationWithStatusResponse: "
            "$: 'payments' is a required property" in message
        )

    def test_problem_json_needs_type(self, spec: BerlinGroupSpec) -> None:
        message = rejection(
            spec, "POST", PAYMENTS, 400, "application/problem+json", {"code": "FORMAT_ERROR"}
        )
        assert "$: 'type' is a required property" in message

    def test_several_errors_are_all_listed(self, spec: BerlinGroupSpec) -> None:
        message = rejection(spec, "POST", "/v1/consents", 201, JSON, {"consentStatus": "ok"})
        assert "'consentId' is a required property" in message
        assert "'_links' is a required property" in message
        assert "$.consentStatus: 'ok' is not one of" in message

    def test_status_not_in_the_spec_without_default(self, spec: BerlinGroupSpec) -> None:
        message = rejection(spec, "POST", PAYMENTS, 502, JSON, error_body("X"))
        assert "status 502 is not in the spec's responses" in message
        assert "no default response" in message

    @pytest.mark.parametrize("body", [b"{}", {}, b" "])
    def test_204_with_a_body(self, spec: BerlinGroupSpec, body: bytes | dict[str, Any]) -> None:
        message = rejection(spec, "DELETE", PAYMENT, 204, JSON, body)
        assert f"DELETE {PAYMENT} -> 204: must have no body" in message

    def test_undeclared_content_type(self, spec: BerlinGroupSpec) -> None:
        message = rejection(spec, "POST", "/v1/consents", 201, "application/xml", b"<x/>")
        assert "Content-Type application/xml is not declared" in message
        assert "(declared: application/json)" in message

    def test_problem_json_where_only_json_is_declared(self, spec: BerlinGroupSpec) -> None:
        body = json.dumps(initiation_201()).encode()
        assert "application/problem+json is not declared" in rejection(
            spec, "POST", PAYMENTS, 201, "application/problem+json", body
        )

    def test_json_type_with_a_non_json_body(self, spec: BerlinGroupSpec) -> None:
        assert "body is not JSON" in rejection(
            spec, "GET", f"{PAYMENT}/status", 200, JSON, b"<Document/>"
        )

    def test_empty_body_where_content_is_declared(self, spec: BerlinGroupSpec) -> None:
        assert "empty body, but" in rejection(spec, "POST", PAYMENTS, 201, JSON, b"")

    @pytest.mark.parametrize(
        "path",
        [
            "/oauth/token",
            "/v1",
            "/v2/consents",
            "/v1/unknown-service",
            "/v1/payments/se-domestic-ct",  # a bank dialect product, not Berlin Group's
            "/v1/transfers/sepa-credit-transfers",
        ],
    )
    def test_unknown_path(self, spec: BerlinGroupSpec, path: str) -> None:
        message = rejection(spec, "POST", path, 200, JSON, {})
        assert message.startswith(f"POST {path}: not a Berlin Group path")

    def test_method_the_template_lacks(self, spec: BerlinGroupSpec) -> None:
        message = rejection(spec, "PUT", "/v1/consents/con_1", 200, JSON, {})
        assert "/v1/consents/{consentId} has no PUT operation (declared: DELETE, GET)" in message


# ---------------------------------------------------------------------- lookup


@pytest.mark.shared
class TestLookup:
    @pytest.mark.parametrize(
        ("method", "path", "template"),
        [
            ("POST", PAYMENTS, "/v1/{payment-service}/{payment-product}"),
            ("GET", f"{PAYMENT}/status", PAYMENT_TEMPLATE + "/status"),
            ("GET", "/v1/bulk-payments/pain.001-sepa-credit-transfers/b1", PAYMENT_TEMPLATE),
            # These also fit the payment templates by shape; literal segments win.
            ("GET", "/v1/accounts/acc_Ee01", "/v1/accounts/{account-id}"),
            ("GET", TRANSACTIONS, "/v1/accounts/{account-id}/transactions"),
            ("GET", "/v1/consents/con_1/status", "/v1/consents/{consentId}/status"),
            ("DELETE", "/v1/consents/con_1", "/v1/consents/{consentId}"),
            ("GET", "/v1/signing-baskets/b1/status", "/v1/signing-baskets/{basketId}/status"),
            ("GET", "/v1/card-accounts/c1/balances", "/v1/card-accounts/{account-id}/balances"),
        ],
    )
    def test_template(self, spec: BerlinGroupSpec, method: str, path: str, template: str) -> None:
        assert spec.match(method, path) == template

    def test_spec_is_parsed_once(self, spec: BerlinGroupSpec, shared_dir: Path) -> None:
        assert load_spec(str(spec_path(shared_dir))) is spec
        assert shared_spec() is spec
        assert spec.version == "1.3.12_2022-07-01"


# ---------------------------------------------------------------------- recording


def _bank(request: httpx.Request) -> httpx.Response:
    """A stand-in bank under /bank, with one response that breaks the spec."""
    path = request.url.path
    if path == "/bank/oauth/token":
        return httpx.Response(200, json={"access_token": "t"})
    if request.method == "POST" and path == f"/bank{PAYMENTS}":
        return httpx.Response(201, json=initiation_201())
    if path == f"/bank{PAYMENT}/status":
        return httpx.Response(200, json={"transactionStatus": "DONE"})
    if request.method == "DELETE":
        return httpx.Response(204)
    return httpx.Response(404, json=error_body("RESOURCE_UNKNOWN"))


@pytest.mark.shared
class TestRecorder:
    def test_event_hook_records_and_checks_bg_paths_only(self, spec: BerlinGroupSpec) -> None:
        recorder = ResponseRecorder("/bank")
        transport = httpx.MockTransport(_bank)
        with httpx.Client(
            transport=transport, base_url="http://sandbox", event_hooks={"response": [recorder]}
        ) as client:
            assert client.post(f"/bank{PAYMENTS}", json={}).json()["paymentId"] == "pay_7Hq2"
            client.delete(f"/bank{PAYMENT}")
            client.get(f"/bank{PAYMENT}", params={"x": "1"})
            client.post("/bank/oauth/token")
            client.get(f"/elsewhere{PAYMENT}")
        assert len(recorder.responses) == 5
        assert [p for p, _ in recorder.bg_responses()] == [PAYMENTS, PAYMENT, PAYMENT]
        assert recorder.check_all(spec) == 3

    def test_check_all_lists_every_failure(self, spec: BerlinGroupSpec) -> None:
        recorder = ResponseRecorder("/bank/")
        with httpx.Client(transport=httpx.MockTransport(_bank), base_url="http://s") as client:
            recorder.attach(client)
            client.post(f"/bank{PAYMENTS}")
            client.get(f"/bank{PAYMENT}/status")
            client.get(f"/bank{PAYMENT}/status")
        # By hand, each with its own base path; the one outside it is kept but not checked.
        outside = httpx.Request("GET", "http://s/other/v1/accounts")
        recorder.record(httpx.Response(500, content=b"oops", request=outside), base_path="/bank")
        inside = httpx.Request("GET", "http://s/other/v1/accounts")
        recorder.record(httpx.Response(500, content=b"oops", request=inside), base_path="/other")
        assert len(recorder.responses) == 5
        with pytest.raises(AssertionError) as caught:
            recorder.check_all(spec)
        message = str(caught.value)
        assert message.startswith("2 of 4 recorded responses do not match the spec:")
        assert len(re.findall(r"\$\.transactionStatus: 'DONE' is not one of", message)) == 2


# ---------------------------------------------------------------------- no ../shared needed


def _mini_spec() -> BerlinGroupSpec:
    """A few hand-written paths that tie by shape, to pin the ranking without the YAML."""
    ok = {"200": {"description": "ok"}}
    return BerlinGroupSpec(
        {
            "openapi": "3.0.1",
            "info": {"title": "mini", "version": "t"},
            "paths": {
                "/v1/{a}/{b}/{c}": {"get": {"responses": ok}},
                "/v1/{a}/fixed/{c}": {"get": {"responses": ok}},
                "/v1/fixed/{b}/{c}": {"get": {"responses": ok}},
                "/v1/things/{id}": {
                    "get": {
                        "responses": {
                            "200": {
                                "description": "a thing",
                                "content": {
                                    JSON: {"schema": {"$ref": "#/components/schemas/Thing"}}
                                },
                            },
                            "4XX": {"description": "client errors, no body"},
                            "default": {
                                "description": "anything else",
                                "content": {
                                    "application/problem+json": {
                                        "schema": {"type": "object", "required": ["code"]}
                                    }
                                },
                            },
                        }
                    }
                },
            },
            "components": {
                "schemas": {
                    "Thing": {
                        "type": "object",
                        "required": ["when"],
                        "properties": {
                            "when": {"type": "string", "format": "date-time"},
                            "note": {"type": "string", "nullable": True},
                            "secret": {"type": "string", "writeOnly": True},
                        },
                    }
                }
            },
        }
    )


def test_the_earliest_literal_segment_wins() -> None:
    mini = _mini_spec()
    assert mini.match("GET", "/v1/fixed/fixed/x") == "/v1/fixed/{b}/{c}"
    assert mini.match("GET", "/v1/other/fixed/x") == "/v1/{a}/fixed/{c}"
    assert mini.match("GET", "/v1/other/other/x") == "/v1/{a}/{b}/{c}"


def test_range_and_default_responses() -> None:
    mini = _mini_spec()
    mini.check("GET", "/v1/things/1", 418, JSON, b"whatever")  # 4XX, no content
    mini.check("GET", "/v1/things/1", 500, "application/problem+json", {"code": "X"})
    message = rejection(mini, "GET", "/v1/things/1", 500, "application/problem+json", {})
    assert "response 'default'" in message
    assert "$: 'code' is a required property" in message


def test_oas30_keywords_in_responses() -> None:
    mini = _mini_spec()
    mini.check("GET", "/v1/things/1", 200, JSON, {"when": "2024-03-28T10:00:00Z", "note": None})
    assert "is not a 'date-time'" in rejection(
        mini, "GET", "/v1/things/1", 200, JSON, {"when": "yesterday"}
    )
    assert "$.secret: Tried to read write-only property" in rejection(
        mini, "GET", "/v1/things/1", 200, JSON, {"when": "2024-03-28T10:00:00Z", "secret": "s"}
    )
