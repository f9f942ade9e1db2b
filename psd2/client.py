"""The PSD2 client: Berlin Group NextGenPSD2 calls to one bank over httpx.

Reads (GET) are retried with exponential backoff on 5xx, 429 and timeouts; calls that
change something (initiate, start authorisation, cancel, consents) are never retried
blindly: a failure after the request left is reported as `BankUnavailable(ambiguous=True)`
and `psd2.attempts` decides what is safe. Every bank answer is untrusted: bodies are
size-capped, parsed defensively, and links must be http(s) on the bank's own host.
"""

from __future__ import annotations

import json
import random
import re
import zlib
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from psd2._oauth_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from psd2.dialects import Dialect, for_bank
from psd2.errors import (
    AuthenticationFailed,
    BankUnavailable,
    NotFound,
    ProtocolError,
    Psd2Error,
    RateLimited,
    RequestRejected,
    TppMessage,
)
from psd2.registry import Bank
from psd2.types import BankAccount, ConsentStarted, Initiation, PaymentOrder, PaymentStatus, Transactions

MAX_JSON = 2 * 1024 * 1024
MAX_STATEMENT = 256 * 1024 * 1024


class Psd2Client:
    """Calls to one bank (`psd2.Bank`); `transport` is httpx's, for tests. Close it, or use
    it as a context manager. Every method raises a `psd2.Psd2Error` subclass when the bank
    does not do what was asked, and ValueError for an id or amount that cannot be sent."""

    def __init__(self, bank: Bank, *, transport: httpx.BaseTransport | None = None, timeout: float = 10.0,  # float-ok: seconds
                 read_retries: int = 3, backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:  # float-ok: seconds
        self.bank = bank
        self.dialect: Dialect = for_bank(bank)
        self.transport = transport
        self.timeout = timeout
        self.read_retries = read_retries
        self.backoff = backoff
        self.sleep = sleep
        self.http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Psd2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- payment initiation ------------------------------------------------------------
    def initiate(self, order: PaymentOrder, *, psu_ip: str, redirect_uri: str,
                 nok_redirect_uri: str | None = None, psu_user_agent: str | None = None) -> Initiation:
        """Create the payment at the bank and find where the payer authorises it."""
        if order.product not in self.bank.products:
            raise RequestRejected(self.bank.id, f"{self.bank.name} does not offer {order.product}")
        headers = {"PSU-IP-Address": psu_ip, "TPP-Redirect-URI": redirect_uri}
        if nok_redirect_uri:
            headers["TPP-Nok-Redirect-URI"] = nok_redirect_uri
        body = _payment_body(order)
        data, _ = self._call("POST", f"/v1/payments/{order.product}", json_body=body, headers=headers,
                             psu_user_agent=psu_user_agent)
        payment_id = _bank_id(data, "paymentId", self.bank.id)
        try:
            status = _text(data, "transactionStatus", self.bank.id, limit=8)
            return self._sca_of(order, payment_id, status, data, psu_ip, redirect_uri, nok_redirect_uri, psu_user_agent)
        except Psd2Error as exc:
            # the payment exists at the bank but kvits cannot send the payer to its SCA:
            # take it back where the bank allows (else the bank rejects it when its SCA
            # times out), and count it as an orphan when the bank was merely unreachable
            try:
                self.cancel(order.product, payment_id)
            except Psd2Error:
                pass
            if isinstance(exc, BankUnavailable):
                raise BankUnavailable(self.bank.id, f"payment {payment_id} was created but its SCA could not be "
                                      f"started: {exc}", exc.status, exc.messages, ambiguous=True) from exc
            raise

    def _sca_of(self, order: PaymentOrder, payment_id: str, status: str, data: Mapping[str, Any], psu_ip: str,
                redirect_uri: str, nok_redirect_uri: str | None, psu_user_agent: str | None) -> Initiation:
        links = self._links(data)
        initiation = Initiation(payment_id=payment_id, product=order.product, transaction_status=status,
                                sca_redirect=links.get("scaRedirect"), authorisation_id=_last_segment(links.get("scaStatus")),
                                links=links)
        if "scaOAuth" in links:
            return self._oauth_authorization(initiation, links["scaOAuth"], f"PIS:{payment_id}", redirect_uri)
        if initiation.sca_redirect is None and "startAuthorisation" in links:
            redirect, auth_id = self.start_authorisation(order.product, payment_id, psu_ip=psu_ip,
                                                         redirect_uri=redirect_uri, nok_redirect_uri=nok_redirect_uri,
                                                         psu_user_agent=psu_user_agent,
                                                         url=links["startAuthorisation"])
            return Initiation(payment_id, order.product, status, redirect, auth_id, links)
        if initiation.sca_redirect is None and status not in ("RJCT", "CANC"):
            raise ProtocolError(self.bank.id, "the initiation answer has no scaRedirect, scaOAuth or startAuthorisation link")
        return initiation

    def start_authorisation(self, product: str, payment_id: str, *, psu_ip: str, redirect_uri: str,
                            nok_redirect_uri: str | None = None, psu_user_agent: str | None = None,
                            url: str | None = None) -> tuple[str, str]:
        headers = {"PSU-IP-Address": psu_ip, "TPP-Redirect-URI": redirect_uri}
        if nok_redirect_uri:
            headers["TPP-Nok-Redirect-URI"] = nok_redirect_uri
        data, _ = self._call("POST", url or f"/v1/payments/{_seg(product)}/{_seg(payment_id)}/authorisations",
                             json_body={}, headers=headers, psu_user_agent=psu_user_agent)
        links = self._links(data)
        if "scaRedirect" not in links:
            raise ProtocolError(self.bank.id, "startAuthorisation answered without a scaRedirect link")
        return links["scaRedirect"], _bank_id(data, "authorisationId", self.bank.id)

    def status(self, product: str, payment_id: str) -> PaymentStatus:
        data, _ = self._call("GET", f"/v1/payments/{_seg(product)}/{_seg(payment_id)}/status")
        funds = data.get("fundsAvailable")
        message = data.get("psuMessage")
        return PaymentStatus(_text(data, "transactionStatus", self.bank.id, limit=8),
                             funds if isinstance(funds, bool) else None,
                             message[:500] if isinstance(message, str) else None)

    def payment(self, product: str, payment_id: str) -> dict[str, Any]:
        data, _ = self._call("GET", f"/v1/payments/{_seg(product)}/{_seg(payment_id)}")
        return data

    def sca_status(self, product: str, payment_id: str, authorisation_id: str) -> str:
        data, _ = self._call("GET", f"/v1/payments/{_seg(product)}/{_seg(payment_id)}/authorisations/{_seg(authorisation_id)}")
        return _text(data, "scaStatus", self.bank.id, limit=40)

    def cancel(self, product: str, payment_id: str) -> bool:
        """True when the bank cancelled it; False when it needs a cancellation authorisation.
        Too late to cancel: RequestRejected with CANCELLATION_INVALID."""
        _, status = self._call("DELETE", f"/v1/payments/{_seg(product)}/{_seg(payment_id)}")
        return status == 204

    def finish_oauth(self, initiation_state: str, verifier: str, redirect_uri: str,
                     callback: Mapping[str, str]) -> None:
        """The payer came back from an OAuth bank: exchange the code (that finishes the SCA).
        A callback with the wrong state, an error, or an already used code raises."""
        if callback.get("state") != initiation_state:
            raise ProtocolError(self.bank.id, "the OAuth callback's state does not match this payment")
        if "error" in callback:
            raise RequestRejected(self.bank.id, f"the payer's authorisation ended with {callback['error'][:60]}")
        code = callback.get("code")
        if not code:
            raise ProtocolError(self.bank.id, "the OAuth callback carries no code")
        metadata = self._oauth_metadata(self.bank.base_url + "/.well-known/oauth-authorization-server")
        client = OAuth2Client(self.bank.client_id, self.bank.client_secret, transport=self.transport,
                              timeout=self.timeout, token_endpoint_auth_method="client_secret_post")
        try:
            client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code", code=code,
                               redirect_uri=redirect_uri, code_verifier=verifier)
        except httpx.HTTPError as exc:
            raise BankUnavailable(self.bank.id, f"token endpoint unreachable: {exc}", ambiguous=True) from None
        except Exception as exc:  # authlib's OAuthError: invalid_grant for a used or expired code
            raise RequestRejected(self.bank.id, f"the bank refused the authorization code: {exc}") from None
        finally:
            client.close()

    # -- account information ----------------------------------------------------------
    def create_consent(self, *, ibans: list[str], valid_until: date, recurring: bool = True,
                       frequency_per_day: int = 4, redirect_uri: str, psu_ip: str | None = None,
                       psu_user_agent: str | None = None) -> ConsentStarted:
        refs = [{"iban": i} for i in ibans]
        body = {"access": {"accounts": refs, "balances": refs, "transactions": refs},
                "recurringIndicator": recurring, "validUntil": valid_until.isoformat(),
                "frequencyPerDay": frequency_per_day, "combinedServiceIndicator": False}
        headers = {"TPP-Redirect-URI": redirect_uri}
        if psu_ip:
            headers["PSU-IP-Address"] = psu_ip
        data, _ = self._call("POST", "/v1/consents", json_body=body, headers=headers, psu_user_agent=psu_user_agent)
        consent_id = _bank_id(data, "consentId", self.bank.id)
        links = self._links(data)
        started = ConsentStarted(consent_id, _text(data, "consentStatus", self.bank.id, limit=40),
                                 links.get("scaRedirect"), _last_segment(links.get("scaStatus")))
        if "scaOAuth" in links:
            oauth = self._oauth_authorization(
                Initiation(consent_id, "consent", started.consent_status, None, started.authorisation_id),
                links["scaOAuth"], f"AIS:{consent_id}", redirect_uri)
            return ConsentStarted(consent_id, started.consent_status, oauth.sca_redirect, started.authorisation_id,
                                  oauth.oauth_state, oauth.oauth_verifier)
        return started

    def consent_status(self, consent_id: str) -> str:
        data, _ = self._call("GET", f"/v1/consents/{_seg(consent_id)}/status")
        return _text(data, "consentStatus", self.bank.id, limit=40)

    def accounts(self, consent_id: str) -> list[BankAccount]:
        data, _ = self._call("GET", "/v1/accounts", headers={"Consent-ID": consent_id})
        items = data.get("accounts")
        if not isinstance(items, list):
            raise ProtocolError(self.bank.id, "the accounts answer has no accounts list")
        result = []
        for item in items:
            if not isinstance(item, dict):
                raise ProtocolError(self.bank.id, "an account that is not an object")
            result.append(BankAccount(_bank_id(item, "resourceId", self.bank.id), _opt(item, "iban"), _opt(item, "currency"),
                                      _opt(item, "name"), _opt(item, "ownerName")))
        return result

    def transactions(self, consent_id: str, account_id: str, date_from: date, date_to: date) -> Transactions:
        data, _ = self._call("GET", f"/v1/accounts/{_seg(account_id)}/transactions",
                             params={"bookingStatus": "booked", "dateFrom": date_from.isoformat(),
                                     "dateTo": date_to.isoformat()}, headers={"Consent-ID": consent_id})
        block = data.get("transactions")
        if not isinstance(block, dict) or not isinstance(block.get("booked", []), list):
            raise ProtocolError(self.bank.id, "the transactions answer has no transactions.booked list")
        raw_account = data.get("account")
        account: Mapping[str, Any] = raw_account if isinstance(raw_account, dict) else {}
        pending_list = block.get("pending", [])
        if not isinstance(pending_list, list):
            raise ProtocolError(self.bank.id, "transactions.pending is not a list")
        booked = tuple(t for t in block.get("booked", []) if isinstance(t, dict))
        pending = tuple(t for t in pending_list if isinstance(t, dict))
        return Transactions(_opt(account, "iban"), booked, pending)

    def statement(self, consent_id: str, account_id: str, date_from: date, date_to: date) -> bytes:
        """The account's statement as camt (the bank picks 052/053 by period); read it with
        `camt.read`, which treats it as the untrusted file it is."""
        _, _, body = self._request("GET", f"/v1/accounts/{_seg(account_id)}/transactions",
                                   params={"bookingStatus": "booked", "dateFrom": date_from.isoformat(),
                                           "dateTo": date_to.isoformat()},
                                   headers={"Consent-ID": consent_id, "Accept": "application/xml"},
                                   limit=MAX_STATEMENT)
        return body

    # -- OAuth approach -------------------------------------------------------------
    def _oauth_metadata(self, url: str) -> dict[str, str]:
        data, _ = self._call("GET", url, authenticated=False, bank_api=False)
        result = {}
        for key in ("authorization_endpoint", "token_endpoint"):
            value = data.get(key)
            if not isinstance(value, str):
                raise ProtocolError(self.bank.id, f"the OAuth metadata has no {key}")
            result[key] = self._safe_link(value)
        return result

    def _oauth_authorization(self, initiation: Initiation, metadata_url: str, scope: str,
                             redirect_uri: str) -> Initiation:
        metadata = self._oauth_metadata(metadata_url)
        if not self.bank.client_id:
            raise AuthenticationFailed(self.bank.id, "no OAuth client_id configured for this bank")
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(24)
        query = urlencode({"response_type": "code", "client_id": self.bank.client_id, "scope": scope,
                           "state": state, "redirect_uri": redirect_uri,
                           "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"})
        url = metadata["authorization_endpoint"]
        return Initiation(initiation.payment_id, initiation.product, initiation.transaction_status,
                          url + ("&" if "?" in url else "?") + query, initiation.authorisation_id,
                          initiation.links, oauth_state=state, oauth_verifier=verifier)

    # -- HTTP ---------------------------------------------------------------------------
    def _links(self, data: Mapping[str, Any]) -> dict[str, str]:
        raw = data.get("_links")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ProtocolError(self.bank.id, "_links is not an object")
        links = {}
        for name, value in raw.items():
            href = value.get("href") if isinstance(value, dict) else None
            if isinstance(href, str) and href:
                links[str(name)] = self._safe_link(href)
        return links

    def _safe_link(self, href: str) -> str:
        """Resolve a (possibly host-relative) link; refuse anything off the bank's host."""
        try:
            url = urljoin(self.bank.host + "/", href)
            parts, host = urlsplit(url), urlsplit(self.bank.host)
            same = (parts.scheme, parts.hostname, _port(parts)) == (host.scheme, host.hostname, _port(host))
        except ValueError:
            same = False
        if not same or parts.username or parts.password or len(url) > 2000 or _UNSAFE_URL.search(url):
            raise ProtocolError(self.bank.id, f"the bank sent a link outside its own host: {href[:120]!r}")
        return url

    def _call(self, method: str, path: str, *, json_body: object = None, params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None, psu_user_agent: str | None = None,
              authenticated: bool = True, bank_api: bool = True) -> tuple[dict[str, Any], int]:
        status, _, body = self._request(method, path, json_body=json_body, params=params, headers=headers,
                                        psu_user_agent=psu_user_agent, authenticated=authenticated,
                                        bank_api=bank_api, limit=MAX_JSON)
        if status == 204 or not body:
            return {}, status
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise ProtocolError(self.bank.id, f"{method} {_short(path)}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise ProtocolError(self.bank.id, f"{method} {path}: the answer is not a JSON object")
        return data, status

    def _request(self, method: str, path: str, *, json_body: object = None, params: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, psu_user_agent: str | None = None,
                 authenticated: bool = True, bank_api: bool = True, limit: int) -> tuple[int, httpx.Headers, bytes]:
        url = path if path.startswith(("http://", "https://")) else self.bank.base_url + path
        query = {**(self.dialect.params() if bank_api else {}), **(params or {})}
        retries = self.read_retries if method == "GET" else 0
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            all_headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                           "X-Request-ID": str(uuid.uuid4()),
                           **(self.dialect.headers(psu_user_agent) if bank_api else {}), **(headers or {})}
            try:
                if authenticated and bank_api:
                    all_headers.update(self.dialect.authorize(self.transport, self.timeout, renew=renewed))
                status, response_headers, body = self._send(method, url, query, all_headers, json_body, limit)
            except BankUnavailable as exc:
                if attempt > retries:
                    raise
                self.sleep(self._delay(attempt, exc))
                continue
            if 200 <= status < 300:
                return status, response_headers, body
            error = self._error(method, path, status, response_headers, body)
            if isinstance(error, AuthenticationFailed) and not renewed and self.bank.sca_approach == "oauth" and \
                    set(error.codes) & {"TOKEN_EXPIRED", "TOKEN_UNKNOWN", "TOKEN_INVALID"}:
                renewed = True  # 401: nothing was done, so even a POST may be sent again
                attempt -= 1
                continue
            if isinstance(error, BankUnavailable) and attempt <= retries:
                self.sleep(self._delay(attempt, error))
                continue
            raise error

    def _send(self, method: str, url: str, params: Mapping[str, str], headers: Mapping[str, str],
              json_body: object, limit: int) -> tuple[int, httpx.Headers, bytes]:
        changes = method != "GET"
        try:
            request = self.http.build_request(method, url, params=params, headers=headers,
                                              json=json_body if json_body is not None else None)
            response = self.http.send(request, stream=True)
        except httpx.ConnectError as exc:
            # nothing reached the bank: safe to repeat even a POST
            raise BankUnavailable(self.bank.id, f"{method} {_short(url)}: cannot connect ({exc})") from None
        except (httpx.DecodingError, httpx.InvalidURL) as exc:
            raise ProtocolError(self.bank.id, f"{method} {_short(url)}: {type(exc).__name__}: {exc}"[:300]) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise BankUnavailable(self.bank.id, f"{method} {_short(url)}: no answer ({type(exc).__name__})",
                                  ambiguous=changes) from None
        try:
            return response.status_code, response.headers, self._body(response, method, url, limit, changes)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise BankUnavailable(self.bank.id, f"{method} {_short(url)}: the answer broke off ({type(exc).__name__})",
                                  status=response.status_code, ambiguous=changes) from None
        finally:
            response.close()

    def _body(self, response: httpx.Response, method: str, url: str, limit: int, changes: bool) -> bytes:
        """The body, decompressed here (one gzip or deflate layer at most) within `limit`:
        httpx would unpack stacked layers of each chunk before anything could count them."""
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "deflate"):
            raise ProtocolError(self.bank.id, f"{method} {_short(url)}: content encoding {encoding[:40]!r} is not accepted")
        if getattr(response, "_content", None) is not None:
            # built in memory (a mock transport in tests): httpx holds and decodes it already
            try:
                content = response.content
            except httpx.DecodingError:
                raise ProtocolError(self.bank.id, f"{method} {_short(url)}: the answer's {encoding} encoding is broken") from None
            if len(content) > limit:
                raise ProtocolError(self.bank.id, f"{method} {_short(url)}: the answer is larger than {limit} bytes")
            return content
        decoder = zlib.decompressobj(31 if encoding == "gzip" else 15) if encoding in ("gzip", "deflate") else None
        body = bytearray()
        # httpx's read timeout is per chunk: a bank dripping bytes must not hold us forever
        deadline = time.monotonic() + 3 * self.timeout + limit / (1024 * 1024)
        for chunk in response.iter_raw():
            try:
                if decoder is None:
                    body += chunk
                else:
                    body += decoder.decompress(chunk, limit + 1 - len(body))
                    while decoder.unconsumed_tail and len(body) <= limit:
                        body += decoder.decompress(decoder.unconsumed_tail, limit + 1 - len(body))
            except zlib.error:
                raise ProtocolError(self.bank.id, f"{method} {_short(url)}: the answer's {encoding} encoding is broken") from None
            if len(body) > limit:
                raise ProtocolError(self.bank.id, f"{method} {_short(url)}: the answer is larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise BankUnavailable(self.bank.id, f"{method} {_short(url)}: the answer is too slow to arrive",
                                      status=response.status_code, ambiguous=changes)
        return bytes(body)

    def _error(self, method: str, path: str, status: int, headers: httpx.Headers, body: bytes) -> Psd2Error:
        messages = _tpp_messages(body)
        text = f"{method} {_short(path if path.startswith('http') else self.bank.base_url + path)} answered {status}"
        if status == 429:
            return RateLimited(self.bank.id, text, _retry_after(headers.get("retry-after")), messages)
        if status >= 500:
            return BankUnavailable(self.bank.id, text, status, messages, ambiguous=method != "GET")
        if status == 401:
            return AuthenticationFailed(self.bank.id, text, status, messages)
        if status == 404:
            return NotFound(self.bank.id, text, status, messages)
        if 400 <= status < 500:
            return RequestRejected(self.bank.id, text, status, messages)
        return ProtocolError(self.bank.id, f"{text} (unexpected status)", status, messages)

    def _delay(self, attempt: int, error: BankUnavailable) -> float:  # float-ok: seconds
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return float(min(error.retry_after, 30.0))  # float-ok: seconds
        return float(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))  # float-ok: seconds


def _payment_body(order: PaymentOrder) -> dict[str, Any]:
    body: dict[str, Any] = {
        "endToEndIdentification": order.end_to_end_id,
        "instructedAmount": {"currency": order.currency, "amount": _amount(order)},
        "creditorAccount": {"iban": order.creditor_iban},
        "creditorName": order.creditor_name,
    }
    if order.debtor_iban:
        body["debtorAccount"] = {"iban": order.debtor_iban}
    if order.creditor_reference:
        body["remittanceInformationStructured"] = {"reference": order.creditor_reference, "referenceType": "SCOR"}
    elif order.unstructured:
        body["remittanceInformationUnstructured"] = order.unstructured
    if order.requested_execution_date:
        body["requestedExecutionDate"] = order.requested_execution_date.isoformat()
    return body


def _amount(order: PaymentOrder) -> str:
    from core.money import minor_unit

    places = minor_unit(order.currency)
    exponent = order.amount.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > places or order.amount <= 0:
        raise ValueError(f"{order.amount} {order.currency} is not a payable amount ({places} decimals)")
    return f"{order.amount:.{places}f}"


def _tpp_messages(body: bytes) -> tuple[TppMessage, ...]:
    try:
        data = json.loads(body[:MAX_JSON]) if body else {}
    except (ValueError, RecursionError):
        return ()
    raw = data.get("tppMessages") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return ()
    result = []
    for item in raw[:20]:
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            result.append(TppMessage(str(item.get("category", "ERROR"))[:10], item["code"][:60],
                                     str(item.get("text", ""))[:500], str(item["path"])[:200] if item.get("path") else None))
    return tuple(result)


def _retry_after(value: str | None) -> float | None:  # float-ok: seconds
    try:
        return max(0.0, float(value)) if value else None  # float-ok: seconds
    except ValueError:
        return None


def _text(data: Mapping[str, Any], key: str, bank_id: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError(bank_id, f"the answer's {key} is missing or not a short string")
    return value


def _opt(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value[:200] if isinstance(value, str) else None


_ID = re.compile(r"[A-Za-z0-9._~:@+=-]{1,200}")
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f\\]")


def _seg(value: str) -> str:
    """An id going into a path: one plain segment, nothing a URL would read otherwise."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"{str(value)[:60]!r} is not a usable resource id")
    return value


def _bank_id(data: Mapping[str, Any], key: str, bank_id: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _ID.fullmatch(value) or value in (".", ".."):
        raise ProtocolError(bank_id, f"the answer's {key} is missing or not a plain id")
    return value


def _last_segment(url: str | None) -> str | None:
    """The authorisation id at the end of a scaStatus link, if it is a plain id."""
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] if url else ""
    return segment if _ID.fullmatch(segment) else None


def _port(parts: Any) -> int | None:
    return parts.port or {"https": 443, "http": 80}.get(parts.scheme)


def _short(url: str) -> str:
    parts = urlsplit(url)
    return parts.path[:120]
