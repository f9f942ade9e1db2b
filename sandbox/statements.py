"""What the sandbox banks report about an account: Berlin Group JSON, and camt.053 written
by `camt/writer.py`, both from the same ledger bookings."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from camt.model import (
    Account as CamtAccount,
)
from camt.model import (
    Balance,
    BankTransactionCode,
    CreditorReference,
    Document,
    Entry,
    MessageHeader,
    Party,
    References,
    Statement,
    StatementHeader,
    StructuredRemittance,
    Transaction,
    TransactionsSummary,
)
from camt.writer import to_bytes
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sandbox.errors import format_error
from sandbox.world import LOCAL, Account, Booking

CAMT_VERSION = "001.08"


def consent_request(raw: object, today: date) -> dict[str, Any]:
    """Validate a consent body; return the fields of a new consent."""
    if not isinstance(raw, dict):
        raise format_error("the body must be a JSON object (consents)")
    access = raw.get("access")
    if not isinstance(access, dict) or not access:
        raise format_error("access is required", "access")
    ibans: list[str] = []
    for key in ("accounts", "balances", "transactions"):
        refs = access.get(key, [])
        if not isinstance(refs, list) or not all(isinstance(r, dict) and isinstance(r.get("iban"), str) for r in refs):
            raise format_error(f"access.{key} must be a list of account references with an iban", f"access.{key}")
        ibans.extend(r["iban"] for r in refs)
    all_accounts = access.get("allPsd2") == "allAccounts" or access.get("availableAccounts") in ("allAccounts", "allAccountsWithOwnerName")
    if not ibans and not all_accounts:
        raise format_error("access names no account (accounts/balances/transactions, or allPsd2: allAccounts)", "access")
    recurring = raw.get("recurringIndicator")
    if not isinstance(recurring, bool):
        raise format_error("recurringIndicator is required (true or false)", "recurringIndicator")
    try:
        until = raw.get("validUntil")
        if not isinstance(until, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", until):
            raise ValueError(until)
        valid_until = date.fromisoformat(until)
    except ValueError:
        raise format_error("validUntil must be an ISO date", "validUntil") from None
    if valid_until < today:
        raise format_error("validUntil is in the past", "validUntil")
    valid_until = min(valid_until, today + timedelta(days=90))  # the standard's 90 days at most
    frequency = raw.get("frequencyPerDay")
    if not isinstance(frequency, int) or isinstance(frequency, bool) or frequency < 1:
        raise format_error("frequencyPerDay must be a positive integer", "frequencyPerDay")
    if not recurring:
        frequency = 1
    for iban in ibans:
        try:
            if IBAN(iban).compact != iban:
                raise ValueError(iban)
        except (SchwiftyException, ValueError):
            raise format_error(f"{iban[:40]!r} is not an IBAN (compact, in capitals)", "access") from None
    # keep what was asked in its known shape only: the consent is shown again on GET
    if ibans:
        access = {key: [{"iban": r["iban"]} for r in access.get(key, [])]
                  for key in ("accounts", "balances", "transactions") if access.get(key)}
    elif access.get("allPsd2") == "allAccounts":
        access = {"allPsd2": "allAccounts"}
    else:
        access = {"availableAccounts": "allAccounts"}  # the list of accounts, nothing more
    return {"access": access, "ibans": tuple(dict.fromkeys(ibans)), "recurring": recurring,
            "valid_until": valid_until, "frequency_per_day": min(frequency, 4)}


def account_json(account: Account, link: dict[str, str], with_balance: bool, today: date) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceId": account.resource_id, "iban": account.iban, "currency": account.currency,
        "name": account.name, "ownerName": account.owner.name, "cashAccountType": "CACC",
        "bic": account.bank.bic, "status": "enabled", "_links": {"balances": {"href": link["href"] + "/balances"},
                                                                  "transactions": {"href": link["href"] + "/transactions"}},
    }
    if with_balance:
        data["balances"] = balances_json(account, today)
    return data


def balances_json(account: Account, today: date) -> list[dict[str, Any]]:
    booked = account.balance()
    return [
        {"balanceAmount": _amount(booked), "balanceType": "closingBooked", "referenceDate": today.isoformat()},
        {"balanceAmount": _amount(booked - account.reserved), "balanceType": "interimAvailable",
         "referenceDate": today.isoformat()},
    ]


def _amount(value: Decimal, currency: str = "EUR") -> dict[str, str]:
    return {"currency": currency, "amount": f"{value:.2f}"}


def _in_period(account: Account, start: date, end: date) -> list[Booking]:
    return sorted((b for b in account.bookings if start <= b.booking_date <= end),
                  key=lambda b: (b.booking_date, b.booked_at, b.reference))


def transactions_json(account: Account, start: date, end: date, status: str, link: dict[str, str]) -> dict[str, Any]:
    booked = [] if status == "pending" else [_transaction_json(b) for b in _in_period(account, start, end)]
    transactions: dict[str, Any] = {"booked": booked, "_links": {"account": link}}
    if status in ("pending", "both", "all"):
        transactions["pending"] = []
    return {"account": {"iban": account.iban, "currency": account.currency}, "transactions": transactions,
            "balances": [
                {"balanceAmount": _amount(account.balance(before=start)), "balanceType": "openingBooked",
                 "referenceDate": start.isoformat()},
                {"balanceAmount": _amount(account.balance(before=end + timedelta(days=1))),
                 "balanceType": "closingBooked", "referenceDate": end.isoformat()},
            ]}


def _transaction_json(b: Booking) -> dict[str, Any]:
    signed = b.amount if b.credit_debit == "CRDT" else -b.amount
    data: dict[str, Any] = {
        "transactionId": b.reference, "entryReference": b.reference, "bookingDate": b.booking_date.isoformat(),
        "valueDate": b.value_date.isoformat(), "transactionAmount": _amount(signed),
        "bankTransactionCode": "-".join(b.bank_code),
    }
    if b.end_to_end_id:
        data["endToEndId"] = b.end_to_end_id
    side = "debtor" if b.credit_debit == "CRDT" else "creditor"
    if b.counterparty_name:
        data[f"{side}Name"] = b.counterparty_name
    if b.counterparty_iban:
        data[f"{side}Account"] = {"iban": b.counterparty_iban}
    if b.unstructured:
        data["remittanceInformationUnstructured"] = b.unstructured
    if b.creditor_reference:
        data["remittanceInformationStructured"] = {"reference": b.creditor_reference, "referenceType": "SCOR"}
    if b.additional_info:
        data["additionalInformation"] = b.additional_info
    return data


def statement_document(account: Account, start: date, end: date, created: datetime) -> Document:
    """One camt.053 statement of the account from `start` to `end` (booking dates)."""
    bookings = _in_period(account, start, end)
    opening = account.balance(before=start)
    closing = account.balance(before=end + timedelta(days=1))
    credits = [b.amount for b in bookings if b.credit_debit == "CRDT"]
    debits = [b.amount for b in bookings if b.credit_debit == "DBIT"]
    stamp = f"{start:%Y%m%d}{end:%Y%m%d}"
    header = StatementHeader(
        index=0, line=0, kind="camt.053", id=f"{account.bank.bic[:4]}-{account.resource_id[:8]}-{stamp}",
        electronic_sequence=int(end.strftime("%Y%j")), legal_sequence=None, created=created,
        from_datetime=datetime.combine(start, time(0, 0), LOCAL),
        to_datetime=datetime.combine(end, time(23, 59, 59), LOCAL),
        account=CamtAccount(iban=account.iban, currency=account.currency, name=account.name,
                            owner_name=account.owner.name, servicer_bic=account.bank.bic),
        balances=(
            Balance("OPBD", abs(opening), "EUR", "CRDT" if opening >= 0 else "DBIT", date=start),
            Balance("CLBD", abs(closing), "EUR", "CRDT" if closing >= 0 else "DBIT", date=end),
        ),
        summary=TransactionsSummary(count=len(bookings), sum=sum(credits + debits, Decimal(0)),
                                    credit_count=len(credits), credit_sum=sum(credits, Decimal(0)),
                                    debit_count=len(debits), debit_sum=sum(debits, Decimal(0))),
    )
    entries = tuple(_entry(i, b) for i, b in enumerate(bookings))
    message = MessageHeader(kind="camt.053", version=CAMT_VERSION, namespace="",
                            message_id=f"{account.bank.bic[:4]}{created:%Y%m%d%H%M%S}{account.resource_id[:6]}",
                            created=created)
    return Document(message=message, statements=(Statement(header=header, entries=entries),))


def camt053(account: Account, start: date, end: date, created: datetime) -> bytes:
    return to_bytes(statement_document(account, start, end, created), version=CAMT_VERSION)


def _entry(index: int, b: Booking) -> Entry:
    code = BankTransactionCode(domain=b.bank_code[0], family=b.bank_code[1], sub_family=b.bank_code[2])
    counterparty = Party(name=b.counterparty_name, iban=b.counterparty_iban, agent_bic=b.counterparty_bic) \
        if b.counterparty_name or b.counterparty_iban else None
    structured: tuple[StructuredRemittance, ...] = ()
    if b.creditor_reference:
        structured = (StructuredRemittance(creditor_reference=CreditorReference(b.creditor_reference, type_code="SCOR")),)
    transaction = Transaction(
        index=0, amount=b.amount, currency="EUR", credit_debit=b.credit_debit,
        references=References(account_servicer_reference=b.reference, end_to_end_id=b.end_to_end_id or "NOTPROVIDED"),
        debtor=counterparty if b.credit_debit == "CRDT" else None,
        creditor=counterparty if b.credit_debit == "DBIT" else None,
        remittance_unstructured=(b.unstructured,) if b.unstructured else (),
        remittance_structured=structured, bank_transaction_code=code,
    )
    return Entry(
        index=index, line=0, amount=b.amount, currency="EUR", credit_debit=b.credit_debit, status="BOOK",
        booking_date=b.booking_date, value_date=b.value_date, account_servicer_reference=b.reference,
        bank_transaction_code=code, batch_count=b.batch_count, additional_info=b.additional_info,
        transactions=(transaction,),
    )
