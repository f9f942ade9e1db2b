"""Plain dataclasses a camt.052/053/054 message is read into.

Amounts are Decimal, exact to the currency's minor unit. Sign is never folded into the
amount: `credit_debit` says which side, `reversal` says whether the bank reversed an
earlier booking (a reversed credit is booked as a DBIT with reversal=True).

The classes built once per entry (Entry, Transaction and what they hold) are plain
slots dataclasses, not frozen: a frozen dataclass sets every field through
object.__setattr__, which made building them a large part of reading a file. They
keep the frozen classes' value equality and field hash (unsafe_hash=True) and are to
be treated as read-only: the reader shares some instances (empty AmountDetails /
References) between transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

CreditDebit = Literal["CRDT", "DBIT"]
# Where a transaction's amount came from (see Transaction.amount_source).
AmountSource = Literal["own", "entry", "instructed", "unknown"]
BalanceCheckStatus = Literal["ok", "mismatch", "not_applicable"]


@dataclass(slots=True, unsafe_hash=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Pagination:
    page: int
    last_page: bool


@dataclass(frozen=True, slots=True)
class MessageHeader:
    kind: str  # "camt.052" | "camt.053" | "camt.054"
    version: str  # e.g. "001.02"; "" when the file had no namespace
    namespace: str
    message_id: str | None
    created: datetime | None
    pagination: Pagination | None = None
    additional_info: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    iban: str | None = None
    other_id: str | None = None
    currency: str | None = None
    name: str | None = None
    owner_name: str | None = None
    servicer_bic: str | None = None

    @property
    def identifier(self) -> str:
        return self.iban or self.other_id or ""


@dataclass(frozen=True, slots=True)
class Balance:
    type_code: str  # Cd (OPBD, CLBD, PRCD, ITBD, CLAV, ...) or the proprietary text
    amount: Decimal
    currency: str
    credit_debit: CreditDebit
    date: date | None = None
    datetime: datetime | None = None
    sub_type: str | None = None

    @property
    def signed(self) -> Decimal:
        return self.amount if self.credit_debit == "CRDT" else -self.amount


@dataclass(frozen=True, slots=True)
class TransactionsSummary:
    count: int | None = None
    sum: Decimal | None = None
    credit_count: int | None = None
    credit_sum: Decimal | None = None
    debit_count: int | None = None
    debit_sum: Decimal | None = None


@dataclass(slots=True, unsafe_hash=True)
class BankTransactionCode:
    domain: str | None = None
    family: str | None = None
    sub_family: str | None = None
    proprietary: str | None = None
    proprietary_issuer: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class Charge:
    amount: Decimal
    currency: str
    credit_debit: CreditDebit | None = None
    type_code: str | None = None
    included: bool | None = None  # ChrgInclInd / the bearer's flag
    bearer: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class AmountDetails:
    instructed: Money | None = None
    transaction: Money | None = None
    counter_value: Money | None = None
    # CcyXchg of whichever amount carried one (source, target, unit, rate)
    exchange_source_currency: str | None = None
    exchange_target_currency: str | None = None
    exchange_rate: Decimal | None = None


@dataclass(slots=True, unsafe_hash=True)
class References:
    message_id: str | None = None
    account_servicer_reference: str | None = None
    payment_information_id: str | None = None
    instruction_id: str | None = None
    end_to_end_id: str | None = None
    transaction_id: str | None = None
    uetr: str | None = None
    mandate_id: str | None = None
    cheque_number: str | None = None
    clearing_system_reference: str | None = None
    proprietary: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class Party:
    name: str | None = None
    iban: str | None = None  # of the party's account
    other_account_id: str | None = None
    agent_bic: str | None = None  # BIC of the party's agent (bank)
    country: str | None = None
    address_lines: tuple[str, ...] = ()
    organisation_id: str | None = None
    private_id: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class CreditorReference:
    reference: str
    type_code: str | None = None  # SCOR, ...
    type_proprietary: str | None = None
    issuer: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class ReferredDocument:
    number: str | None = None
    type_code: str | None = None
    date: date | None = None
    amount: Decimal | None = None


@dataclass(slots=True, unsafe_hash=True)
class StructuredRemittance:
    creditor_reference: CreditorReference | None = None
    referred_documents: tuple[ReferredDocument, ...] = ()
    additional_info: tuple[str, ...] = ()
    invoicer_name: str | None = None
    invoicee_name: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class Transaction:
    """One payment inside an entry. Its amount is its own (TxAmt / Amt), or the entry's
    amount when the entry carries exactly one transaction without an amount."""

    index: int  # 0-based position within the entry
    amount: Decimal
    currency: str
    credit_debit: CreditDebit
    amount_details: AmountDetails = field(default_factory=AmountDetails)
    references: References = field(default_factory=References)
    debtor: Party | None = None
    ultimate_debtor: Party | None = None
    creditor: Party | None = None
    ultimate_creditor: Party | None = None
    remittance_unstructured: tuple[str, ...] = ()
    remittance_structured: tuple[StructuredRemittance, ...] = ()
    return_reason: str | None = None  # RtrInf/Rsn Cd or Prtry
    return_info: tuple[str, ...] = ()
    bank_transaction_code: BankTransactionCode | None = None
    charges: tuple[Charge, ...] = ()
    purpose: str | None = None
    additional_info: str | None = None  # AddtlTxInf
    from_entry: bool = False  # True when there were no TxDtls: built from the entry
    # "own": TxDtls/Amt or AmtDtls/TxAmt; "entry": the entry's amount (single TxDtls or
    # from_entry); "instructed": AmtDtls/InstdAmt in the entry currency (a batch whose
    # details carry no booked amount); "unknown": no amount at all, `amount` is 0 and
    # must not be used for matching (a batch problem is reported for it).
    amount_source: AmountSource = "own"

    @property
    def creditor_references(self) -> tuple[str, ...]:
        return tuple(
            s.creditor_reference.reference
            for s in self.remittance_structured
            if s.creditor_reference is not None and s.creditor_reference.reference
        )

    @property
    def counterparty(self) -> Party | None:
        """The other side: the debtor of a credit, the creditor of a debit."""
        return self.debtor if self.credit_debit == "CRDT" else self.creditor


@dataclass(slots=True, unsafe_hash=True)
class Entry:
    index: int  # 0-based position within its statement
    line: int  # source line of <Ntry>, for messages
    amount: Decimal
    currency: str
    credit_debit: CreditDebit
    status: str  # BOOK, PDNG, INFO, or proprietary
    reversal: bool = False
    booking_date: date | None = None
    booking_datetime: datetime | None = None
    value_date: date | None = None
    value_datetime: datetime | None = None
    account_servicer_reference: str | None = None
    entry_reference: str | None = None
    bank_transaction_code: BankTransactionCode | None = None
    batch_count: int | None = None  # Btch/NbOfTxs, or TxDtls count when batched
    batch_sum: Decimal | None = None
    charges: tuple[Charge, ...] = ()
    amount_details: AmountDetails = field(default_factory=AmountDetails)
    additional_info: str | None = None  # AddtlNtryInf
    transactions: tuple[Transaction, ...] = ()
    amount_derived: bool = False  # no Amt/CdtDbtInd of its own: its transactions' sum

    @property
    def signed(self) -> Decimal:
        return self.amount if self.credit_debit == "CRDT" else -self.amount


@dataclass(frozen=True, slots=True)
class StatementHeader:
    """A statement (053), report (052) or notification (054) without its entries."""

    index: int  # 0-based position within the message
    line: int
    kind: str
    id: str | None
    electronic_sequence: int | None
    legal_sequence: int | None
    created: datetime | None
    from_datetime: datetime | None
    to_datetime: datetime | None
    account: Account
    balances: tuple[Balance, ...] = ()
    summary: TransactionsSummary | None = None
    pagination: Pagination | None = None
    additional_info: str | None = None

    @property
    def currency(self) -> str | None:
        if self.account.currency:
            return self.account.currency
        # the booked balances' currency says what the account is kept in
        for code in ("OPBD", "PRCD", "CLBD", "ITBD"):
            bal = self.balance(code)
            if bal is not None:
                return bal.currency
        return self.balances[0].currency if self.balances else None

    def balance(self, *codes: str) -> Balance | None:
        for code in codes:
            for b in self.balances:
                if b.type_code == code:
                    return b
        return None


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """Opening + booked credits - booked debits against the closing balance."""

    status: BalanceCheckStatus
    opening: Decimal | None = None  # signed
    closing: Decimal | None = None  # signed
    credits: Decimal = Decimal(0)
    debits: Decimal = Decimal(0)
    expected_closing: Decimal | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class StatementEnd:
    """Last event of a statement in `camt.stream`: the complete header (balances that
    came after the entries included), the totals and the checks."""

    header: StatementHeader
    entry_count: int
    credit_sum: Decimal  # booked (BOOK) credit entries in the statement currency
    debit_sum: Decimal  # booked (BOOK) debit entries in the statement currency
    balance_check: BalanceCheck
    batch_problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Statement:
    header: StatementHeader
    entries: tuple[Entry, ...]
    balance_check: BalanceCheck | None = None
    batch_problems: tuple[str, ...] = ()

    # convenient pass-throughs for tests and callers
    @property
    def id(self) -> str | None:
        return self.header.id

    @property
    def account(self) -> Account:
        return self.header.account

    @property
    def balances(self) -> tuple[Balance, ...]:
        return self.header.balances


@dataclass(frozen=True, slots=True)
class Document:
    message: MessageHeader
    statements: tuple[Statement, ...]
