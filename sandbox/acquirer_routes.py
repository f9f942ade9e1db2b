"""The card acquirer over HTTP, under `/acquirer`: the merchant's JSON API (`/v1`, a
bearer secret key, errors as `{"error": {"code", "message"}}`) and the payer's pages
(the hosted card form and the 3-D Secure challenge), which work without JavaScript."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from starlette.concurrency import run_in_threadpool

from sandbox.acquirer import (
    ACQUIRER_KEY,
    ACQUIRER_NAME,
    PAYMENT_TIMEOUT,
    TEST_CARDS,
    AcquirerError,
    CardPayment,
    amount_body,
    card_input,
    idempotency_key,
    invalid,
    payment_json,
    payment_request,
    payout_json,
    refund_json,
    with_payment,
)
from sandbox.sca import _PAGE_HEADERS, TEMPLATES, _same
from sandbox.users import ONE_TIME_CODE
from sandbox.world import World

PREFIX = "/acquirer"
_MAX_BODY = 64 * 1024
_COLOUR = "#3730a3"
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
BodyRule = Literal["none", "optional", "required"]


def router(world: World) -> APIRouter:
    r = APIRouter(prefix=PREFIX)
    acquirer = world.acquirer

    def locked(handler: Callable[[], Response]) -> Response:
        with world.lock:
            world.tick()
            return handler()

    async def api(request: Request, handler: Callable[[Any, str | None], Response], body: BodyRule = "none",
                  key: bool = False) -> Response:
        """One API call: the secret key, the Idempotency-Key, the JSON body, then the
        handler under the world's lock; every refusal in the acquirer's error shape."""
        try:
            _authorise(request.headers)
            given_key = idempotency_key(request.headers) if key else None
            raw = None if body == "none" else await _json_body(request, required=body == "required")
            return await run_in_threadpool(locked, lambda: handler(raw, given_key))
        except AcquirerError as exc:
            return exc.response()

    def form_url(request: Request, payment: CardPayment) -> str:
        return str(request.base_url).rstrip("/") + f"{PREFIX}/pay/{payment.id}"

    def shown(request: Request, payment: CardPayment, status: int = 200,
              headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(payment_json(acquirer, payment, form_url(request, payment)), status_code=status,
                            headers=headers)

    # -- the merchant's API ------------------------------------------------------------
    @r.post("/v1/payments", status_code=201, tags=["card acquirer"])
    async def create_payment(request: Request) -> Response:
        """A card payment the payer pays on the hosted form (`form_url`)."""
        def handle(raw: Any, key: str | None) -> Response:
            assert key is not None
            order = payment_request(raw)
            earlier = acquirer.replayed(key, "POST /payments", raw)
            if earlier is not None:
                return shown(request, acquirer.payments[earlier], 200, {"Idempotent-Replayed": "true"})
            payment = acquirer.create(order)
            acquirer.remember(key, "POST /payments", raw, payment.id)
            return shown(request, payment, 201)

        return await api(request, handle, body="required", key=True)

    @r.get("/v1/payments/{payment_id}", tags=["card acquirer"])
    async def get_payment(payment_id: str, request: Request) -> Response:
        return await api(request, lambda raw, key: shown(request, acquirer.payment(payment_id)))

    @r.post("/v1/payments/{payment_id}/capture", tags=["card acquirer"])
    async def capture(payment_id: str, request: Request) -> Response:
        """Capture the authorisation, all of it or `{"amount": "..."}` of it."""
        def handle(raw: Any, key: str | None) -> Response:
            amount = amount_body(raw, required=False)
            return shown(request, acquirer.capture(acquirer.payment(payment_id), amount))

        return await api(request, handle, body="optional")

    @r.post("/v1/payments/{payment_id}/cancel", tags=["card acquirer"])
    async def cancel(payment_id: str, request: Request) -> Response:
        def handle(raw: Any, key: str | None) -> Response:
            if raw is not None and raw != {}:
                raise invalid("cancel takes no body fields (send none, or {})")
            return shown(request, acquirer.cancel(acquirer.payment(payment_id)))

        return await api(request, handle, body="optional")

    @r.post("/v1/payments/{payment_id}/refunds", status_code=201, tags=["card acquirer"])
    async def refund(payment_id: str, request: Request) -> Response:
        """Refund `{"amount": "..."}` of a captured payment, at most what is left."""
        def handle(raw: Any, key: str | None) -> Response:
            assert key is not None
            amount = amount_body(raw, required=True)
            assert amount is not None
            call = f"POST /payments/{payment_id[:60]}/refunds"
            earlier = acquirer.replayed(key, call, raw)
            if earlier is not None:
                return JSONResponse(refund_json(acquirer, acquirer.refunds[earlier]), headers={"Idempotent-Replayed": "true"})
            made = acquirer.refund(acquirer.payment(payment_id), amount)
            acquirer.remember(key, call, raw, made.id)
            return JSONResponse(refund_json(acquirer, made), status_code=201)

        return await api(request, handle, body="required", key=True)

    @r.get("/v1/payouts/{payout_id}", tags=["card acquirer"])
    async def get_payout(payout_id: str, request: Request) -> Response:
        return await api(request, lambda raw, key: JSONResponse(payout_json(acquirer.payout(payout_id))))

    @r.get("/v1/payouts", tags=["card acquirer"])
    async def list_payouts(request: Request) -> Response:
        """Payouts, oldest first, optionally of one day (`date`) and one account (`payout_iban`)."""
        def handle(raw: Any, key: str | None) -> Response:
            day, iban = _payout_filter(request.query_params)
            found = [p for p in acquirer.payouts.values()
                     if (day is None or p.day == day) and (iban is None or p.payout_iban == iban)]
            found.sort(key=lambda p: (p.day, p.created_at))
            return JSONResponse([payout_json(p) for p in found])

        return await api(request, handle)

    # -- the payer's pages -------------------------------------------------------------
    def page(request: Request, name: str, payment: CardPayment | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        response = TEMPLATES.TemplateResponse(request, name, {
            "colour": _COLOUR, "acquirer_name": ACQUIRER_NAME, "payment": payment,
            "amount": _amount(payment) if payment else "", **context}, status_code=status)
        response.headers.update(_page_headers(payment.return_url if payment else None))
        return response

    def unknown_page(request: Request) -> HTMLResponse:
        return page(request, "card_done.html", None, 404, title="Payment not found",
                    message="This payment link is not known to the acquirer.", back=None, merchant="")

    def closed_page(request: Request, payment: CardPayment, status: int = 200) -> HTMLResponse:
        """A payment that takes no card (any more): say why, never show the form."""
        minutes = PAYMENT_TIMEOUT.seconds // 60
        title, message = {
            "declined": ("Payment declined", f"This payment was declined: {payment.decline_message}"),
            "expired": ("Payment expired", f"This payment was not completed within {minutes} minutes."),
            "cancelled": ("Payment cancelled", "The merchant cancelled this payment."),
        }.get(payment.status, ("Payment complete", "This payment has been paid by card already."))
        return page(request, "card_done.html", payment, status, title=title,
                    message=message + " Nothing more to do here.",
                    back=with_payment(payment.return_url, payment.id), merchant=payment.payout_name)

    def refused_page(request: Request, payment: CardPayment) -> HTMLResponse:
        return page(request, "card_done.html", payment, 403, title="Refused",
                    message="The form did not come from this payment's page.", back=None, merchant="")

    def back_to_merchant(payment: CardPayment) -> Response:
        return RedirectResponse(with_payment(payment.return_url, payment.id), status_code=303)

    def card_form(request: Request, payment: CardPayment, status: int = 200,
                  errors: dict[str, str] | None = None, values: Mapping[str, str] | None = None) -> HTMLResponse:
        return page(request, "card_form.html", payment, status, title="Pay by card",
                    action=f"{PREFIX}/pay/{payment.id}", form_token=payment.form_token, errors=errors or {},
                    values={"expiry": (values or {}).get("expiry", ""), "name": (values or {}).get("name", "")},
                    test_cards=[(_grouped(c.number), c.description) for c in TEST_CARDS])

    def challenge(request: Request, payment: CardPayment, status: int = 200, error: str | None = None) -> HTMLResponse:
        return page(request, "card_3ds.html", payment, status, title="Your bank confirms it is you",
                    action=f"{PREFIX}/pay/{payment.id}/3ds", form_token=payment.form_token, error=error,
                    code_hint=ONE_TIME_CODE, card=f"{(payment.brand or 'card').title()} •••• {payment.last4}")

    def to_challenge(payment: CardPayment) -> Response:
        return RedirectResponse(f"{PREFIX}/pay/{payment.id}/3ds", status_code=303)

    def to_form(payment: CardPayment) -> Response:
        return RedirectResponse(f"{PREFIX}/pay/{payment.id}", status_code=303)

    def where(request: Request, payment_id: str, page: str, closed: int = 200) -> CardPayment | Response:
        """The payment when it is at `page` ("form" or "3ds"), else the page it belongs on."""
        payment = acquirer.payments.get(payment_id)
        if payment is None:
            return unknown_page(request)
        if page == "form" and payment.status == "requires_action":
            return to_challenge(payment)
        if page == "3ds" and payment.status == "requires_payment_method":
            return to_form(payment)
        if payment.status != ("requires_payment_method" if page == "form" else "requires_action"):
            return closed_page(request, payment, closed)  # (a second submit changes nothing)
        return payment

    @r.get("/pay/{payment_id}", response_class=HTMLResponse, include_in_schema=False)
    def form_page(payment_id: str, request: Request) -> Response:
        with world.lock:
            world.tick()
            found = where(request, payment_id, "form")
            return found if isinstance(found, Response) else card_form(request, found)

    @r.post("/pay/{payment_id}", response_class=HTMLResponse, include_in_schema=False)
    async def form_sent(payment_id: str, request: Request) -> Response:
        # the card's fields are read here and handed on, never kept, logged or shown again
        values = {k: str(v)[:200] for k, v in (await request.form()).items()}
        with world.lock:
            world.tick()
            payment = where(request, payment_id, "form", 409)
            if isinstance(payment, Response):
                return payment
            if not _same(values.get("form_token", ""), payment.form_token):
                return refused_page(request, payment)
            card, errors = card_input(values, world.today())
            if card is None:
                return card_form(request, payment, 422, errors, values)
            decided = acquirer.card_entered(payment, card.number)
            return to_challenge(payment) if decided == "requires_action" else back_to_merchant(payment)

    @r.get("/pay/{payment_id}/3ds", response_class=HTMLResponse, include_in_schema=False)
    def challenge_page(payment_id: str, request: Request) -> Response:
        with world.lock:
            world.tick()
            found = where(request, payment_id, "3ds")
            return found if isinstance(found, Response) else challenge(request, found)

    @r.post("/pay/{payment_id}/3ds", response_class=HTMLResponse, include_in_schema=False)
    async def challenge_sent(payment_id: str, request: Request) -> Response:
        values = {k: str(v)[:200] for k, v in (await request.form()).items()}
        with world.lock:
            world.tick()
            payment = where(request, payment_id, "3ds", 409)
            if isinstance(payment, Response):
                return payment
            if not _same(values.get("form_token", ""), payment.form_token):
                return refused_page(request, payment)
            if values.get("action") == "cancel":
                acquirer.challenge_cancelled(payment)
                return back_to_merchant(payment)
            left = acquirer.code_entered(payment, _same(values.get("code", "").strip(), ONE_TIME_CODE))
            if left:
                return challenge(request, payment, 400,
                                 error=f"Wrong code. {left} {'try' if left == 1 else 'tries'} left.")
            return back_to_merchant(payment)

    return r


def _authorise(headers: Mapping[str, str]) -> None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="sandbox acquirer"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise AcquirerError(401, "unauthorized", "the Authorization header is missing: send "
                            "'Authorization: Bearer <secret key>'", challenge)
    if not _same(token.strip(), ACQUIRER_KEY):
        raise AcquirerError(401, "unauthorized", "the secret key in the Authorization header is not known "
                            "to the acquirer", challenge)


async def _json_body(request: Request, required: bool) -> object:
    """The body as strict JSON (no duplicate keys, no NaN), or None when empty and allowed."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise invalid(f"the body is larger than {_MAX_BODY} bytes")
    if not body.strip():
        if required:
            raise invalid("the body is empty; a JSON object is expected")
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise invalid(f"Content-Type {media[:60]!r} is not accepted: send application/json")
    try:
        return json.loads(body, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"the body is not valid JSON ({str(exc)[:100]})") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"field {key[:40]!r} appears twice")
        result[key] = value
    return result


def _payout_filter(query: Mapping[str, str]) -> tuple[date | None, str | None]:
    unknown = sorted(set(query) - {"date", "payout_iban"})
    if unknown:
        raise invalid(f"unknown query parameter {', '.join(unknown)[:100]} (date, payout_iban)")
    day = iban = None
    if "date" in query:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", query["date"]):
                raise ValueError(query["date"])
            day = date.fromisoformat(query["date"])
        except ValueError:
            raise invalid(f"date {query['date'][:20]!r} is not a date (YYYY-MM-DD)") from None
    if "payout_iban" in query:
        try:
            iban = IBAN(query["payout_iban"]).compact
        except SchwiftyException as exc:
            raise invalid(f"payout_iban {query['payout_iban'][:40]!r} is not a valid IBAN: {exc}") from None
    return day, iban


def _page_headers(return_url: str | None) -> dict[str, str]:
    """The bank pages' headers; a merchant on plain http beyond this machine is added to
    form-action, as browsers apply it to the redirect that follows a form post."""
    headers = dict(_PAGE_HEADERS)
    if return_url is None:
        return headers
    parts = urlsplit(return_url)
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1") \
            and _HOST.fullmatch(parts.netloc):
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' http://{parts.netloc}", 1)
    return headers


def _amount(payment: CardPayment) -> str:
    return f"{payment.amount:,.2f} {payment.currency}".replace(",", " ")


def _grouped(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def http_error(path: str, method: str, status: int) -> Response:
    """An address or method the acquirer's API does not serve, in its error shape."""
    if status == 405:
        return AcquirerError(405, "method_not_allowed", f"{method} is not offered on {path[:120]}").response()
    return AcquirerError(status, "not_found" if status == 404 else "invalid_request",
                         f"{path[:120]} is not offered by the acquirer").response()
