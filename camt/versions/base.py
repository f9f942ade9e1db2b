"""Decoding of camt elements into the model, shared by every version family.

A `Decoder` turns one already-parsed element (GrpHdr, a statement child, an Ntry) into
model objects. It walks each element's children once and dispatches on the local tag
name: no XPath, no repeated searches, because this runs for every entry of a file that
may hold millions. Version families (``camt/versions/v01.py`` ...) subclass it and
override only the hooks where their structure differs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, NoReturn

from lxml import etree

from camt.errors import CamtError
from camt.model import (
    Account,
    AmountDetails,
    AmountSource,
    Balance,
    BankTransactionCode,
    Charge,
    CreditDebit,
    CreditorReference,
    Entry,
    MessageHeader,
    Money,
    Pagination,
    Party,
    References,
    ReferredDocument,
    StatementHeader,
    StructuredRemittance,
    Transaction,
    TransactionsSummary,
)
from core.money import MAX_DIGITS, AmountError, minor_unit, parse_amount

Element = etree._Element

_CURRENCY = re.compile(r"[A-Z]{3}")
# ASCII digits only ("\d" would take any script's digits), at most 30 characters
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,18}(\.[0-9]{1,11})?")
_SIGNED_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,11})?")
_TIMEZONE = re.compile(r"Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9]")
_XS_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# xs:dateTime: what banks write, and nothing else datetime.fromisoformat would take
XS_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?"
)

# Values already parsed, by their exact text (amounts keyed by currency + text): both
# Decimal and date are immutable, so sharing them changes nothing but the time taken.
_CACHE_SIZE = 4096
_AMOUNTS: dict[str, Decimal] = {}
_DATES: dict[str, date] = {}

def _plain_amount(text: str, currency: str) -> Decimal | None:
    """parse_amount's result for the common form "123.45" (ASCII digits, a dot, at most
    the currency's minor unit of decimals); None for anything else, left to it."""
    whole, dot, fraction = text.partition(".")
    if not (whole.isdigit() and whole.isascii()) or len(whole) + len(fraction) > MAX_DIGITS:
        return None
    if dot and not (fraction.isdigit() and fraction.isascii()):
        return None
    places = minor_unit(currency)
    if len(fraction) > places:
        return None
    # pad to the minor unit: exactly what parse_amount's quantize yields
    return Decimal(whole + "." + fraction.ljust(places, "0") if places else whole)


# Shared empty values (the dataclasses are frozen): saves building one per transaction.
_NO_AMOUNT_DETAILS = AmountDetails()
_NO_REFERENCES = References()


@dataclass(frozen=True, slots=True)
class MessageFormat:
    """One camt message version: how it is recognised and which decoder reads it."""

    kind: str  # "camt.053"
    version: str  # "001.02"; "" for a file without namespace
    namespace: str
    message_tag: str  # local name of the root's child: BkToCstmrStmt, ...
    statement_tag: str  # Stmt | Rpt | Ntfctn
    decoder: type[Decoder]

    @property
    def schema_file(self) -> str:
        return f"{self.kind}.{self.version}.xsd"


def split_tag(el: Element) -> tuple[str | None, str]:
    """(namespace, local name) of an element. Not etree.QName: it raises ValueError for a
    namespace URI that contains '}' (legal XML, found by fuzzing), where this splits at
    the last '}'."""
    tag = el.tag
    if not isinstance(tag, str):  # a comment or processing instruction
        return None, ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].rpartition("}")
        return namespace, local
    return None, tag


def element_path(el: Element) -> str:
    """Local names from the root down to `el`, e.g. Document/BkToCstmrStmt/Stmt/Ntry/Amt."""
    names: list[str] = []
    node: Element | None = el
    while node is not None:
        names.append(split_tag(node)[1])
        node = node.getparent()
    return "/".join(reversed(names))


def line_of(el: Element) -> int | None:
    line = el.sourceline  # lxml-stubs type it loosely
    return line if isinstance(line, int) else None


def fail(problem: str, el: Element, value: str | None = None) -> NoReturn:
    raise CamtError(problem, path=element_path(el), line=line_of(el), value=value)


def _text(el: Element) -> str:
    t = el.text
    return t.strip() if t else ""


def _opt_text(el: Element) -> str | None:
    t = el.text
    if t is None:
        return None
    return t.strip() or None


@dataclass(slots=True)
class StatementParts:
    """What is known of a statement so far; balances may still come after the entries."""

    index: int
    line: int
    kind: str
    id: str | None = None
    electronic_sequence: int | None = None
    legal_sequence: int | None = None
    created: datetime | None = None
    from_datetime: datetime | None = None
    to_datetime: datetime | None = None
    account: Account = field(default_factory=Account)
    balances: list[Balance] = field(default_factory=list)
    summary: TransactionsSummary | None = None
    pagination: Pagination | None = None
    additional_info: str | None = None

    def header(self) -> StatementHeader:
        return StatementHeader(
            index=self.index,
            line=self.line,
            kind=self.kind,
            id=self.id,
            electronic_sequence=self.electronic_sequence,
            legal_sequence=self.legal_sequence,
            created=self.created,
            from_datetime=self.from_datetime,
            to_datetime=self.to_datetime,
            account=self.account,
            balances=tuple(self.balances),
            summary=self.summary,
            pagination=self.pagination,
            additional_info=self.additional_info,
        )


class Decoder:
    """Reads elements of one namespace. Subclasses are the version families."""

    def __init__(self, namespace: str) -> None:
        # "{urn:...}Amt"[cut:] == "Amt": cheaper than QName() for every child
        self._cut = len(namespace) + 2 if namespace else 0

    # ---------------------------------------------------------------- scalar values

    def amount(self, el: Element) -> Money:
        ccy = el.get("Ccy")
        text = el.text
        if text is not None and ccy is not None and len(ccy) == 3:
            # fast path: this currency and text were parsed before (Decimal is immutable)
            value = _AMOUNTS.get(ccy + text)
            if value is not None:
                return Money(value, ccy)
        if ccy is None or not _CURRENCY.fullmatch(ccy):
            fail("amount without a valid currency (Ccy)", el, ccy)
        stripped = text.strip() if text else ""
        try:
            value = _plain_amount(stripped, ccy) or parse_amount(stripped, ccy)
        except AmountError as exc:
            fail(f"amount {exc}", el, stripped)
        if text is not None:
            if len(_AMOUNTS) >= _CACHE_SIZE:
                _AMOUNTS.clear()
            _AMOUNTS[ccy + text] = value
        return Money(value, ccy)

    def decimal(self, el: Element, *, signed: bool = False) -> Decimal:
        """A plain decimal without currency (XchgRate; TxsSummry Sum, which some banks
        sign although the total's side is in its own element)."""
        text = _text(el)
        if not (_SIGNED_DECIMAL if signed else _PLAIN_DECIMAL).fullmatch(text):
            fail(f"{text!r} is not a plain decimal number", el, text)
        return Decimal(text)

    def integer(self, el: Element) -> int:
        text = _text(el)
        if not text.isdigit() or not text.isascii() or len(text) > MAX_DIGITS:
            fail(f"{text!r} is not a whole number of at most {MAX_DIGITS} digits", el, text)
        return int(text)

    def credit_debit(self, el: Element) -> CreditDebit:
        text = _text(el)
        if text == "CRDT":
            return "CRDT"
        if text == "DBIT":
            return "DBIT"
        fail(f"credit/debit indicator {text!r} is neither CRDT nor DBIT", el, text)

    def boolean(self, el: Element) -> bool:
        text = _text(el)
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        fail(f"{text!r} is not a boolean (true/false)", el, text)

    def date(self, el: Element) -> date:
        raw = el.text
        if raw is not None:
            known = _DATES.get(raw)  # files repeat their few dates many times
            if known is not None:
                return known
        text = raw.strip() if raw else ""
        # xs:date may carry a time zone ("2024-03-06+01:00"); the date is as written
        if not _XS_DATE.fullmatch(text[:10]) or (len(text) > 10 and not _TIMEZONE.fullmatch(text[10:])):
            fail(f"bad date {text!r}", el, text)
        try:
            day = date.fromisoformat(text[:10])
        except ValueError:
            fail(f"bad date {text!r}", el, text)
        if raw is not None:
            if len(_DATES) >= _CACHE_SIZE:
                _DATES.clear()
            _DATES[raw] = day
        return day

    def datetime(self, el: Element) -> datetime:
        text = _text(el)
        if not XS_DATETIME.fullmatch(text):
            fail(f"bad date-time {text!r}", el, text)
        try:
            # fractions beyond microseconds are cut to six digits (Python's resolution)
            head, dot, rest = text.partition(".")
            if dot:
                digits = len(rest) - len(rest.lstrip("0123456789"))
                text = f"{head}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
            return datetime.fromisoformat(text)
        except ValueError:
            fail(f"bad date-time {text!r}", el, text)

    def date_choice(self, el: Element) -> tuple[dt.date | None, dt.datetime | None]:
        """BookgDt / ValDt / Bal Dt: Dt or DtTm in any version. The date of a DtTm is
        its local date as written, never shifted to UTC (a 23:30+02:00 booking is
        booked on that day at that bank)."""
        cut = self._cut
        for child in el:
            name = child.tag[cut:]
            if name == "Dt":
                return self.date(child), None
            if name == "DtTm":
                moment = self.datetime(child)
                return moment.date(), moment
        return None, None

    def code_or_proprietary(self, el: Element) -> str | None:
        """Cd | Prtry, where Prtry is text or a GenericIdentification (Id)."""
        for child in el:
            name = child.tag[self._cut :]
            if name == "Cd":
                return _opt_text(child)
            if name == "Prtry":
                text = _opt_text(child)
                if text is not None:
                    return text
                for sub in child:
                    if sub.tag[self._cut :] == "Id":
                        return _opt_text(sub)
        return None

    def bic(self, fin_instn_id: Element) -> str | None:
        # BIC (v02) and BICFI (v04+) are accepted in every version: real files mix them
        for child in fin_instn_id:
            name = child.tag[self._cut :]
            if name == "BICFI" or name == "BIC":
                return _opt_text(child)
        return None

    def agent_bic(self, el: Element) -> str | None:
        for child in el:
            if child.tag[self._cut :] == "FinInstnId":
                return self.bic(child)
        return None

    # ---------------------------------------------------------------- family hooks

    def status(self, el: Element) -> str:
        """Sts: plain text up to v07, Sts/Cd (or Prtry) from v08; both accepted."""
        text = _opt_text(el)
        if text is None:
            text = self.code_or_proprietary(el)
        if not text:
            fail("entry status (Sts) is empty", el)
        return text

    def party_holder(self, el: Element) -> Element:
        """Dbtr/Cdtr: the party itself up to v07, wrapped in Pty from v08."""
        for child in el:
            if child.tag[self._cut :] == "Pty":
                return child
        return el

    def account_id(self, id_el: Element) -> tuple[str | None, str | None]:
        """Acct/Id -> (iban, other id)."""
        for child in id_el:
            name = child.tag[self._cut :]
            if name == "IBAN":
                return _opt_text(child), None
            if name == "Othr":
                for sub in child:
                    if sub.tag[self._cut :] == "Id":
                        return None, _opt_text(sub)
        return None, None

    def entry_details(self, ntry_child: Element, name: str, out: _Details) -> bool:
        """Take NtryDtls (one or several) into `out`; True when `ntry_child` was one."""
        if name != "NtryDtls":
            return False
        for child in ntry_child:
            sub = child.tag[self._cut :]
            if sub == "TxDtls":
                out.transactions.append(child)
            elif sub == "Btch":
                self.batch(child, out)
        return True

    # ---------------------------------------------------------------- message level

    def message_header(self, grp_hdr: Element | None, fmt: MessageFormat) -> MessageHeader:
        message_id = created = pagination = info = None
        if grp_hdr is not None:
            for child in grp_hdr:
                name = child.tag[self._cut :]
                if name == "MsgId":
                    message_id = _opt_text(child)
                elif name == "CreDtTm":
                    created = self.datetime(child)
                elif name == "MsgPgntn":
                    pagination = self.pagination(child)
                elif name == "AddtlInf":
                    info = _opt_text(child)
        return MessageHeader(
            kind=fmt.kind,
            version=fmt.version,
            namespace=fmt.namespace,
            message_id=message_id,
            created=created,
            pagination=pagination,
            additional_info=info,
        )

    def pagination(self, el: Element) -> Pagination:
        page: int | None = None
        last: bool | None = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "PgNb":
                page = self.integer(child)
            elif name == "LastPgInd":
                last = self.boolean(child)
        if page is None or last is None:
            fail("pagination without PgNb or LastPgInd", el)
        return Pagination(page=page, last_page=last)

    # ---------------------------------------------------------------- statement level

    def statement_child(self, parts: StatementParts, el: Element) -> None:
        """Fold one child of Stmt/Rpt/Ntfctn (other than Ntry) into `parts`."""
        name = el.tag[self._cut :]
        if name == "Bal":
            parts.balances.append(self.balance(el))
        elif name == "Id":
            parts.id = _opt_text(el)
        elif name == "ElctrncSeqNb":
            parts.electronic_sequence = self.integer(el)
        elif name == "LglSeqNb":
            parts.legal_sequence = self.integer(el)
        elif name == "CreDtTm":
            parts.created = self.datetime(el)
        elif name == "FrToDt":
            for child in el:
                sub = child.tag[self._cut :]
                if sub == "FrDtTm":
                    parts.from_datetime = self.datetime(child)
                elif sub == "ToDtTm":
                    parts.to_datetime = self.datetime(child)
        elif name == "Acct":
            parts.account = self.account(el)
        elif name == "TxsSummry":
            parts.summary = self.summary(el)
        elif name.endswith("Pgntn"):  # StmtPgntn, RptPgntn, NtfctnPgntn
            parts.pagination = self.pagination(el)
        elif name in ("AddtlStmtInf", "AddtlRptInf", "AddtlNtfctnInf"):
            parts.additional_info = _opt_text(el)

    def account(self, el: Element) -> Account:
        iban = other = ccy = nm = owner = servicer = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "Id":
                iban, other = self.account_id(child)
            elif name == "Ccy":
                ccy = _opt_text(child)
            elif name == "Nm":
                nm = _opt_text(child)
            elif name == "Ownr":
                owner = self.party_name(child)
            elif name == "Svcr":
                servicer = self.agent_bic(child)
        return Account(
            iban=iban,
            other_id=other,
            currency=ccy,
            name=nm,
            owner_name=owner,
            servicer_bic=servicer,
        )

    def balance(self, el: Element) -> Balance:
        type_code = sub_type = None
        money: Money | None = None
        side: CreditDebit | None = None
        day: date | None = None
        moment: datetime | None = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "Tp":
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "CdOrPrtry":
                        type_code = self.code_or_proprietary(sub)
                    elif sname == "SubTp":
                        sub_type = self.code_or_proprietary(sub)
            elif name == "Amt":
                money = self.amount(child)
            elif name == "CdtDbtInd":
                side = self.credit_debit(child)
            elif name == "Dt":
                day, moment = self.date_choice(child)
        if type_code is None:
            fail("balance without type (Tp/CdOrPrtry)", el)
        if money is None:
            fail("balance without amount (Amt)", el)
        if side is None:
            fail("balance without credit/debit indicator (CdtDbtInd)", el)
        return Balance(
            type_code=type_code,
            amount=money.amount,
            currency=money.currency,
            credit_debit=side,
            date=day,
            datetime=moment,
            sub_type=sub_type,
        )

    def summary(self, el: Element) -> TransactionsSummary:
        count = credit_count = debit_count = None
        total = credit_sum = debit_sum = None
        for child in el:
            name = child.tag[self._cut :]
            if name in ("TtlNtries", "TtlCdtNtries", "TtlDbtNtries"):
                n = s = None
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "NbOfNtries":
                        n = self.integer(sub)
                    elif sname == "Sum":
                        s = self.decimal(sub, signed=True)
                if name == "TtlNtries":
                    count, total = n, s
                elif name == "TtlCdtNtries":
                    credit_count, credit_sum = n, s
                else:
                    debit_count, debit_sum = n, s
        return TransactionsSummary(
            count=count,
            sum=total,
            credit_count=credit_count,
            credit_sum=credit_sum,
            debit_count=debit_count,
            debit_sum=debit_sum,
        )

    # ---------------------------------------------------------------- entry level

    def batch(self, el: Element, out: _Details) -> None:
        for child in el:
            name = child.tag[self._cut :]
            if name == "NbOfTxs":
                n = self.integer(child)
                out.batch_count = n if out.batch_count is None else out.batch_count + n
            elif name == "TtlAmt":
                total = self.amount(child)
                out.batch_sums.append(total)

    def entry(self, ntry: Element, index: int) -> Entry:
        money: Money | None = None
        side: CreditDebit | None = None
        status: str | None = None
        reversal = False
        booking_date = value_date = None
        booking_dt = value_dt = None
        acct_ref = entry_ref = info = None
        code: BankTransactionCode | None = None
        charges: tuple[Charge, ...] = ()
        details = _NO_AMOUNT_DETAILS
        out = _Details()
        cut = self._cut
        for child in ntry:
            name = child.tag[cut:]
            if name == "Amt":
                money = self.amount(child)
            elif name == "CdtDbtInd":
                text = child.text
                if text == "CRDT":
                    side = "CRDT"
                elif text == "DBIT":
                    side = "DBIT"
                else:
                    side = self.credit_debit(child)
            elif name == "Sts":
                status = self.status(child)
            elif name == "BookgDt":
                booking_date, booking_dt = self.date_choice(child)
            elif name == "ValDt":
                value_date, value_dt = self.date_choice(child)
            elif name == "AcctSvcrRef":
                text = child.text
                acct_ref = (text.strip() or None) if text else None
            elif name == "BkTxCd":
                code = self.bank_transaction_code(child)
            elif name == "RvslInd":
                reversal = self.boolean(child)
            elif name == "NtryRef":
                entry_ref = _opt_text(child)
            elif name == "AddtlNtryInf":
                info = _opt_text(child)
            elif name == "AmtDtls":
                details = self.amount_details(child)
            elif name == "Chrgs":
                charges += self.charges(child)
            else:
                self.entry_details(child, name, out)
        derived = False
        if money is None and side is None and out.transactions:
            # Some exports drop the entry's own Amt/CdtDbtInd and keep them per TxDtls:
            # the entry is then exactly what its transactions add up to.
            total = self.derived_amount(out.transactions)
            if total is not None:
                money, side = total
                derived = True
        if money is None:
            fail("entry without amount (Amt)", ntry)
        if side is None:
            fail("entry without credit/debit indicator (CdtDbtInd)", ntry)
        if status is None:
            fail("entry without status (Sts)", ntry)

        if out.transactions:
            single = len(out.transactions) == 1
            transactions = tuple(
                self.transaction(tx, i, money, side, code, single)
                for i, tx in enumerate(out.transactions)
            )
        else:
            transactions = (
                Transaction(
                    index=0,
                    amount=money.amount,
                    currency=money.currency,
                    credit_debit=side,
                    amount_details=details,
                    references=References(account_servicer_reference=acct_ref),
                    bank_transaction_code=code,
                    additional_info=info,
                    from_entry=True,
                    amount_source="entry",
                ),
            )
        batch_count = out.batch_count
        if batch_count is None and len(out.transactions) > 1:
            batch_count = len(out.transactions)
        batch_sum = None
        if out.batch_sums and all(m.currency == out.batch_sums[0].currency for m in out.batch_sums):
            batch_sum = sum((m.amount for m in out.batch_sums), Decimal(0))
        return Entry(
            index=index,
            line=line_of(ntry) or 0,
            amount=money.amount,
            currency=money.currency,
            credit_debit=side,
            status=status,
            reversal=reversal,
            booking_date=booking_date,
            booking_datetime=booking_dt,
            value_date=value_date,
            value_datetime=value_dt,
            account_servicer_reference=acct_ref,
            entry_reference=entry_ref,
            bank_transaction_code=code,
            batch_count=batch_count,
            batch_sum=batch_sum,
            charges=charges,
            amount_details=details,
            additional_info=info,
            transactions=transactions,
            amount_derived=derived,
        )

    def derived_amount(self, txs: list[Element]) -> tuple[Money, CreditDebit] | None:
        """Entry amount and side from TxDtls that all carry their own Amt and CdtDbtInd
        in one currency; None when any of them does not."""
        net = Decimal(0)
        currency: str | None = None
        for tx in txs:
            amt: Money | None = None
            tx_side: CreditDebit | None = None
            for child in tx:
                name = child.tag[self._cut :]
                if name == "Amt":
                    amt = self.amount(child)
                elif name == "CdtDbtInd":
                    tx_side = self.credit_debit(child)
            if amt is None or tx_side is None or (currency is not None and amt.currency != currency):
                return None
            currency = amt.currency
            net += amt.amount if tx_side == "CRDT" else -amt.amount
        if currency is None:
            return None
        return Money(abs(net), currency), ("CRDT" if net >= 0 else "DBIT")

    def bank_transaction_code(self, el: Element) -> BankTransactionCode:
        domain = family = sub_family = prop = issuer = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "Domn":
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "Cd":
                        domain = _opt_text(sub)
                    elif sname == "Fmly":
                        for f in sub:
                            fname = f.tag[self._cut :]
                            if fname == "Cd":
                                family = _opt_text(f)
                            elif fname == "SubFmlyCd":
                                sub_family = _opt_text(f)
            elif name == "Prtry":
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "Cd":
                        prop = _opt_text(sub)
                    elif sname == "Issr":
                        issuer = _opt_text(sub)
        return BankTransactionCode(
            domain=domain,
            family=family,
            sub_family=sub_family,
            proprietary=prop,
            proprietary_issuer=issuer,
        )

    def charges(self, el: Element) -> tuple[Charge, ...]:
        """v02: each Chrgs element is one charge; v04+: Chrgs holds Rcrd elements."""
        records = [c for c in el if c.tag[self._cut :] == "Rcrd"]
        if records:
            return tuple(c for c in (self.charge(r) for r in records) if c is not None)
        one = self.charge(el)
        return (one,) if one is not None else ()

    def charge(self, el: Element) -> Charge | None:
        money: Money | None = None
        side: CreditDebit | None = None
        type_code = bearer = None
        included: bool | None = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "Amt":
                money = self.amount(child)
            elif name == "CdtDbtInd":
                side = self.credit_debit(child)
            elif name == "Tp":
                type_code = self.code_or_proprietary(child)
            elif name == "ChrgInclInd":
                included = self.boolean(child)
            elif name == "Br":
                bearer = _opt_text(child)
        if money is None:  # only TtlChrgsAndTaxAmt: the records carry the detail
            return None
        return Charge(
            amount=money.amount,
            currency=money.currency,
            credit_debit=side,
            type_code=type_code,
            included=included,
            bearer=bearer,
        )

    def amount_details(self, el: Element) -> AmountDetails:
        instructed = transaction = counter = None
        source = target = None
        rate: Decimal | None = None
        for child in el:
            name = child.tag[self._cut :]
            if name not in ("InstdAmt", "TxAmt", "CntrValAmt"):
                continue
            money: Money | None = None
            for sub in child:
                sname = sub.tag[self._cut :]
                if sname == "Amt":
                    money = self.amount(sub)
                elif sname == "CcyXchg" and rate is None and source is None:
                    source, target, rate = self.exchange(sub)
            if name == "InstdAmt":
                instructed = money
            elif name == "TxAmt":
                transaction = money
            else:
                counter = money
        return AmountDetails(
            instructed=instructed,
            transaction=transaction,
            counter_value=counter,
            exchange_source_currency=source,
            exchange_target_currency=target,
            exchange_rate=rate,
        )

    def exchange(self, el: Element) -> tuple[str | None, str | None, Decimal | None]:
        source = target = None
        rate: Decimal | None = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "SrcCcy":
                source = _opt_text(child)
            elif name == "TrgtCcy":
                target = _opt_text(child)
            elif name == "XchgRate":
                rate = self.decimal(child)
        return source, target, rate

    # ---------------------------------------------------------------- transaction level

    def transaction(
        self,
        tx: Element,
        index: int,
        entry_money: Money,
        entry_side: CreditDebit,
        entry_code: BankTransactionCode | None,
        single: bool,
    ) -> Transaction:
        own: Money | None = None
        side: CreditDebit | None = None
        details = _NO_AMOUNT_DETAILS
        refs = _NO_REFERENCES
        parties: dict[str, dict[str, str | tuple[str, ...] | None]] = {}
        unstructured: list[str] = []
        structured: list[StructuredRemittance] = []
        return_reason: str | None = None
        return_info: tuple[str, ...] = ()
        code: BankTransactionCode | None = None
        charges: tuple[Charge, ...] = ()
        purpose = info = None
        cut = self._cut
        for child in tx:
            name = child.tag[cut:]
            if name == "Refs":
                refs = self.references(child)
            elif name == "AmtDtls":
                details = self.amount_details(child)
            elif name == "RltdPties":
                self.related_parties(child, parties)
            elif name == "RmtInf":
                self.remittance(child, unstructured, structured)
            elif name == "Amt":
                own = self.amount(child)
            elif name == "CdtDbtInd":
                side = self.credit_debit(child)
            elif name == "RltdAgts":
                self.related_agents(child, parties)
            elif name == "BkTxCd":
                code = self.bank_transaction_code(child)
            elif name == "Chrgs":
                charges += self.charges(child)
            elif name == "Purp":
                purpose = self.code_or_proprietary(child)
            elif name == "RtrInf":
                return_reason, return_info = self.return_info(child)
            elif name == "AddtlTxInf":
                info = _opt_text(child)

        source: AmountSource
        if own is None and details.transaction is not None:
            own = details.transaction
        if own is not None:
            source = "own"
        elif single:
            own, source = entry_money, "entry"
        elif details.instructed is not None and details.instructed.currency == entry_money.currency:
            own, source = details.instructed, "instructed"
        else:
            # Splitting or copying the entry amount would invent money: say we don't know.
            own, source = Money(Decimal(0), entry_money.currency), "unknown"

        get = parties.get
        return Transaction(
            index=index,
            amount=own.amount,
            currency=own.currency,
            credit_debit=side or entry_side,
            amount_details=details,
            references=refs,
            debtor=_party(get("Dbtr")),
            ultimate_debtor=_party(get("UltmtDbtr")),
            creditor=_party(get("Cdtr")),
            ultimate_creditor=_party(get("UltmtCdtr")),
            remittance_unstructured=tuple(unstructured),
            remittance_structured=tuple(structured),
            return_reason=return_reason,
            return_info=return_info,
            bank_transaction_code=code or entry_code,
            charges=charges,
            purpose=purpose,
            additional_info=info,
            amount_source=source,
        )

    _REFERENCE_FIELDS: ClassVar[dict[str, str]] = {
        "MsgId": "message_id",
        "AcctSvcrRef": "account_servicer_reference",
        "PmtInfId": "payment_information_id",
        "InstrId": "instruction_id",
        "EndToEndId": "end_to_end_id",
        "TxId": "transaction_id",
        "UETR": "uetr",
        "MndtId": "mandate_id",
        "ChqNb": "cheque_number",
        "ClrSysRef": "clearing_system_reference",
    }

    def references(self, el: Element) -> References:
        found: dict[str, str | None] = {}
        proprietary: list[tuple[str, str]] = []
        fields = self._REFERENCE_FIELDS
        cut = self._cut
        for child in el:
            name = child.tag[cut:]
            key = fields.get(name)
            if key is not None:
                text = child.text
                found[key] = (text.strip() or None) if text else None
            elif name == "Prtry":
                tp = ref = ""
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "Tp":
                        tp = _text(sub)
                    elif sname == "Ref":
                        ref = _text(sub)
                proprietary.append((tp, ref))
        if proprietary:
            return References(**found, proprietary=tuple(proprietary))
        return References(**found)  # type: ignore[arg-type]  # keys are its field names

    _PARTY_ROLES: ClassVar[frozenset[str]] = frozenset({"Dbtr", "UltmtDbtr", "Cdtr", "UltmtCdtr"})
    _ACCOUNT_ROLES: ClassVar[dict[str, str]] = {"DbtrAcct": "Dbtr", "CdtrAcct": "Cdtr"}
    _AGENT_ROLES: ClassVar[dict[str, str]] = {"DbtrAgt": "Dbtr", "CdtrAgt": "Cdtr"}

    def related_parties(
        self, el: Element, parties: dict[str, dict[str, str | tuple[str, ...] | None]]
    ) -> None:
        for child in el:
            name = child.tag[self._cut :]
            if name in self._PARTY_ROLES:
                holder = self.party_holder(child)
                parties.setdefault(name, {}).update(self.party(holder))
            else:
                role = self._ACCOUNT_ROLES.get(name)
                if role is None:
                    continue
                for sub in child:
                    if sub.tag[self._cut :] == "Id":
                        iban, other = self.account_id(sub)
                        slot = parties.setdefault(role, {})
                        slot["iban"] = iban
                        slot["other_account_id"] = other

    def related_agents(
        self, el: Element, parties: dict[str, dict[str, str | tuple[str, ...] | None]]
    ) -> None:
        for child in el:
            role = self._AGENT_ROLES.get(child.tag[self._cut :])
            if role is not None:
                bic = self.agent_bic(child)
                if bic is not None:
                    parties.setdefault(role, {})["agent_bic"] = bic

    def party(self, el: Element) -> dict[str, str | tuple[str, ...] | None]:
        found: dict[str, str | tuple[str, ...] | None] = {}
        cut = self._cut
        for child in el:
            name = child.tag[cut:]
            if name == "Nm":
                text = child.text
                found["name"] = (text.strip() or None) if text else None
            elif name == "PstlAdr":
                lines: list[str] = []
                for sub in child:
                    sname = sub.tag[cut:]
                    if sname == "Ctry":
                        text = sub.text
                        found["country"] = (text.strip() or None) if text else None
                    elif sname == "AdrLine":
                        text = sub.text
                        if text:
                            text = text.strip()
                            if text:
                                lines.append(text)
                found["address_lines"] = tuple(lines)
            elif name == "Id":
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "OrgId":
                        found["organisation_id"] = self._first_identifier(sub)
                    elif sname == "PrvtId":
                        found["private_id"] = self._first_identifier(sub)
            elif name == "FinInstnId":  # v08 Dbtr/Agt: a bank as the party
                found["agent_bic"] = self.bic(child)
            elif name == "Agt":
                found["agent_bic"] = self.agent_bic(child)
        return found

    def party_name(self, el: Element) -> str | None:
        for child in self.party_holder(el):
            if child.tag[self._cut :] == "Nm":
                return _opt_text(child)
        return None

    def _first_identifier(self, el: Element) -> str | None:
        """OrgId: AnyBIC/BICOrBEI/BIC or Othr/Id; PrvtId: Othr/Id."""
        for child in el:
            name = child.tag[self._cut :]
            if name in ("AnyBIC", "BICOrBEI", "BIC", "LEI"):
                return _opt_text(child)
            if name == "Othr":
                for sub in child:
                    if sub.tag[self._cut :] == "Id":
                        return _opt_text(sub)
        return None

    def remittance(
        self, el: Element, unstructured: list[str], structured: list[StructuredRemittance]
    ) -> None:
        cut = self._cut
        for child in el:
            name = child.tag[cut:]
            if name == "Ustrd":
                text = child.text
                if text:
                    text = text.strip()
                    if text:
                        unstructured.append(text)
            elif name == "Strd":
                structured.append(self.structured(child))

    def structured(self, el: Element) -> StructuredRemittance:
        creditor_ref: CreditorReference | None = None
        documents: list[ReferredDocument] = []
        info: list[str] = []
        invoicer = invoicee = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "CdtrRefInf":
                creditor_ref = self.creditor_reference(child)
            elif name == "RfrdDocInf":
                documents.append(self.referred_document(child))
            elif name == "AddtlRmtInf":
                text = _opt_text(child)
                if text:
                    info.append(text)
            elif name == "Invcr":
                invoicer = self.party_name(child)
            elif name == "Invcee":
                invoicee = self.party_name(child)
        if not documents and not info and invoicer is None and invoicee is None:
            return StructuredRemittance(creditor_ref)  # the common RF-only Strd
        return StructuredRemittance(
            creditor_reference=creditor_ref,
            referred_documents=tuple(documents),
            additional_info=tuple(info),
            invoicer_name=invoicer,
            invoicee_name=invoicee,
        )

    def creditor_reference(self, el: Element) -> CreditorReference | None:
        ref = type_code = type_prop = issuer = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "Ref":
                ref = _opt_text(child)
            elif name == "Tp":
                for sub in child:
                    sname = sub.tag[self._cut :]
                    if sname == "CdOrPrtry":
                        for c in sub:
                            cname = c.tag[self._cut :]
                            if cname == "Cd":
                                type_code = _opt_text(c)
                            elif cname == "Prtry":
                                type_prop = _opt_text(c)
                    elif sname == "Issr":
                        issuer = _opt_text(sub)
        if ref is None:
            return None
        return CreditorReference(
            reference=ref, type_code=type_code, type_proprietary=type_prop, issuer=issuer
        )

    def referred_document(self, el: Element) -> ReferredDocument:
        number = type_code = None
        day: date | None = None
        for child in el:
            name = child.tag[self._cut :]
            if name == "Nb":
                number = _opt_text(child)
            elif name == "Tp":
                for sub in child:
                    if sub.tag[self._cut :] == "CdOrPrtry":
                        type_code = self.code_or_proprietary(sub)
            elif name == "RltdDt":
                day = self.date(child)
        return ReferredDocument(number=number, type_code=type_code, date=day)

    def return_info(self, el: Element) -> tuple[str | None, tuple[str, ...]]:
        reason = None
        info: list[str] = []
        for child in el:
            name = child.tag[self._cut :]
            if name == "Rsn":
                reason = self.code_or_proprietary(child)
            elif name == "AddtlInf":
                text = _opt_text(child)
                if text:
                    info.append(text)
        return reason, tuple(info)


@dataclass(slots=True)
class _Details:
    """TxDtls elements and batch figures gathered from an entry's NtryDtls blocks."""

    transactions: list[Element] = field(default_factory=list)
    batch_count: int | None = None
    batch_sums: list[Money] = field(default_factory=list)


def _party(found: dict[str, str | tuple[str, ...] | None] | None) -> Party | None:
    if not found:
        return None
    return Party(**found)  # type: ignore[arg-type]  # keys are Party's own field names
