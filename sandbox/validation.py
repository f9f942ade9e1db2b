"""Checking what a TPP sends, as strictly as a careful bank does: headers the standard
makes mandatory, and payment bodies field by field, each problem named with its path."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import iso11649

from core.money import minor_unit
from sandbox.banks import BankProfile
from sandbox.errors import TppError, TppMessage, format_error

_AMOUNT = re.compile(r"-?[0-9]{1,14}(\.[0-9]{1,3})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# SEPA's character set, widened to the Baltic letters and Cyrillic banks accept in names
# control characters, what XML cannot carry (lone surrogates, U+FFFE/U+FFFF) and the
# bidirectional overrides that make a name read differently on the SCA page
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_WORD = re.compile(r"\w")
# control, format (bidi marks, zero-width, soft hyphen, tags, BOM), surrogate, private,
# unassigned and line/paragraph separators: nothing a payer should be shown
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RF = re.compile(r"[A-Za-z0-9]{1,35}")
MAX_AHEAD = 366  # days a payment may be dated ahead


def request_id(headers: Mapping[str, str]) -> str:
    value = headers.get("x-request-id")
    if not value:
        raise format_error("X-Request-ID header is missing (a UUID on every call)", "X-Request-ID")
    if not is_uuid(value):
        raise format_error(f"X-Request-ID {value[:60]!r} is not a UUID", "X-Request-ID")
    return value


def is_uuid(value: str) -> bool:
    """The canonical 8-4-4-4-12 form the standard's format means, nothing looser."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def psu_ip(headers: Mapping[str, str], required: bool) -> str | None:
    value = headers.get("psu-ip-address")
    if not value:
        if required:
            raise format_error("PSU-IP-Address header is missing (mandatory on payment initiation)", "PSU-IP-Address")
        return None
    try:
        if "%" in value:  # a zone id is local to the payer's machine
            raise ValueError(value)
        ipaddress.ip_address(value)
    except ValueError:
        raise format_error(f"PSU-IP-Address {value[:60]!r} is not an IP address", "PSU-IP-Address") from None
    return value


def redirect_uri(headers: Mapping[str, str], name: str, required: bool) -> str | None:
    value = headers.get(name.lower())
    if not value:
        if required:
            raise format_error(f"{name} header is missing (this bank uses the redirect approach)", name)
        return None
    problem = f"{name} must be an https address (http only on localhost): {value[:100]!r}"
    if len(value) > 2000 or any(c in value for c in "\\ \t\r\n\"<>`{}|^"):
        raise format_error(problem, name)
    try:
        parts = urlsplit(value)
        parts.port  # raises for a port out of range
    except ValueError:
        raise format_error(problem, name) from None
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback) or not parts.hostname \
            or "@" in parts.netloc:
        raise format_error(problem, name)
    return value


def bank_headers(bank: BankProfile, headers: Mapping[str, str]) -> None:
    for name in bank.required_headers:
        if not headers.get(name.lower()):
            raise format_error(f"{name} header is missing ({bank.name} requires it)", name)


@dataclass(frozen=True, slots=True)
class PaymentBody:
    amount: Decimal
    currency: str
    creditor_iban: str
    creditor_name: str
    debtor_iban: str | None
    end_to_end_id: str | None
    unstructured: str | None
    creditor_reference: str | None
    creditor_reference_type: str | None
    requested_execution_date: date | None
    raw: dict[str, Any]


def payment_body(raw: object, bank: BankProfile, today: date) -> PaymentBody:
    """Validate a `paymentInitiation_json` body; every problem found is reported at once."""
    if not isinstance(raw, dict):
        raise format_error("the body must be a JSON object (paymentInitiation_json)")
    problems: list[TppMessage] = []

    def problem(path: str, text: str) -> None:
        problems.append(TppMessage("FORMAT_ERROR", text, path))

    def text(path: str, value: object, limit: int, required: bool = False) -> str | None:
        if value is None:
            if required:
                problem(path, f"{path} is required")
            return None
        if not isinstance(value, str) or not value.strip():
            problem(path, f"{path} must be a non-empty string")
            return None
        if len(value) > limit:
            problem(path, f"{path} is {len(value)} characters long, at most {limit} allowed")
            return None
        if _CONTROL.search(value) or any(unicodedata.category(c) in _INVISIBLE for c in value):
            problem(path, f"{path} contains control or invisible characters")
            return None
        if not _WORD.search(value):
            problem(path, f"{path} has no letter or digit")
            return None
        return value

    def account(path: str, value: object, required: bool) -> str | None:
        if value is None:
            if required:
                problem(path, f"{path} is required")
            return None
        if not isinstance(value, dict) or not isinstance(value.get("iban"), str):
            problem(path, f"{path} must be an account reference with an iban")
            return None
        try:
            iban = IBAN(value["iban"])
        except SchwiftyException as exc:
            problem(f"{path}.iban", f"{path}.iban {str(value['iban'])[:40]!r} is not a valid IBAN: {exc}")
            return None
        if value["iban"] != iban.compact:
            problem(f"{path}.iban", f"{path}.iban must be written without spaces, in capitals")
            return None
        currency = value.get("currency")
        if currency is not None and currency != "EUR":
            problem(f"{path}.currency", f"{path}.currency {str(currency)[:5]!r}: the account is kept in EUR")
        return iban.compact

    amount = currency = None
    instructed = raw.get("instructedAmount")
    if not isinstance(instructed, dict):
        problem("instructedAmount", "instructedAmount is required: {currency, amount}")
    else:
        currency = instructed.get("currency")
        value = instructed.get("amount")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            problem("instructedAmount.currency", "instructedAmount.currency must be an ISO 4217 code")
            currency = None
        elif currency != "EUR":
            problem("instructedAmount.currency", f"{currency} payments are not offered; EUR only")
        if not isinstance(value, str):
            problem("instructedAmount.amount", "instructedAmount.amount must be a string such as \"12.30\"")
        elif not _AMOUNT.fullmatch(value):
            problem("instructedAmount.amount", f"instructedAmount.amount {value[:30]!r} is not an amount")
        else:
            amount = Decimal(value)
            decimals = -amount.as_tuple().exponent  # type: ignore[operator]
            if currency and decimals > minor_unit(currency):
                problem("instructedAmount.amount", f"{value} has more decimals than {currency} allows ({minor_unit(currency)})")
                amount = None
            elif amount <= 0:
                problem("instructedAmount.amount", "instructedAmount.amount must be above zero")
                amount = None
    creditor_iban = account("creditorAccount", raw.get("creditorAccount"), required=True)
    debtor_iban = account("debtorAccount", raw.get("debtorAccount"), required=False)
    creditor_name = text("creditorName", raw.get("creditorName"), 70, required=True)
    e2e = text("endToEndIdentification", raw.get("endToEndIdentification"), 35)
    unstructured = text("remittanceInformationUnstructured", raw.get("remittanceInformationUnstructured"),
                        bank.max_unstructured)
    reference = reference_type = None
    structured = raw.get("remittanceInformationStructured")
    if structured is not None:
        if not isinstance(structured, dict):
            problem("remittanceInformationStructured", "remittanceInformationStructured must be an object")
        else:
            reference = text("remittanceInformationStructured.reference", structured.get("reference"), 35, required=True)
            reference_type = text("remittanceInformationStructured.referenceType", structured.get("referenceType"), 35)
            if reference and (reference_type == "SCOR" or reference.upper().startswith("RF")) and not (
                    _RF.fullmatch(reference) and iso11649.is_valid(reference)):
                problem("remittanceInformationStructured.reference",
                        f"{reference!r} is not a valid ISO 11649 creditor reference (check digits)")
    if unstructured and reference:
        problem("remittanceInformationUnstructured", "send either structured or unstructured remittance, not both")
    execution = None
    requested = raw.get("requestedExecutionDate")
    if requested is not None:
        try:
            if not isinstance(requested, str) or not _DATE.fullmatch(requested):
                raise ValueError(requested)
            execution = date.fromisoformat(requested)
        except ValueError:
            problem("requestedExecutionDate", f"requestedExecutionDate {str(requested)[:20]!r} is not a date (YYYY-MM-DD)")
        else:
            if not today <= execution <= today + timedelta(days=MAX_AHEAD):
                raise TppError(400, "EXECUTION_DATE_INVALID",
                               f"requestedExecutionDate {execution} is not between today and {MAX_AHEAD} days ahead",
                               "requestedExecutionDate")
    if problems:
        first, *rest = problems
        raise TppError(400, first.code, first.text, first.path, rest)
    assert amount is not None and currency and creditor_iban and creditor_name
    return PaymentBody(amount, currency, creditor_iban, creditor_name, debtor_iban, e2e, unstructured,
                       reference, reference_type, execution, _normalised(raw, amount, currency))


def _normalised(raw: dict[str, Any], amount: Decimal, currency: str) -> dict[str, Any]:
    """What the bank keeps and shows again: the known fields only, as validated."""
    keep = ("endToEndIdentification", "debtorAccount", "creditorAccount", "creditorName",
            "remittanceInformationUnstructured", "remittanceInformationStructured", "requestedExecutionDate")
    data = {k: raw[k] for k in keep if raw.get(k) is not None}
    data["instructedAmount"] = {"currency": currency, "amount": raw["instructedAmount"]["amount"]}
    for key in ("debtorAccount", "creditorAccount"):
        if key in data:
            data[key] = {"iban": data[key]["iban"]}
    if "remittanceInformationStructured" in data:
        structured = data["remittanceInformationStructured"]
        data["remittanceInformationStructured"] = {k: structured[k] for k in ("reference", "referenceType")
                                                   if structured.get(k) is not None}
    return data
