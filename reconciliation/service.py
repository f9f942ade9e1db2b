"""Importing a statement: stream it, store each transaction once, match, apply.

One database transaction per file: a file that fails anywhere (bad XML, a bad amount
on entry 90 000, a balance mismatch under --strict) leaves nothing behind. A dry run is
the same import rolled back at the end, so it shows exactly what would happen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

import camt
from camt.checks import closing_balance, opening_balance
from camt import Entry, MessageHeader, Party, StatementEnd, StatementHeader, Transaction
from core.db import utcnow
from core.events import emit
from core.money import from_minor, to_minor
from invoices import service as invoice_service
from invoices.models import Customer, Invoice
from invoices.status import OPEN
from reconciliation import engine
from reconciliation.engine import payer_key
from reconciliation.errors import ImportRefused, StaleMatch
from reconciliation.source import ImportOptions, PreparedStatement

__all__ = ["ImportOptions", "ImportRefused", "PreparedStatement", "import_statement"]
from reconciliation.identity import IdentityCounter, meaningful, statement_fingerprint
from reconciliation.model import (
    Candidate,
    CustomerInfo,
    IncomingPayment,
    MatchResult,
    OpenInvoice,
    PayerAlias,
)
from reconciliation.models import BankTransaction, CustomerCredit, PayerVerdict, Payment, Suggestion
from reconciliation.models import Statement as StatementRow
from reconciliation.report import ImportReport, StatementSummary, TxLine

MATCH_CHUNK = 500  # payments matched and applied together while streaming
STORE_CHUNK = 500  # transactions stored per database round trip




# ----------------------------------------------------------------- loading


def load_open_items(session: Session, merchant_id: int) -> tuple[list[OpenInvoice], list[CustomerInfo]]:
    invoices = session.scalars(
        select(Invoice).where(
            Invoice.merchant_id == merchant_id, Invoice.status.in_([s.value for s in OPEN])
        )
    ).all()
    customers = session.scalars(
        select(Customer).where(Customer.merchant_id == merchant_id).options(selectinload(Customer.ibans))
    ).all()
    open_invoices = [
        OpenInvoice(
            id=inv.id, number=inv.number or "", customer_id=inv.customer_id, currency=inv.currency,
            total_minor=inv.total_minor, open_minor=inv.open_minor, issue_date=inv.issue_date,
            due_date=inv.due_date, rf_reference=inv.rf_reference,
        )
        for inv in invoices
        if inv.open_minor > 0
    ]
    aliases: dict[int, list[PayerAlias]] = {}
    not_payers: dict[int, list[str]] = {}
    verdicts = session.execute(
        select(PayerVerdict, BankTransaction.counterparty_iban)
        .outerjoin(BankTransaction, BankTransaction.id == PayerVerdict.bank_transaction_id)
        .where(PayerVerdict.merchant_id == merchant_id)
    )
    for v, account in verdicts:
        if v.verdict == "confirmed" and v.kind == "name":
            aliases.setdefault(v.customer_id, []).append(PayerAlias(v.value, account))
        elif v.verdict == "rejected":
            not_payers.setdefault(v.customer_id, []).append(payer_key(v.kind, v.value))
    infos = [
        CustomerInfo(id=c.id, name=c.name, ibans=tuple(i.iban for i in c.ibans),
                     aliases=tuple(aliases.get(c.id, ())), not_payers=tuple(not_payers.get(c.id, ())))
        for c in customers
    ]
    return open_invoices, infos


# What the matcher reads of a payment's texts: ISO 20022 allows 140 characters per
# Ustrd and 500 per additional info; a hostile megabyte of text must not cost seconds.
MAX_MATCH_TEXT = 500
MAX_MATCH_TEXTS = 20


def _check_lengths(account: str, entry: Entry, tx: Transaction, party: Party | None) -> None:
    """Values longer than any bank sends (and than their columns): refused by name, so
    PostgreSQL never answers 'value too long' in the middle of an import."""
    where = f"entry {entry.index + 1}, transaction {tx.index + 1}"
    for what, value, limit in (
        ("account identifier", account, 64),
        ("entry status (Sts)", entry.status, 8),
        ("account-servicer reference (AcctSvcrRef)", entry.account_servicer_reference, 140),
        ("end-to-end id (EndToEndId)", tx.references.end_to_end_id, 140),
        ("counterparty IBAN", party.iban if party else None, 34),
    ):
        if value is not None and len(value) > limit:
            raise ImportRefused(f"{where}: {what} is longer than {limit} characters: {value[:40]!r}…")


def incoming_payment(key: str, entry: Entry, tx: Transaction) -> IncomingPayment:
    payer = tx.debtor or tx.ultimate_debtor
    texts: list[str] = list(tx.remittance_unstructured)
    for block in tx.remittance_structured:
        texts.extend(block.additional_info)
        texts.extend(d.number for d in block.referred_documents if d.number)
    if tx.additional_info:
        texts.append(tx.additional_info)
    if entry.additional_info and len(entry.transactions) == 1:
        texts.append(entry.additional_info)
    return IncomingPayment(
        key=key,
        amount_minor=to_minor(tx.amount, tx.currency),
        currency=tx.currency,
        booking_date=entry.booking_date or entry.value_date,
        payer_name=((payer.name if payer else None) or (tx.ultimate_debtor.name if tx.ultimate_debtor else None)
                    or "")[:140] or None,
        payer_iban=(payer.iban.upper().replace(" ", "") if payer and payer.iban else None),
        end_to_end_id=meaningful(tx.references.end_to_end_id),
        creditor_references=tx.creditor_references,
        texts=tuple(t[:MAX_MATCH_TEXT] for t in texts[:MAX_MATCH_TEXTS] if t),
    )


def _reference_text(tx: Transaction) -> str | None:
    refs = list(tx.creditor_references)
    refs.extend(tx.remittance_unstructured)
    text = " / ".join(r for r in refs if r)
    return text[:140] if text else None


def _details(entry: Entry, tx: Transaction) -> dict[str, Any]:
    code = tx.bank_transaction_code or entry.bank_transaction_code
    party = tx.counterparty
    return {
        "entry_reference": entry.entry_reference,
        "booking_datetime": entry.booking_datetime.isoformat() if entry.booking_datetime else None,
        "bank_transaction_code": (
            "/".join(p for p in (code.domain, code.family, code.sub_family) if p) or code.proprietary
            if code else None
        ),
        "transaction_id": tx.references.transaction_id,
        "uetr": tx.references.uetr,
        "counterparty_bic": party.agent_bic if party else None,
        "unstructured": list(tx.remittance_unstructured),
        "entry_info": entry.additional_info,
        "transaction_info": tx.additional_info,
        "return_reason": tx.return_reason,
        "batch_count": entry.batch_count,
        "from_entry": tx.from_entry,
    }


# ----------------------------------------------------------------- the import


class _Importer:
    def __init__(self, session: Session, merchant_id: int, options: ImportOptions, report: ImportReport) -> None:
        self.session = session
        self.merchant_id = merchant_id
        self.options = options
        self.report = report
        self.index: Any = None
        self.pending: list[tuple[IncomingPayment, BankTransaction, TxLine]] = []
        self.invoice_numbers: dict[int, str] = {}
        # the statement being read
        self.message: MessageHeader | None = None
        self.header: StatementHeader | None = None
        self.stmt_row: StatementRow | None = None
        self.summary: StatementSummary | None = None
        self.savepoint: Any = None
        self.counter = IdentityCounter()
        self.seq = 0
        self.buffer: list[Entry] = []
        self.buffered_txs = 0

    def run(self, events: Iterator[camt.Event]) -> None:
        for event in events:
            if isinstance(event, MessageHeader):
                self.message = event
            elif isinstance(event, StatementHeader):
                self.start_statement(event)
            elif isinstance(event, Entry):
                self.store_entry(event)
            elif isinstance(event, StatementEnd):
                self.end_statement(event)
        self.flush()

    def start_statement(self, header: StatementHeader) -> None:
        assert self.message is not None
        self.savepoint = self.session.begin_nested()
        self.header, self.counter = header, IdentityCounter()
        self.stmt_row = _statement_row(self.merchant_id, self.message, header, self.report.file_name)
        self.session.add(self.stmt_row)
        self.session.flush()
        self.summary = StatementSummary(
            kind=self.message.kind, statement_id=header.id, account=header.account.identifier,
            currency=header.currency, opening=None, closing=None, balance_check="",
            balance_message="", problems=[], db_id=self.stmt_row.id,
        )

    def end_statement(self, end: StatementEnd) -> None:
        assert self.message is not None and self.stmt_row is not None and self.summary is not None
        self.store_buffer()
        self.flush()
        row, summary, header = self.stmt_row, self.summary, end.header
        check = end.balance_check
        summary.balance_check = check.status
        summary.balance_message = check.message
        summary.opening = check.opening
        summary.closing = check.closing
        summary.problems = list(end.batch_problems)
        summary.account = header.account.identifier
        summary.currency = header.currency
        if self.options.strict and (check.status == "mismatch" or end.batch_problems):
            failed = ([check.message] if check.status == "mismatch" else []) + list(end.batch_problems)
            problems = "; ".join(failed)
            raise ImportRefused(
                f"statement {header.id or '?'} ({summary.account}) fails its checks under --strict: {problems}"
            )
        fingerprint = statement_fingerprint(self.message.kind, header, self.counter.digest)
        clash = self.session.scalar(
            select(StatementRow.id).where(
                StatementRow.merchant_id == self.merchant_id, StatementRow.fingerprint == fingerprint
            )
        )
        if clash is not None:
            summary.already_imported = True
            summary.db_id = clash
            self.savepoint.rollback()
            self.index = None
        else:
            opening, closing = opening_balance(header), closing_balance(header)
            row.fingerprint = fingerprint
            row.account = summary.account
            row.currency = header.currency
            row.owner_name = header.account.owner_name
            row.servicer_bic = header.account.servicer_bic
            row.balance_check = check.status
            row.balance_message = check.message
            # kept only in the statement's own currency (some test files mix currencies)
            row.opening_minor = (to_minor(opening.signed, opening.currency)
                                 if opening and opening.currency == header.currency else None)
            row.closing_minor = (to_minor(closing.signed, closing.currency)
                                 if closing and closing.currency == header.currency else None)
            row.problems = summary.problems
            row.entry_count = summary.entries
            row.transaction_count = summary.transactions
            row.new_transaction_count = summary.new_transactions
            self.session.flush()
            self.savepoint.commit()
        self.report.statements.append(summary)
        self.header = self.stmt_row = self.summary = None

    # -- matching

    def _ensure_index(self) -> Any:
        if self.index is None:
            invoices, customers = load_open_items(self.session, self.merchant_id)
            self.invoice_numbers = {i.id: i.number for i in invoices}
            self.index = engine.build_index(invoices, customers)
        return self.index

    def flush(self) -> None:
        if not self.pending:
            return
        from paylinks import settle

        index = self._ensure_index()
        payments = [p for p, _, _ in self.pending]
        own = settle.recognise(self.session, self.merchant_id, payments)  # kvits' pay link payments: certain
        card_payouts = settle.payouts(self.session, self.merchant_id, payments, utcnow())
        results = engine.match_payments(payments, index, self.options.settings)
        batch = list(zip(self.pending, results, strict=True))
        # kvits' own payments first: they are certain, and an ordinary credit for the same
        # invoice in the same file must not take their place
        for (payment, row, line), result in sorted(batch, key=lambda item: item[0][0].key not in own):
            if payment.key in card_payouts:  # its card payments paid their invoices when captured
                row.match_status, line.decision = "card_payout", "card_payout"
                row.reasons = [{"code": "card_payout", "detail": card_payouts[payment.key], "points": 100}]
                line.reasons = [card_payouts[payment.key]]
                continue
            self._apply(payment, row, line, own.get(payment.key, result))
            if payment.key in own and line.decision == "applied" and payment.end_to_end_id:
                settle.settled(self.session, self.merchant_id, payment.end_to_end_id, utcnow())
        for _, _, line in self.pending:
            self.report.add(line)
        self.pending.clear()
        self.session.flush()

    def _candidate_json(self, cand: Candidate) -> dict[str, Any]:
        return {
            "invoice_ids": list(cand.invoice_ids),
            "invoices": [self.invoice_numbers.get(i, str(i)) for i in cand.invoice_ids],
            "allocations": [[a.invoice_id, a.amount_minor] for a in cand.allocations],
            "overpayment_minor": cand.overpayment_minor,
            "customer_id": cand.customer_id,
            "confidence": cand.confidence,
            "reasons": [r.detail for r in cand.reasons],
        }

    def _apply(self, payment: IncomingPayment, row: BankTransaction, line: TxLine, result: MatchResult) -> None:
        row.confidence = result.confidence
        row.reasons = [{"code": r.code, "detail": r.detail, "points": r.points} for r in result.reasons]
        line.confidence = result.confidence if result.best else None
        line.reasons = [r.detail for r in result.reasons]
        if result.best is not None:
            line.invoices = [self.invoice_numbers.get(i, str(i)) for i in result.best.invoice_ids]
        decision = result.decision
        if decision == "apply" and result.best is not None:
            try:
                apply_candidate(self.session, self.merchant_id, row, result.best, payment, source="auto")
            except StaleMatch as exc:
                # the invoice changed while this file was being read: a person decides
                decision = "suggest"
                line.reasons.append(f"not applied automatically: {exc}")
            else:
                line.decision = "applied"
                line.allocated = [from_minor(a.amount_minor, payment.currency) for a in result.best.allocations]
                line.overpayment = from_minor(result.best.overpayment_minor, payment.currency)
        if decision == "suggest" and result.best is not None:
            cands = [result.best, *result.alternatives]
            self.session.add(
                Suggestion(
                    merchant_id=self.merchant_id,
                    bank_transaction_id=row.id,
                    confidence=result.confidence,
                    candidates=[self._candidate_json(c) for c in cands],
                )
            )
            row.match_status = "suggested"
            line.decision = "suggested"
            emit(self.session, self.merchant_id, "reconciliation.suggestion_created", transaction=f"txn_{row.id}",
                 amount=str(from_minor(row.amount_minor, row.currency)), currency=row.currency,
                 confidence=result.confidence, invoices=[self.invoice_numbers.get(i, str(i))
                                                         for i in result.best.invoice_ids])
        elif decision != "apply" or result.best is None:
            row.match_status = "unmatched"
            line.decision = "unmatched"

    # -- reversals

    def reverse(self, entry: Entry, tx: Transaction, row: BankTransaction, line: TxLine) -> None:
        """A DBIT with RvslInd: the bank took back an earlier credit; undo what it paid."""
        self.flush()
        original = find_reversed_credit(self.session, self.merchant_id, row, tx)
        row.match_status = "reversal"
        if original is None:
            line.decision = "reversal_unmatched"
            line.reasons = ["no earlier credit found that this reversal takes back"]
            return
        undone = undo_transaction(self.session, self.merchant_id, original, reversal_row=row)
        from paylinks import settle

        settle.reversed_by_bank(self.session, self.merchant_id, original.end_to_end_id, utcnow())
        line.decision = "reversal"
        line.invoices = undone
        line.reasons = [f"reverses the credit booked as {original.account_servicer_reference or original.identity[:12]}"]
        self.index = None  # invoices re-opened: rebuild before the next match

    # -- storing

    def store_entry(self, entry: Entry) -> None:
        """Buffer the entry; entries are stored and decided in chunks (one existence
        query and one INSERT round trip per chunk, not per transaction)."""
        self.buffer.append(entry)
        self.buffered_txs += len(entry.transactions)
        if self.buffered_txs >= STORE_CHUNK:
            self.store_buffer()

    def store_buffer(self) -> None:
        header, stmt_row, summary = self.header, self.stmt_row, self.summary
        if not self.buffer:
            return
        assert header is not None and stmt_row is not None and summary is not None
        account = header.account.identifier
        work: list[tuple[Entry, Transaction, str]] = [
            (entry, tx, self.counter.identity(account, entry, tx))
            for entry in self.buffer for tx in entry.transactions
        ]
        summary.entries += len(self.buffer)
        self.buffer, self.buffered_txs = [], 0
        existing: dict[str, BankTransaction] = {}
        keys = [key for _, _, key in work]
        for start in range(0, len(keys), 500):
            existing.update(
                (r.identity, r)
                for r in self.session.scalars(
                    select(BankTransaction).where(
                        BankTransaction.merchant_id == self.merchant_id,
                        BankTransaction.identity.in_(keys[start:start + 500]),
                    )
                )
            )
        decided: list[tuple[Entry, Transaction, str, BankTransaction | None, TxLine]] = []
        for entry, tx, key in work:
            summary.transactions += 1
            self.seq += 1
            party = tx.counterparty
            line = TxLine(
                statement=header.id or "", entry_index=entry.index, tx_index=tx.index,
                account_servicer_reference=entry.account_servicer_reference, amount=tx.amount,
                currency=tx.currency, credit_debit=tx.credit_debit, reversal=entry.reversal,
                payer=party.name if party else None, reference=_reference_text(tx), decision="",
                seq=self.seq,
            )
            row = existing.get(key)
            booked = entry.status.upper() == "BOOK"
            if row is not None and not (booked and row.status != "BOOK"):
                line.decision = "duplicate"
                self.report.add(line)
                continue
            if row is None:
                _check_lengths(account, entry, tx, party)
                row = BankTransaction(
                    merchant_id=self.merchant_id, statement_id=stmt_row.id, identity=key,
                    entry_index=entry.index, tx_index=tx.index, account=account,
                    amount_minor=to_minor(tx.amount, tx.currency), currency=tx.currency,
                    credit_debit=tx.credit_debit, reversal=entry.reversal, status=entry.status,
                    booking_date=entry.booking_date, value_date=entry.value_date,
                    account_servicer_reference=entry.account_servicer_reference,
                    end_to_end_id=meaningful(tx.references.end_to_end_id),
                    counterparty_name=(party.name[:200] if party and party.name else None),
                    counterparty_iban=(party.iban if party else None),
                    creditor_references=list(tx.creditor_references),
                    remittance=" ".join(tx.remittance_unstructured)[:2000],
                    details=_details(entry, tx),
                )
                self.session.add(row)
                summary.new_transactions += 1
            else:  # seen before as pending / information only: now the bank booked it
                row.status = entry.status
                row.booking_date = entry.booking_date
                row.statement_id = stmt_row.id
            decided.append((entry, tx, key, row, line))
        self.session.flush()  # one round trip: ids for payments and suggestions
        for entry, tx, key, row, line in decided:
            assert row is not None
            if entry.status.upper() != "BOOK":
                line.decision = "not_booked"
            elif entry.reversal and tx.credit_debit == "DBIT":
                self.reverse(entry, tx, row, line)
            elif tx.credit_debit == "DBIT" or entry.reversal:
                line.decision = "outgoing"
            elif row.reversed_by_id is not None:
                # a reversal listed earlier in this file already took it back: nothing to pay
                row.match_status = "reversed"
                line.decision = "reversed"
                line.reasons = ["taken back by a reversal earlier in this file"]
            elif tx.amount_source == "unknown":  # the bank gave no amount for it: a person decides
                row.match_status = "unmatched"
                line.decision = "unmatched"
                line.reasons = ["the bank gave no amount for this transaction"]
            else:  # reported once matched, in flush()
                self.pending.append((incoming_payment(key, entry, tx), row, line))
                if len(self.pending) >= MATCH_CHUNK:
                    self.flush()
                continue
            self.report.add(line)


IMPORT_LOCK = 0x6B76  # "kv": the advisory lock class of statement imports


def import_statement(
    session: Session,
    merchant_id: int,
    source: Path | bytes | PreparedStatement,
    *,
    file_name: str | None = None,
    options: ImportOptions = ImportOptions(),
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one camt file inside the caller's open transaction (roll it back on error).

    Raises CamtError for a file that cannot be read and ImportRefused for one that is
    refused as a whole (too large, or failing its checks under --strict).
    """
    prepared = source if isinstance(source, PreparedStatement) else PreparedStatement(
        source, options, progress, file_name
    )
    if not options.dry_run and session.get_bind().dialect.name == "postgresql":
        # one import of a merchant's statements at a time: overlapping files (the same
        # entries in several) then meet entries already committed, instead of colliding on
        # the unique identity and reading again, over and over, when many come at once
        session.execute(text("SELECT pg_advisory_xact_lock(:kind, :merchant)"),
                        {"kind": IMPORT_LOCK, "merchant": merchant_id % 2**31})
    with prepared:
        report = ImportReport(file_name=prepared.name, dry_run=options.dry_run, line_limit=options.line_limit)
        _Importer(session, merchant_id, options, report).run(prepared.events())
        report.file_sha256 = prepared.reader.sha256.hexdigest()
    for summary in report.statements:
        if summary.db_id is not None and not summary.already_imported:
            row = session.get(StatementRow, summary.db_id)
            if row is not None:
                row.file_sha256 = report.file_sha256
            if not options.dry_run:
                emit(session, merchant_id, "statement.imported", statement=f"stm_{summary.db_id}",
                     account=summary.account, transactions=summary.transactions,
                     new_transactions=summary.new_transactions, balance_check=summary.balance_check)
    session.flush()
    return report


def _statement_row(merchant_id: int, message: MessageHeader, header: StatementHeader, file_name: str) -> StatementRow:
    return StatementRow(
        merchant_id=merchant_id,
        fingerprint=f"pending-{uuid.uuid4().hex}",
        kind=message.kind,
        version=message.version,
        message_id=message.message_id,
        statement_id=header.id,
        electronic_sequence=header.electronic_sequence,
        legal_sequence=header.legal_sequence,
        created_at_bank=header.created,
        from_datetime=header.from_datetime,
        to_datetime=header.to_datetime,
        account=header.account.identifier,
        currency=header.currency,
        owner_name=header.account.owner_name,
        servicer_bic=header.account.servicer_bic,
        balance_check="not_applicable",
        file_name=file_name[:255],
        file_sha256="",
    )


# ----------------------------------------------------------------- applying


def apply_candidate(
    session: Session, merchant_id: int, row: BankTransaction, cand: Candidate,
    payment: IncomingPayment | None, *, source: str,
) -> list[str]:
    """Record the candidate's allocations as payments; overpayment becomes customer credit.

    The invoices are locked (in id order, so two appliers cannot deadlock) and the
    candidate checked against them as they are now: another payment or a person may have
    paid or cancelled one since the match was made. Then StaleMatch, and nothing written.
    """
    numbers: list[str] = []
    customer_id = cand.customer_id
    invoices: dict[int, Invoice] = {}
    for invoice_id in sorted({a.invoice_id for a in cand.allocations}):
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.merchant_id != merchant_id:
            raise ImportRefused(f"invoice {invoice_id} does not belong to this merchant")
        if invoice.currency != row.currency:
            raise ImportRefused(f"invoice {invoice.number} is in {invoice.currency}, payment in {row.currency}")
        invoices[invoice_id] = invoice_service.lock(session, invoice)
    for alloc in cand.allocations:
        invoice = invoices[alloc.invoice_id]
        if invoice.status not in OPEN or alloc.amount_minor > invoice.open_minor:
            raise StaleMatch(f"invoice {invoice.number} is {invoice.status} with "
                             f"{from_minor(invoice.open_minor, invoice.currency)} {invoice.currency} open now")
    for alloc in cand.allocations:
        invoice = invoices[alloc.invoice_id]
        session.add(
            Payment(
                merchant_id=merchant_id, invoice_id=invoice.id, bank_transaction_id=row.id,
                amount_minor=alloc.amount_minor, currency=row.currency, kind="payment",
                round=row.apply_round, source=source, confidence=cand.confidence,
            )
        )
        ref = row.account_servicer_reference or row.identity[:12]
        invoice_service.change_paid(
            session, invoice, alloc.amount_minor,
            f"{from_minor(alloc.amount_minor, row.currency)} {row.currency} from bank transaction {ref}"
            f" ({source}, confidence {cand.confidence})", locked=True,
        )
        customer_id = customer_id or invoice.customer_id
        numbers.append(invoice.number or str(invoice.id))
    if cand.overpayment_minor > 0 and customer_id is not None:
        session.add(
            CustomerCredit(
                merchant_id=merchant_id, customer_id=customer_id, bank_transaction_id=row.id,
                amount_minor=cand.overpayment_minor, currency=row.currency, kind="overpayment",
                round=row.apply_round,
            )
        )
    if customer_id is not None and row.counterparty_iban and (
        source != "auto" or any(r.code in ("name_similar", "iban_known") for r in cand.reasons)
    ):
        # a person confirmed it, or the payer's name or IBAN was the customer's already: a
        # stranger quoting somebody's reference teaches kvits nothing about that customer
        invoice_service.remember_iban(session, merchant_id, customer_id, row.counterparty_iban)
    row.match_status = "applied"
    row.confidence = cand.confidence
    session.flush()
    return numbers


def find_reversed_credit(session: Session, merchant_id: int, row: BankTransaction, tx: Transaction) -> BankTransaction | None:
    """The credit a reversal takes back: same account, currency and amount, not yet
    reversed, and the same end-to-end id - or, without one, the same references."""
    query = select(BankTransaction).where(
        BankTransaction.merchant_id == merchant_id,
        BankTransaction.account == row.account,
        BankTransaction.currency == row.currency,
        BankTransaction.amount_minor == row.amount_minor,
        BankTransaction.credit_debit == "CRDT",
        BankTransaction.reversal.is_(False),
        BankTransaction.reversed_by_id.is_(None),
        BankTransaction.id != row.id,
    ).order_by(BankTransaction.id.desc())
    candidates = list(session.scalars(query.limit(200)))
    e2e = meaningful(tx.references.end_to_end_id)
    if e2e:
        same = [c for c in candidates if c.end_to_end_id == e2e]
        return same[0] if same else None
    refs = list(tx.creditor_references)
    for cand in candidates:
        if refs and cand.creditor_references == refs and cand.counterparty_iban == row.counterparty_iban:
            return cand
    return None


def undo_transaction(session: Session, merchant_id: int, original: BankTransaction, *,
                     reversal_row: BankTransaction | None) -> list[str]:
    """Take back everything a credit paid: invoices re-open, credit is withdrawn."""
    numbers: list[str] = []
    payments = session.scalars(
        select(Payment).where(
            Payment.bank_transaction_id == original.id,
            Payment.kind == "payment",
            Payment.round == original.apply_round,
        )
    ).all()
    anchor = reversal_row or original
    for pay in payments:
        invoice = session.get(Invoice, pay.invoice_id)
        assert invoice is not None
        session.add(
            Payment(
                merchant_id=merchant_id, invoice_id=invoice.id, bank_transaction_id=anchor.id,
                amount_minor=-pay.amount_minor, currency=pay.currency, kind="reversal",
                round=original.apply_round, source=pay.source,
            )
        )
        what = "reversed by the bank" if reversal_row is not None else "undone by a person"
        invoice_service.change_paid(
            session, invoice, -pay.amount_minor,
            f"{from_minor(pay.amount_minor, pay.currency)} {pay.currency} {what}",
        )
        numbers.append(invoice.number or str(invoice.id))
    for credit in session.scalars(
        select(CustomerCredit).where(
            CustomerCredit.bank_transaction_id == original.id,
            CustomerCredit.kind == "overpayment",
            CustomerCredit.round == original.apply_round,
        )
    ).all():
        session.add(
            CustomerCredit(
                merchant_id=merchant_id, customer_id=credit.customer_id, bank_transaction_id=anchor.id,
                amount_minor=-credit.amount_minor, currency=credit.currency, kind="reversal",
                round=original.apply_round,
            )
        )
    suggestion = session.scalar(select(Suggestion).where(Suggestion.bank_transaction_id == original.id))
    if suggestion is not None and suggestion.status == "open":
        suggestion.status = "void"
    if reversal_row is not None:
        original.reversed_by_id = reversal_row.id
        original.match_status = "reversed"
    else:
        original.apply_round += 1
    session.flush()
    return numbers
