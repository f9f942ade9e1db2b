"""Identities that make re-imports idempotent. Pure.

A bank transaction's identity is built from what the bank says about it, never from
the file name or the statement id alone (some banks reuse both):
  account | currency | booking (else value) date | credit/debit | reversal | amount |
  the entry's account-servicer and entry references | the transaction's position in
  its entry and its own references (end-to-end, transaction, instruction id, UETR) |
  when none of those references is there, the counterparty's account and name and the
  remittance (case, spaces and punctuation ignored) |
  the occurrence number of that same key within its statement.
The occurrence number keeps look-alike transactions of one statement apart (three
identical card settlements in one day), while the same statement, or a camt.052 and
the camt.053 that later books the same entries, yields the same identities.
A statement's fingerprint hashes its header (not its creation time: a bank that sends
the same statement again stamps it anew), balances and transaction identities.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from camt import Entry, StatementHeader, Transaction

PLACEHOLDERS = frozenset({"", "NOTPROVIDED", "NOT PROVIDED", "NONREF", "NONE", "N/A", "NA"})


def meaningful(ref: str | None) -> str | None:
    """A reference worth comparing: not empty and not a placeholder like NOTPROVIDED."""
    if ref is None:
        return None
    clean = ref.strip()
    return None if clean.upper() in PLACEHOLDERS else clean


def _digest(parts: Iterable[object]) -> bytes:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _h(parts: Iterable[object]) -> str:
    return _digest(parts).hex()


class IdentityCounter:
    """Numbers look-alike transactions within one statement, in file order, and hashes
    the identities as they come (for the statement's fingerprint). Memory: one 32-byte
    digest per distinct transaction of the statement, never the transactions."""

    def __init__(self) -> None:
        self._seen: Counter[bytes] = Counter()
        self._all = hashlib.sha256()

    @property
    def digest(self) -> str:
        return self._all.hexdigest()

    def identity(self, account: str, entry: Entry, tx: Transaction) -> str:
        refs = tx.references
        day = entry.booking_date or entry.value_date
        references = (
            meaningful(entry.account_servicer_reference), meaningful(entry.entry_reference),
            meaningful(refs.end_to_end_id), meaningful(refs.transaction_id),
            meaningful(refs.instruction_id), meaningful(refs.uetr),
            meaningful(refs.account_servicer_reference),
        )
        parts: tuple[object, ...] = (
            account, tx.currency, day, entry.credit_debit, entry.reversal, entry.amount,
            tx.index, tx.amount, tx.credit_debit, *references,
        )
        if not any(references):
            # Nothing the bank numbered: what the payment says tells look-alikes apart
            # (two payers' 30.00 on one day), or a camt.052 listing one of them would make
            # the other look known in the camt.053 that books both.
            parts += _what_it_says(tx)
        base = _digest(parts)
        self._seen[base] += 1
        identity = _h((base.hex(), self._seen[base]))
        self._all.update(identity.encode())
        return identity


def _compact(text: str | None) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def _what_it_says(tx: Transaction) -> tuple[str, ...]:
    """Counterparty account and name, remittance: compared without case, spaces or
    punctuation, since a bank's intraday report and its statement may lay them out apart."""
    party = tx.counterparty
    return (
        _compact(party.iban or party.other_account_id) if party else "",
        _compact(party.name) if party else "",
        _compact(" ".join(tx.remittance_unstructured)),
        _compact(" ".join(tx.creditor_references)),
    )


def statement_fingerprint(kind: str, header: StatementHeader, identities_digest: str) -> str:
    acct = header.account
    # sorted: the same statement is the same whatever order its balances are listed in
    balances = tuple(sorted(
        (b.type_code, str(b.amount), b.credit_debit, str(b.date or b.datetime)) for b in header.balances
    ))
    return _h(
        (
            kind, acct.identifier, header.currency, header.id, header.electronic_sequence,
            header.legal_sequence, header.from_datetime, header.to_datetime,
            balances, identities_digest,
        )
    )
