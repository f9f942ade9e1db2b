"""Writing camt.052 / camt.053 messages from the model, for banks that kvits imitates.

`write` streams the XML (lxml's incremental `xmlfile`), one entry at a time, so a
statement of any size is written in flat memory. The output follows the XSD of the
version asked for (.001.02 - .001.13): element order, `BIC` before .001.04 and `BICFI`
from it on, a transaction's own `Amt`/`CdtDbtInd` from .001.04, `Sts/Cd` and parties
wrapped in `Pty` from .001.08, `UETR` from .001.08. What the schema of that version
cannot hold is refused with `CamtWriteError`, never cut or dropped silently: a text
longer than its element allows, a reference missing from that version, an amount with
more decimals than its currency has.

Written: the group header (id, created, pagination, additional info); per statement
its id, sequence numbers, created, period, account (IBAN or other id, currency, name,
owner, servicer BIC), balances, summary of credits and debits; per entry everything
`camt.read` gives back except interest records; per transaction amounts (own,
instructed, counter-value with exchange rate), references, the four related parties
with accounts and agents' BICs, unstructured and structured remittance, return
reason and information, bank transaction code, charges, purpose and additional info.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from lxml import etree

from camt.model import (
    Account,
    AmountDetails,
    Balance,
    BankTransactionCode,
    Charge,
    Document,
    Entry,
    Money,
    Party,
    References,
    StatementHeader,
    StructuredRemittance,
    Transaction,
    TransactionsSummary,
)
from camt.versions._kinds import MESSAGES, NAMESPACE_PREFIX
from core.money import minor_unit

__all__ = ["CamtWriteError", "VERSIONS", "to_bytes", "write"]

VERSIONS = tuple(f"001.{n:02d}" for n in range(2, 14))

# Closed code lists of the schemas; other codes go in the element's Prtry.
_BALANCE_CODES_V02 = frozenset({"OPAV", "ITAV", "CLAV", "FWAV", "CLBD", "ITBD", "OPBD", "PRCD", "INFO", "XPCD"})
_CREDITOR_REFERENCE_CODES = frozenset({"RADM", "RPIN", "FXDR", "DISP", "PUOR", "SCOR"})
_DOCUMENT_CODES = frozenset({"MSIN", "CNFA", "DNFA", "CINV", "CREN", "DEBN", "HIRI", "SBIN", "CMCN",
                             "SOAC", "DISP", "BOLD", "VCHR", "AROI", "TSUT"})
_ENTRY_STATUSES_V02 = frozenset({"BOOK", "PDNG", "INFO"})


class CamtWriteError(ValueError):
    """The model holds something the camt version asked for cannot carry."""


Target = str | os.PathLike[str] | IO[bytes]


def to_bytes(document: Document, *, version: str | None = None) -> bytes:
    buffer = io.BytesIO()
    write(document, buffer, version=version)
    return buffer.getvalue()


def write(document: Document, target: Target, *, version: str | None = None) -> None:
    """Write `document` as its kind (camt.052 or camt.053) in `version` (default: the
    document's own version, else .001.02)."""
    kind = document.message.kind
    if kind not in ("camt.052", "camt.053"):
        raise CamtWriteError(f"writing {kind or 'a message without kind'} is not supported (camt.052, camt.053)")
    chosen = version or document.message.version or "001.02"
    if chosen not in VERSIONS:
        raise CamtWriteError(f"unknown camt version {chosen!r} (one of {', '.join(VERSIONS)})")
    _Writer(kind, chosen).document(document, target)


_CURRENCY = re.compile(r"[A-Z]{3}")
# XML 1.0 cannot carry C0 controls, U+FFFE/U+FFFF or lone surrogates; the reader strips
# spaces at the ends, so a value with them would not read back equal
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _amount(value: Decimal, currency: str) -> str:
    """The amount with exactly its currency's decimals; more digits are refused."""
    if not _CURRENCY.fullmatch(currency or ""):
        raise CamtWriteError(f"currency {currency!r} is not an ISO 4217 code")
    if not value.is_finite():
        raise CamtWriteError(f"amount {value} is not a number")
    if value < 0:
        raise CamtWriteError(f"negative amount {value} {currency}: camt carries the side in CdtDbtInd")
    value = value.copy_abs()  # -0.00 is 0.00
    if value.adjusted() >= 18:
        raise CamtWriteError(f"amount {value} {currency} has more than 18 digits")
    digits = minor_unit(currency)
    exact = value.quantize(Decimal(1).scaleb(-digits))
    if exact != value:
        raise CamtWriteError(f"{value} has more decimals than {currency} allows ({digits})")
    return f"{exact:f}"


# The schemas' patterns: BIC / BICFI up to .001.07, BICFIDec2014 from .001.08, IBAN.
_BIC_V02 = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")
_BICFI = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")


def _datetime(value: datetime) -> str:
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        raise CamtWriteError(f"time zone offset {offset} of {value} is not whole minutes (xs:dateTime)")
    return value.isoformat()


class _Writer:
    def __init__(self, kind: str, version: str) -> None:
        self.kind = kind
        self.number = int(version[4:])
        self.ns = f"{NAMESPACE_PREFIX}{kind}.{version}"
        self.message_tag, self.statement_tag = MESSAGES[kind]
        self.bic_tag = "BIC" if self.number < 4 else "BICFI"
        self.f: Any = None  # lxml's incremental writer while writing

    # ------------------------------------------------------------ plumbing
    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    @contextmanager
    def el(self, name: str) -> Iterator[None]:
        with self.f.element(self.q(name)):
            yield

    def leaf(self, name: str, value: str | None, limit: int | None = None, **attrs: str) -> None:
        if value is None:
            return
        if limit is not None and len(value) > limit:
            raise CamtWriteError(f"{name} is longer than {limit} characters: {value[:40]!r}…")
        if not value.strip() or value != value.strip():
            raise CamtWriteError(f"{name} {value!r} is empty or has spaces at its ends, which do not read back")
        if _NOT_XML_TEXT.search(value):
            raise CamtWriteError(f"{name} {value[:40]!r} holds characters XML cannot carry")
        with self.f.element(self.q(name), attrs):
            self.f.write(value)

    def side(self, value: str | None) -> None:
        if value not in ("CRDT", "DBIT"):
            raise CamtWriteError(f"credit/debit indicator {value!r} is neither CRDT nor DBIT")
        self.leaf("CdtDbtInd", value)

    def count(self, name: str, value: int | None) -> None:
        if value is not None:
            if not 0 <= value < 10**18:
                raise CamtWriteError(f"{name} {value} is not a whole number of 0 to 18 digits")
            self.leaf(name, str(value))

    def money(self, name: str, value: Decimal, currency: str) -> None:
        self.leaf(name, _amount(value, currency), Ccy=currency)

    def date_choice(self, name: str, day: date | None, moment: datetime | None) -> None:
        if moment is not None:
            with self.el(name):
                self.leaf("DtTm", _datetime(moment))
        elif day is not None:
            with self.el(name):
                self.leaf("Dt", day.isoformat())

    def code_or_proprietary(self, name: str, code: str, *, codes: frozenset[str] | None = None,
                            generic: bool = False) -> None:
        """<name><Cd> for a code of the list (`codes`, or any 1-4 letter code of an
        external list when None), else <Prtry> (as text, or as <Id> when `generic`)."""
        known = code in codes if codes is not None else (1 <= len(code) <= 4 and code.isalnum())
        with self.el(name):
            if known:
                self.leaf("Cd", code, 4)
            elif generic:
                with self.el("Prtry"):
                    self.leaf("Id", code, 35)
            else:
                self.leaf("Prtry", code, 35)

    # ------------------------------------------------------------ message
    def document(self, document: Document, target: Target) -> None:
        with etree.xmlfile(target, encoding="UTF-8") as f:
            self.f = f
            f.write_declaration()
            with f.element(self.q("Document"), nsmap={None: self.ns}):
                with self.el(self.message_tag):
                    self.group_header(document)
                    for statement in document.statements:
                        self.statement(statement.header, statement.entries)
        self.f = None

    def group_header(self, document: Document) -> None:
        message = document.message
        with self.el("GrpHdr"):
            if not message.message_id:
                raise CamtWriteError("the group header needs its message id (MsgId)")
            self.leaf("MsgId", message.message_id, 35)
            if message.created is None:
                raise CamtWriteError("the group header needs its creation time (CreDtTm)")
            self.leaf("CreDtTm", _datetime(message.created))
            if message.pagination is not None:
                with self.el("MsgPgntn"):
                    self.leaf("PgNb", str(message.pagination.page), 5)
                    self.leaf("LastPgInd", "true" if message.pagination.last_page else "false")
            self.leaf("AddtlInf", message.additional_info, 500)

    def statement(self, header: StatementHeader, entries: tuple[Entry, ...]) -> None:
        with self.el(self.statement_tag):
            if not header.id:
                raise CamtWriteError(f"a {self.statement_tag} needs its id")
            self.leaf("Id", header.id, 35)
            if header.pagination is not None and self.number >= 8:
                with self.el(f"{self.statement_tag}Pgntn"):
                    self.leaf("PgNb", str(header.pagination.page), 5)
                    self.leaf("LastPgInd", "true" if header.pagination.last_page else "false")
            self.count("ElctrncSeqNb", header.electronic_sequence)
            self.count("LglSeqNb", header.legal_sequence)
            if header.created is not None:
                self.leaf("CreDtTm", _datetime(header.created))
            elif self.number < 8:
                raise CamtWriteError(f"a statement of camt .001.{self.number:02d} needs its creation time")
            if header.from_datetime is not None and header.to_datetime is not None:
                with self.el("FrToDt"):
                    self.leaf("FrDtTm", _datetime(header.from_datetime))
                    self.leaf("ToDtTm", _datetime(header.to_datetime))
            self.account(header.account)
            if not header.balances and self.kind == "camt.053":
                raise CamtWriteError("a camt.053 statement needs at least one balance")
            for balance in header.balances:
                self.balance(balance)
            if header.summary is not None:
                self.summary(header.summary, header.currency or "EUR")
            for entry in entries:
                self.entry(entry)
            self.leaf(f"Addtl{self.statement_tag}Inf", header.additional_info, 500)

    def account(self, account: Account) -> None:
        with self.el("Acct"):
            self.account_id(account.iban, account.other_id)
            self.leaf("Ccy", account.currency, 3)
            self.leaf("Nm", account.name, 70)
            if account.owner_name is not None:
                with self.el("Ownr"):
                    self.leaf("Nm", account.owner_name, 140)
            if account.servicer_bic is not None:
                with self.el("Svcr"):
                    self.financial_institution(account.servicer_bic)

    def account_id(self, iban: str | None, other: str | None) -> None:
        if iban is None and other is None:
            raise CamtWriteError("an account needs an IBAN or another identifier")
        with self.el("Id"):
            if iban is not None:
                if not _IBAN.fullmatch(iban):
                    raise CamtWriteError(f"{iban!r} is not an IBAN")
                self.leaf("IBAN", iban, 34)
            else:
                with self.el("Othr"):
                    self.leaf("Id", other, 34)

    def financial_institution(self, bic: str) -> None:
        if not (_BIC_V02 if self.number < 8 else _BICFI).fullmatch(bic):
            raise CamtWriteError(f"{bic!r} is not a BIC")
        with self.el("FinInstnId"):
            self.leaf(self.bic_tag, bic, 11)

    def balance(self, balance: Balance) -> None:
        with self.el("Bal"):
            with self.el("Tp"):
                self.code_or_proprietary("CdOrPrtry", balance.type_code,
                                         codes=_BALANCE_CODES_V02 if self.number < 8 else None)
            self.money("Amt", balance.amount, balance.currency)
            self.side(balance.credit_debit)
            if balance.date is None and balance.datetime is None:
                raise CamtWriteError(f"balance {balance.type_code} needs a date")
            self.date_choice("Dt", balance.date, balance.datetime)

    def summary(self, summary: TransactionsSummary, currency: str) -> None:
        def part(name: str, count: int | None, total: Decimal | None) -> None:
            if count is None and total is None:
                return
            with self.el(name):
                self.count("NbOfNtries", count)
                self.leaf("Sum", None if total is None else _amount(total, currency))

        with self.el("TxsSummry"):
            part("TtlNtries", summary.count, summary.sum)
            part("TtlCdtNtries", summary.credit_count, summary.credit_sum)
            part("TtlDbtNtries", summary.debit_count, summary.debit_sum)

    # ------------------------------------------------------------ entries
    def entry(self, entry: Entry) -> None:
        with self.el("Ntry"):
            self.leaf("NtryRef", entry.entry_reference, 35)
            self.money("Amt", entry.amount, entry.currency)
            self.side(entry.credit_debit)
            if entry.reversal:
                self.leaf("RvslInd", "true")
            if self.number >= 8:
                self.code_or_proprietary("Sts", entry.status)
            elif entry.status in _ENTRY_STATUSES_V02:
                self.leaf("Sts", entry.status)
            else:
                raise CamtWriteError(f"entry status {entry.status!r} is not one of BOOK, PDNG, INFO before .001.08")
            self.date_choice("BookgDt", entry.booking_date, entry.booking_datetime)
            self.date_choice("ValDt", entry.value_date, entry.value_datetime)
            self.leaf("AcctSvcrRef", entry.account_servicer_reference, 35)
            self.bank_transaction_code(entry.bank_transaction_code or BankTransactionCode(), required=True)
            self.amount_details(entry.amount_details)
            self.charges(entry.charges)
            details = [tx for tx in entry.transactions if not tx.from_entry]
            if details or entry.batch_count is not None:
                with self.el("NtryDtls"):
                    if entry.batch_count is not None or entry.batch_sum is not None:
                        with self.el("Btch"):
                            self.count("NbOfTxs", entry.batch_count)
                            if entry.batch_sum is not None:
                                self.money("TtlAmt", entry.batch_sum, entry.currency)
                    for tx in details:
                        self.transaction(tx, entry)
            self.leaf("AddtlNtryInf", entry.additional_info, 500)

    def bank_transaction_code(self, code: BankTransactionCode, *, required: bool = False) -> None:
        has_domain = code.domain is not None and code.family is not None and code.sub_family is not None
        if not has_domain and code.proprietary is None:
            if required:  # BkTxCd is mandatory on an entry; an empty one is valid
                with self.el("BkTxCd"):
                    pass
            return
        with self.el("BkTxCd"):
            if has_domain:
                with self.el("Domn"):
                    self.leaf("Cd", code.domain, 4)
                    with self.el("Fmly"):
                        self.leaf("Cd", code.family, 4)
                        self.leaf("SubFmlyCd", code.sub_family, 4)
            if code.proprietary is not None:
                with self.el("Prtry"):
                    self.leaf("Cd", code.proprietary, 35)
                    self.leaf("Issr", code.proprietary_issuer, 35)

    def amount_details(self, details: AmountDetails, own: Money | None = None) -> None:
        parts = [("InstdAmt", details.instructed), ("TxAmt", own or details.transaction),
                 ("CntrValAmt", details.counter_value)]
        if all(money is None for _, money in parts):
            return
        # the exchange goes with the instructed amount when there is one, else TxAmt
        carrier = "InstdAmt" if details.instructed is not None else "TxAmt"
        with self.el("AmtDtls"):
            for name, money in parts:
                if money is None:
                    continue
                with self.el(name):
                    self.money("Amt", money.amount, money.currency)
                    if name == carrier and details.exchange_rate is not None:
                        with self.el("CcyXchg"):
                            self.leaf("SrcCcy", details.exchange_source_currency or money.currency, 3)
                            self.leaf("TrgtCcy", details.exchange_target_currency, 3)
                            self.leaf("XchgRate", f"{details.exchange_rate:f}")

    def charges(self, charges: tuple[Charge, ...]) -> None:
        if not charges:
            return
        if self.number < 4:
            for charge in charges:
                with self.el("Chrgs"):
                    self.charge_body(charge)
            return
        with self.el("Chrgs"):
            for charge in charges:
                with self.el("Rcrd"):
                    self.charge_body(charge)

    def charge_body(self, charge: Charge) -> None:
        self.money("Amt", charge.amount, charge.currency)
        if charge.credit_debit is not None:
            self.side(charge.credit_debit)
        if self.number >= 4 and charge.included is not None:
            self.leaf("ChrgInclInd", "true" if charge.included else "false")
        if charge.type_code is not None:
            # ChargeType1Code (before .001.04) is a closed list: the type goes in Prtry/Id there
            self.code_or_proprietary("Tp", charge.type_code, codes=frozenset() if self.number < 4 else None,
                                     generic=True)
        self.leaf("Br", charge.bearer, 4)

    def transaction(self, tx: Transaction, entry: Entry) -> None:
        with self.el("TxDtls"):
            self.references(tx.references)
            if self.number >= 4:
                if tx.amount_source == "unknown":
                    raise CamtWriteError("a transaction without a known amount cannot be written from .001.04 on")
                self.money("Amt", tx.amount, tx.currency)
                self.side(tx.credit_debit)
                self.amount_details(tx.amount_details)
            else:
                own = Money(tx.amount, tx.currency) if tx.amount_source in ("own", "entry") else None
                self.amount_details(tx.amount_details, own)
            if tx.bank_transaction_code is not None and tx.bank_transaction_code != entry.bank_transaction_code:
                self.bank_transaction_code(tx.bank_transaction_code)
            self.charges(tx.charges)
            self.related_parties(tx)
            self.related_agents(tx)
            if tx.purpose is not None:
                self.code_or_proprietary("Purp", tx.purpose)
            self.remittance(tx.remittance_unstructured, tx.remittance_structured)
            if tx.return_reason is not None or tx.return_info:
                with self.el("RtrInf"):
                    if tx.return_reason is not None:
                        self.code_or_proprietary("Rsn", tx.return_reason)
                    for line in tx.return_info:
                        self.leaf("AddtlInf", line, 105)
            self.leaf("AddtlTxInf", tx.additional_info, 500)

    def references(self, refs: References) -> None:
        if refs.uetr is not None and self.number < 8:
            raise CamtWriteError(f"UETR needs camt .001.08 or later (writing .001.{self.number:02d})")
        values = [
            ("MsgId", refs.message_id), ("AcctSvcrRef", refs.account_servicer_reference),
            ("PmtInfId", refs.payment_information_id), ("InstrId", refs.instruction_id),
            ("EndToEndId", refs.end_to_end_id), ("UETR", refs.uetr), ("TxId", refs.transaction_id),
            ("MndtId", refs.mandate_id), ("ChqNb", refs.cheque_number),
            ("ClrSysRef", refs.clearing_system_reference),
        ]
        if all(value is None for _, value in values) and not refs.proprietary:
            return
        if self.number < 8:  # before .001.08 TxId comes right after EndToEndId, and no UETR
            values = [v for v in values if v[0] != "UETR"]
        with self.el("Refs"):
            for name, value in values:
                self.leaf(name, value, 36 if name == "UETR" else 35)
            for kind, value in refs.proprietary:
                with self.el("Prtry"):
                    self.leaf("Tp", kind, 35)
                    self.leaf("Ref", value, 35)

    def related_parties(self, tx: Transaction) -> None:
        parties = [("Dbtr", tx.debtor, "DbtrAcct"), ("UltmtDbtr", tx.ultimate_debtor, None),
                   ("Cdtr", tx.creditor, "CdtrAcct"), ("UltmtCdtr", tx.ultimate_creditor, None)]
        if all(party is None for _, party, _ in parties):
            return
        with self.el("RltdPties"):
            for name, party, account_tag in parties:
                if party is None:
                    continue
                if self.number >= 8:
                    with self.el(name), self.el("Pty"):
                        self.party(party)
                else:
                    with self.el(name):
                        self.party(party)
                if account_tag is not None and (party.iban or party.other_account_id):
                    with self.el(account_tag):
                        self.account_id(party.iban, party.other_account_id)

    def party(self, party: Party) -> None:
        self.leaf("Nm", party.name, 140)
        if party.country is not None or party.address_lines:
            if len(party.address_lines) > 7:
                raise CamtWriteError("a postal address holds at most 7 address lines")
            with self.el("PstlAdr"):
                self.leaf("Ctry", party.country, 2)
                for line in party.address_lines:
                    self.leaf("AdrLine", line, 70)
        if party.organisation_id is not None or party.private_id is not None:
            with self.el("Id"):
                tag = "OrgId" if party.organisation_id is not None else "PrvtId"
                with self.el(tag), self.el("Othr"):
                    self.leaf("Id", party.organisation_id or party.private_id, 35)

    def related_agents(self, tx: Transaction) -> None:
        agents = [("DbtrAgt", tx.debtor.agent_bic if tx.debtor else None),
                  ("CdtrAgt", tx.creditor.agent_bic if tx.creditor else None)]
        if all(bic is None for _, bic in agents):
            return
        with self.el("RltdAgts"):
            for name, bic in agents:
                if bic is not None:
                    with self.el(name):
                        self.financial_institution(bic)

    def remittance(self, lines: tuple[str, ...], blocks: tuple[StructuredRemittance, ...]) -> None:
        if not lines and not blocks:
            return
        with self.el("RmtInf"):
            for line in lines:
                self.leaf("Ustrd", line, 140)
            for block in blocks:
                self.structured(block)

    def structured(self, block: StructuredRemittance) -> None:
        with self.el("Strd"):
            for doc in block.referred_documents:
                with self.el("RfrdDocInf"):
                    if doc.type_code is not None:
                        with self.el("Tp"):
                            self.code_or_proprietary("CdOrPrtry", doc.type_code, codes=_DOCUMENT_CODES)
                    self.leaf("Nb", doc.number, 35)
                    self.leaf("RltdDt", None if doc.date is None else doc.date.isoformat())
            ref = block.creditor_reference
            if ref is not None:
                with self.el("CdtrRefInf"):
                    if ref.type_code is not None or ref.type_proprietary is not None or ref.issuer is not None:
                        with self.el("Tp"):
                            kind = ref.type_code or ref.type_proprietary or ""
                            if ref.type_code is not None and ref.type_code not in _CREDITOR_REFERENCE_CODES:
                                raise CamtWriteError(f"creditor reference type {ref.type_code!r} is no DocumentType3Code")
                            self.code_or_proprietary("CdOrPrtry", kind, codes=_CREDITOR_REFERENCE_CODES)
                            self.leaf("Issr", ref.issuer, 35)
                    self.leaf("Ref", ref.reference, 35)
            if block.invoicer_name is not None:
                with self.el("Invcr"):
                    self.leaf("Nm", block.invoicer_name, 140)
            if block.invoicee_name is not None:
                with self.el("Invcee"):
                    self.leaf("Nm", block.invoicee_name, 140)
            if len(block.additional_info) > 3:
                raise CamtWriteError("structured remittance holds at most 3 AddtlRmtInf lines")
            for line in block.additional_info:
                self.leaf("AddtlRmtInf", line, 140)
