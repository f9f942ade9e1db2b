"""The Berlin Group NextGenPSD2 (1.3.x) endpoints of the sandbox banks: payment initiation
(PIS) and account information (AIS), one router per bank host."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sandbox import statements
from sandbox.banks import PRODUCTS, BankProfile
from sandbox.errors import TppError, format_error, unknown
from sandbox.faults import FaultPlan
from sandbox.validation import bank_headers, payment_body, psu_ip, redirect_uri, request_id
from sandbox.world import FINAL_SCA, Authorisation, Payment, World

_SERVICES = ("payments", "bulk-payments", "periodic-payments")
_KNOWN_PRODUCTS = PRODUCTS + ("target-2-payments", "cross-border-credit-transfers")
_MAX_BODY = 64 * 1024
EARLIEST = date(2000, 1, 1)  # statements reach back no further (and never into local mean time)


class Host:
    """One sandbox host: one bank, or several behind `?bic=` (the hub dialect)."""

    def __init__(self, api_path: str, banks: list[BankProfile], world: World, faults: FaultPlan,
                 token_check: Callable[[BankProfile, Request], None]) -> None:
        self.api_path = api_path
        self.banks = banks
        self.world = world
        self.faults = faults
        self.token_check = token_check

    def bank(self, request: Request) -> BankProfile:
        if len(self.banks) == 1 and self.banks[0].dialect != "hub":
            return self.banks[0]
        bic = request.query_params.get("bic")
        if not bic:
            raise format_error("the bic query parameter is missing: this host serves "
                               + ", ".join(b.bic for b in self.banks), "bic")
        for bank in self.banks:
            if bank.bic == bic:
                return bank
        raise format_error(f"bic {bic[:11]!r} is not served here (one of {', '.join(b.bic for b in self.banks)})", "bic")

    def link(self, request: Request, bank: BankProfile, path: str) -> dict[str, str]:
        href = (bank.api_path if path.startswith("/v1/") else bank.host_path) + path
        if not bank.relative_links:
            href = str(request.base_url).rstrip("/") + href
        return {"href": href}

    def call(self, request: Request, operation: str, handler: Callable[[BankProfile, str], Response]) -> Response:
        """Run one API call: common headers, the bank's access rules, faults, the lock."""
        rid = request_id(request.headers)
        bank = self.bank(request)
        bank_headers(bank, request.headers)
        self.token_check(bank, request)
        fault = self.faults.draw(bank.id, operation)
        if fault in ("500", "503", "429"):
            raise {
                "500": TppError(500, "INTERNAL_SERVER_ERROR", "the bank had an internal error (sandbox fault)"),
                "503": TppError(503, "SERVICE_UNAVAILABLE", "the bank is unavailable (sandbox fault)"),
                "429": TppError(429, "ACCESS_EXCEEDED", "too many requests (sandbox fault)",
                                headers={"Retry-After": "1"}),
            }[fault]
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        with self.world.lock:
            self.world.tick()
            response = handler(bank, rid)
        if fault == "503-after":
            raise TppError(503, "SERVICE_UNAVAILABLE", "the bank is unavailable (sandbox fault)")
        if fault == "timeout-after":
            time.sleep(self.faults.slow_seconds)
        response.headers["X-Request-ID"] = rid
        return response


def router(host: Host) -> APIRouter:
    r = APIRouter(prefix=host.api_path)
    world = host.world

    def payment_of(bank: BankProfile, product: str, payment_id: str) -> Payment:
        payment = world.payments.get(payment_id)
        if payment is None or payment.bank != bank or payment.product != product:
            raise unknown(f"payment {payment_id[:40]}")
        return payment

    def check_product(bank: BankProfile, service: str, product: str) -> None:
        if service not in _SERVICES:
            raise TppError(404, "RESOURCE_UNKNOWN", f"{service} is not a payment service")
        if service != "payments":
            raise TppError(400, "SERVICE_INVALID", f"{service} is not offered by {bank.name}")
        if product not in _KNOWN_PRODUCTS:
            raise TppError(404, "PRODUCT_UNKNOWN", f"{product} is not a payment product")
        if product not in bank.products:
            raise TppError(403, "PRODUCT_INVALID", f"{bank.name} does not offer {product}")

    def payment_links(request: Request, bank: BankProfile, payment: Payment, auth: Authorisation | None,
                      explicit: bool) -> dict[str, dict[str, str]]:
        base = f"/v1/payments/{payment.product}/{payment.id}"
        links = {"self": host.link(request, bank, base), "status": host.link(request, bank, base + "/status")}
        if explicit:
            links["startAuthorisation"] = host.link(request, bank, base + "/authorisations")
        elif auth is not None:
            if bank.dialect == "oauth":
                links["scaOAuth"] = host.link(request, bank, "/.well-known/oauth-authorization-server")
            else:
                links["scaRedirect"] = host.link(request, bank, f"/sca/{auth.id}")
            links["scaStatus"] = host.link(request, bank, f"{base}/authorisations/{auth.id}")
        return links

    @r.post("/v1/payments/{product}", status_code=201)
    async def initiate(product: str, request: Request) -> Response:
        raw = await _json_body(request)

        def handle(bank: BankProfile, rid: str) -> Response:
            check_product(bank, "payments", product)
            ip = psu_ip(request.headers, required=True)
            assert ip is not None
            ok = redirect_uri(request.headers, "TPP-Redirect-URI", required=bank.dialect != "oauth")
            nok = redirect_uri(request.headers, "TPP-Nok-Redirect-URI", required=False)
            body = payment_body(raw, bank, world.today())
            if body.debtor_iban and body.debtor_iban in world.accounts and world.accounts[body.debtor_iban].bank != bank:
                raise TppError(400, "FORMAT_ERROR", "debtorAccount is not an account of this bank", "debtorAccount.iban")
            payment = world.new_payment(
                bank=bank, product=product, request_id=rid, amount=body.amount, currency=body.currency,
                creditor_iban=body.creditor_iban, creditor_name=body.creditor_name, debtor_iban=body.debtor_iban,
                end_to_end_id=body.end_to_end_id, unstructured=body.unstructured,
                creditor_reference=body.creditor_reference, creditor_reference_type=body.creditor_reference_type,
                requested_execution_date=body.requested_execution_date, redirect_uri=ok,
                nok_redirect_uri=nok, psu_ip=ip, body=body.raw,
            )
            explicit = bank.dialect == "explicit" or (
                request.headers.get("tpp-explicit-authorisation-preferred", "").lower() == "true"
                and bank.dialect != "oauth")
            auth = None if explicit else world.new_authorisation(bank, "payment", payment.id, ok, nok)
            links = payment_links(request, bank, payment, auth, explicit)
            content: dict[str, Any] = {"transactionStatus": payment.status, "paymentId": payment.id, "_links": links}
            if body.unstructured and len(body.unstructured) > 35 and bank.max_unstructured == 35:
                pass  # cannot happen: validation refuses it; kept for clarity of the limit
            return JSONResponse(content, status_code=201, headers={
                "Location": links["self"]["href"], "ASPSP-SCA-Approach": bank.sca_approach,
            })

        return await run_in_threadpool(host.call, request, "initiate", handle)

    @r.get("/v1/payments/{product}/{payment_id}")
    def get_payment(product: str, payment_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            payment = payment_of(bank, product, payment_id)
            content = dict(payment.body)
            if payment.debtor is not None:  # chosen by the payer at the SCA when not sent
                content["debtorAccount"] = {"iban": payment.debtor.iban}
            content["transactionStatus"] = payment.status
            return JSONResponse(content)

        return host.call(request, "get", handle)

    @r.get("/v1/payments/{product}/{payment_id}/status")
    def get_status(product: str, payment_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            payment = payment_of(bank, product, payment_id)
            content: dict[str, Any] = {"transactionStatus": payment.status}
            if payment.funds_available is not None:
                content["fundsAvailable"] = payment.funds_available
            if payment.status == "RJCT" and payment.reject_reason:
                content["psuMessage"] = _reject_text(payment.reject_reason)
            return JSONResponse(content)

        return host.call(request, "status", handle)

    @r.delete("/v1/payments/{product}/{payment_id}")
    def cancel(product: str, payment_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            payment = payment_of(bank, product, payment_id)
            if not world.cancel_payment(payment):
                raise TppError(405, "CANCELLATION_INVALID",
                               f"the payment cannot be cancelled any more (status {payment.status})")
            return Response(status_code=204)

        return host.call(request, "cancel", handle)

    @r.post("/v1/payments/{product}/{payment_id}/authorisations", status_code=201)
    async def start_authorisation(product: str, payment_id: str, request: Request) -> Response:
        await _json_body(request, optional=True)

        def handle(bank: BankProfile, rid: str) -> Response:
            payment = payment_of(bank, product, payment_id)
            if payment.status != "RCVD":
                raise TppError(409, "STATUS_INVALID", f"the payment needs no authorisation (status {payment.status})")
            if any(world.authorisations[a].sca_status != "failed" for a in payment.authorisations):
                # one SCA per payment: a second one could only confuse the outcome of the first
                raise TppError(409, "STATUS_INVALID", "the payment has an authorisation already")
            ok = redirect_uri(request.headers, "TPP-Redirect-URI", required=False) or payment.redirect_uri
            nok = redirect_uri(request.headers, "TPP-Nok-Redirect-URI", required=False) or payment.nok_redirect_uri
            if not ok:
                raise format_error("TPP-Redirect-URI header is missing", "TPP-Redirect-URI")
            auth = world.new_authorisation(bank, "payment", payment.id, ok, nok)
            base = f"/v1/payments/{payment.product}/{payment.id}"
            return JSONResponse({
                "scaStatus": auth.sca_status, "authorisationId": auth.id,
                "_links": {"scaRedirect": host.link(request, bank, f"/sca/{auth.id}"),
                           "scaStatus": host.link(request, bank, f"{base}/authorisations/{auth.id}")},
            }, status_code=201, headers={"ASPSP-SCA-Approach": bank.sca_approach})

        return await run_in_threadpool(host.call, request, "authorise", handle)

    @r.get("/v1/payments/{product}/{payment_id}/authorisations")
    def list_authorisations(product: str, payment_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            payment = payment_of(bank, product, payment_id)
            return JSONResponse({"authorisationIds": list(payment.authorisations)})

        return host.call(request, "sca-status", handle)

    @r.get("/v1/payments/{product}/{payment_id}/authorisations/{authorisation_id}")
    def sca_status(product: str, payment_id: str, authorisation_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            payment = payment_of(bank, product, payment_id)
            if authorisation_id not in payment.authorisations:
                raise unknown(f"authorisation {authorisation_id[:40]}")
            auth = world.authorisations[authorisation_id]
            return JSONResponse({"scaStatus": auth.sca_status})

        return host.call(request, "sca-status", handle)

    # -- account information -----------------------------------------------------
    @r.post("/v1/consents", status_code=201)
    async def create_consent(request: Request) -> Response:
        raw = await _json_body(request)

        def handle(bank: BankProfile, rid: str) -> Response:
            psu_ip(request.headers, required=False)
            ok = redirect_uri(request.headers, "TPP-Redirect-URI", required=bank.dialect != "oauth")
            nok = redirect_uri(request.headers, "TPP-Nok-Redirect-URI", required=False)
            fields = statements.consent_request(raw, world.today())
            consent = world.new_consent(bank=bank, **fields)
            auth = world.new_authorisation(bank, "consent", consent.id, ok, nok)
            base = f"/v1/consents/{consent.id}"
            links = {"self": host.link(request, bank, base), "status": host.link(request, bank, base + "/status"),
                     "scaStatus": host.link(request, bank, f"{base}/authorisations/{auth.id}")}
            if bank.dialect == "oauth":
                links["scaOAuth"] = host.link(request, bank, "/.well-known/oauth-authorization-server")
            else:
                links["scaRedirect"] = host.link(request, bank, f"/sca/{auth.id}")
            return JSONResponse({"consentStatus": consent.status, "consentId": consent.id, "_links": links},
                                status_code=201, headers={"ASPSP-SCA-Approach": bank.sca_approach,
                                                          "Location": links["self"]["href"]})

        return await run_in_threadpool(host.call, request, "consent", handle)

    def consent_of(bank: BankProfile, consent_id: str) -> Any:
        consent = world.consents.get(consent_id)
        if consent is None or consent.bank != bank:
            raise TppError(403, "CONSENT_UNKNOWN", f"consent {consent_id[:40]} is not known to this bank")
        if consent.status == "valid" and consent.valid_until < world.today():
            consent.status = "expired"
        return consent

    @r.get("/v1/consents/{consent_id}")
    def get_consent(consent_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            consent = consent_of(bank, consent_id)
            return JSONResponse({"access": consent.access, "recurringIndicator": consent.recurring,
                                 "validUntil": consent.valid_until.isoformat(),
                                 "frequencyPerDay": consent.frequency_per_day,
                                 "lastActionDate": world.today().isoformat(), "consentStatus": consent.status})

        return host.call(request, "consent", handle)

    @r.get("/v1/consents/{consent_id}/status")
    def consent_status(consent_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            return JSONResponse({"consentStatus": consent_of(bank, consent_id).status})

        return host.call(request, "consent", handle)

    @r.get("/v1/consents/{consent_id}/authorisations/{authorisation_id}")
    def consent_sca_status(consent_id: str, authorisation_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            consent = consent_of(bank, consent_id)
            if authorisation_id not in consent.authorisations:
                raise unknown(f"authorisation {authorisation_id[:40]}")
            return JSONResponse({"scaStatus": world.authorisations[authorisation_id].sca_status})

        return host.call(request, "sca-status", handle)

    @r.delete("/v1/consents/{consent_id}")
    def delete_consent(consent_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            consent = consent_of(bank, consent_id)
            consent.status = "terminatedByTpp"
            for auth_id in consent.authorisations:  # its open SCA can no longer revive it
                if world.authorisations[auth_id].sca_status not in FINAL_SCA:
                    world.authorisations[auth_id].set_status("failed", world.now())
            return Response(status_code=204)

        return host.call(request, "consent", handle)

    def valid_consent(bank: BankProfile, request: Request) -> Any:
        consent_id = request.headers.get("consent-id")
        if not consent_id:
            raise format_error("Consent-ID header is missing (mandatory on account information calls)", "Consent-ID")
        consent = consent_of(bank, consent_id)
        if consent.status == "expired":
            raise TppError(401, "CONSENT_EXPIRED", "the consent has expired")
        if consent.status != "valid":
            raise TppError(401, "CONSENT_INVALID", f"the consent is {consent.status}, not valid")
        return consent

    def count_read(consent: Any, request: Request, key: str) -> None:
        if psu_ip(request.headers, required=False):
            return  # the PSU is present: no daily limit
        slot = (world.today(), key)
        consent.reads[slot] = consent.reads.get(slot, 0) + 1
        if consent.reads[slot] > consent.frequency_per_day:
            raise TppError(429, "ACCESS_EXCEEDED",
                           f"more than {consent.frequency_per_day} reads today without the PSU present")

    @r.get("/v1/accounts")
    def accounts(request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            consent = valid_consent(bank, request)
            count_read(consent, request, "accounts")
            with_balance = request.query_params.get("withBalance") == "true"
            return JSONResponse({"accounts": [
                statements.account_json(a, host.link(request, bank, f"/v1/accounts/{a.resource_id}"), with_balance,
                                        world.today())
                for a in world.consent_accounts(consent)
            ]})

        return host.call(request, "accounts", handle)

    def account_of(bank: BankProfile, consent: Any, account_id: str, access: str) -> Any:
        for account in world.consent_accounts(consent, access):
            if account.resource_id == account_id:
                return account
        raise TppError(403, "CONSENT_INVALID", f"the consent gives no {access} access to account {account_id[:40]}")

    @r.get("/v1/accounts/{account_id}/balances")
    def balances(account_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            consent = valid_consent(bank, request)
            account = account_of(bank, consent, account_id, "balances")
            count_read(consent, request, f"balances:{account_id}")
            return JSONResponse({"account": {"iban": account.iban, "currency": account.currency},
                                 "balances": statements.balances_json(account, world.today())})

        return host.call(request, "accounts", handle)

    @r.get("/v1/accounts/{account_id}/transactions")
    def transactions(account_id: str, request: Request) -> Response:
        def handle(bank: BankProfile, rid: str) -> Response:
            consent = valid_consent(bank, request)
            account = account_of(bank, consent, account_id, "transactions")
            query = request.query_params
            status = query.get("bookingStatus")
            if status is None:
                raise format_error("bookingStatus query parameter is missing", "bookingStatus")
            if status not in ("booked", "pending", "both", "information", "all"):
                raise TppError(400, "PARAMETER_NOT_SUPPORTED", f"bookingStatus {status[:20]!r} is not supported", "bookingStatus")
            today = world.today()
            try:
                date_from = date.fromisoformat(query["dateFrom"]) if "dateFrom" in query else today - timedelta(days=89)
                date_to = date.fromisoformat(query["dateTo"]) if "dateTo" in query else today
            except ValueError:
                raise format_error("dateFrom / dateTo must be ISO dates (YYYY-MM-DD)", "dateFrom") from None
            if date_from > date_to or date_to > today or date_from < EARLIEST:
                raise TppError(400, "PERIOD_INVALID", f"period {date_from} .. {date_to} is not valid (up to today, from before to)")
            count_read(consent, request, f"transactions:{account_id}")
            accept = request.headers.get("accept", "application/json")
            if "application/xml" in accept:
                body = statements.camt053(account, date_from, date_to, world.now())
                return Response(body, media_type="application/xml")
            if "application/json" not in accept and "*/*" not in accept:
                raise TppError(406, "REQUESTED_FORMATS_INVALID", f"cannot answer in {accept[:60]}")
            return JSONResponse(statements.transactions_json(
                account, date_from, date_to, status, host.link(request, bank, f"/v1/accounts/{account.resource_id}")))

        return host.call(request, "transactions", handle)

    @r.post("/v1/{service}/{product}", status_code=201)
    def other_service(service: str, product: str, request: Request) -> Response:
        # registered last: bulk and periodic payments exist in the standard, not here
        def handle(bank: BankProfile, rid: str) -> Response:
            check_product(bank, service, product)
            raise AssertionError("unreachable: check_product refuses every service but payments")

        return host.call(request, "initiate", handle)

    return r


async def _json_body(request: Request, optional: bool = False) -> object:
    content_type = request.headers.get("content-type", "")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise format_error(f"the body is larger than {_MAX_BODY} bytes")
    if not body.strip():
        if optional:
            return None
        raise format_error("the body is empty; a JSON object is expected")
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise TppError(415, "FORMAT_ERROR", f"Content-Type {content_type[:60]!r} is not supported (application/json)")
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise format_error("the body is not valid JSON (NaN and Infinity are not JSON either)") from None


def _no_constant(name: str) -> object:
    raise ValueError(name)


def _reject_text(reason: str) -> str:
    return {"AM04": "Insufficient funds"}.get(reason, reason)


__all__ = ["FINAL_SCA", "Host", "router"]
