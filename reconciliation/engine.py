"""Matching incoming payments to open invoices: pure functions over plain data.

`build_index` indexes the open invoices and customers once; `match_payments` explains each
payment by candidates found through those indexes (never by scanning all invoices) and
consumes the open amounts of what it applies, in payment order.

Scoring rule. A candidate is a set of invoices of ONE customer with allocations (oldest
first). Its confidence is the sum of the points of its reasons, clamped to 0..99, taken
from whichever of these paths scores it highest:

* Reference path: the invoices are named by the payment.
    anchor  end-to-end id 96 · RF in structured remittance 95 · RF in free text 93 ·
            invoice number with letters, or digits right after an invoice word 80 ·
            bare digits (4+) 70 · digits (<4) right after an invoice word 70 ·
            number one typo away 50 (several invoices named: the weakest counts)
    amount  equals the open amount (or their sum) +10 · less (partial) 0 · more (overpaid) -3
    payer   known IBAN of that customer +8, else name >= name_strong +6, >= name_weak +3;
            IBAN known for ANOTHER customer -15
* Customer path: the payer is identified, the amount picks the invoices.
    anchor  known IBAN 60 (+4 if the name agrees too) · name >= name_strong 50 · >= name_weak 35
    amount  equals one open invoice +28 · all open invoices +26 · the oldest ones +24 ·
            another small subset +20 · all open and more (overpaid) +5 · partial -15
    a number one typo away from the invoice +5
* Amount only: the only open invoice with that amount in that currency 30; one of 2..5, 20.
* Penalties on the last two paths: the payment quotes a reference that is no open
  invoice -10; the payment names another open invoice by number -15.
* When an end-to-end id or RF reference names an open invoice, only such candidates are
  kept: the payer said which invoice it is.
* Ambiguity: if the runner-up (other invoices) is within `ambiguity_margin` (5) points,
  the best is capped at auto_apply_at - 1.

Decision: "apply" at >= auto_apply_at (85), "suggest" at >= suggest_at (25), else
"unmatched" (best None; weak candidates stay in `alternatives`). So a reference alone
applies (partial or overpaid too), a number applies only with the amount or the payer
agreeing, a known IBAN with exactly one invoice of exactly that amount applies (88), and
a name alone never applies (names are not identifiers: 50 + 28 = 78 is a suggestion).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from itertools import combinations, islice

from rapidfuzz.distance import OSA

from core.money import format_minor, minor_unit

from .model import (
    Allocation,
    Candidate,
    CustomerInfo,
    IncomingPayment,
    MatchResult,
    MatchSettings,
    OpenInvoice,
    Reason,
)
from .normalize import PreparedName, prepare_name, prepared_similarity
from .references import (
    compact_reference,
    deletions,
    find_rf_references,
    is_valid_rf,
    mask_rf,
    number_keys,
    TextKey,
    text_number_keys,
)

__all__ = ["MatchIndex", "build_index", "compact_iban", "match", "match_payments", "payer_key"]

# Points of the scoring rule (module docstring).
E2E, RF_STRUCTURED, RF_TEXT = 96, 95, 93
NUMBER_STRONG, NUMBER_WEAK, NUMBER_FUZZY = 80, 70, 50
REF_AMOUNT_EXACT, REF_AMOUNT_PARTIAL, REF_AMOUNT_OVER = 10, 0, -3
REF_IBAN, REF_NAME_STRONG, REF_NAME_WEAK, OTHER_CUSTOMERS_IBAN = 8, 6, 3, -15
CUST_IBAN, CUST_IBAN_AND_NAME, CUST_NAME_STRONG, CUST_NAME_WEAK = 60, 4, 50, 35
CUST_EXACT, CUST_ALL, CUST_OLDEST, CUST_SUBSET, CUST_OVER_ALL, CUST_PARTIAL = 28, 26, 24, 20, 5, -15
CUST_FUZZY_NUMBER = 5
CUST_DISTINCTIVE = 8  # the exact amount has cents and no other open invoice has it
AMOUNT_ONLY_UNIQUE, AMOUNT_ONLY_SHARED, AMOUNT_ONLY_MAX = 30, 20, 5
FOREIGN_REFERENCE, OTHER_INVOICE_NAMED, OTHER_CUSTOMERS_NAME = -10, -15, -15
REJECTED_BEFORE = -60  # a person said this payer is not this customer: below a suggestion, unless a reference says otherwise
MAX_CONFIDENCE = 99
STRONG_REFERENCE = RF_TEXT  # e2e / RF: other candidates are dropped

# End-to-end ids banks put when the payer gave none.
_K = TypeVar("_K")  # an amount-index key

_NO_E2E = frozenset({"", "NOTPROVIDED", "NONREF", "NONE", "NA", "NOREF", "0"})
_MAX_NAME_CANDIDATES = 200  # customers scored with rapidfuzz per payer name
_MAX_TOKEN_POSTING = 5000  # a name token shared by more customers does not block
_MAX_SUBSET_SIZE = 4  # one payment for at most this many invoices without a reference
_MAX_CUSTOMERS = 5
_MAX_NAMESAKES = 5  # more customers than this answering to the payer's name: no identification
_MAX_FUZZY_INVOICES = 3  # more typo neighbours than this is noise, not evidence


@dataclass(slots=True)
class MatchIndex:
    """Indexes over open invoices and customers. `open_minor` is updated as payments apply."""

    invoices: dict[int, OpenInvoice]
    open_minor: dict[int, int]
    customers: dict[int, CustomerInfo]
    customer_names: dict[int, PreparedName]
    number_of: dict[int, str]  # invoice -> compact number (typo check)
    number_shapes: set[str] = field(default_factory=set)  # "LV9999999": numbers look so
    number_lengths: set[int] = field(default_factory=set)  # typo search only near these
    by_rf: dict[str, list[int]] = field(default_factory=dict)
    by_e2e: dict[str, list[int]] = field(default_factory=dict)
    # number keys are nearly always unique: an int, a list only on collision (a list per key
    # would be millions of GC-tracked objects at 1M invoices); read them with `_ids`
    by_number: dict[str, int | list[int]] = field(default_factory=dict)  # compact and variants
    by_number_deletion: dict[str, int | list[int]] = field(default_factory=dict)  # _typo_index
    by_short_number: dict[str, int | list[int]] = field(default_factory=dict)  # running numbers alone
    typo_index_built: bool = False
    by_iban: dict[str, list[int]] = field(default_factory=dict)  # IBAN -> customers
    by_customer: dict[int, list[int]] = field(default_factory=dict)  # oldest first
    # open amount -> invoices (oldest first); see `_bucket_add` for why list or dict
    by_amount: dict[tuple[str, int], _Bucket] = field(default_factory=dict)
    by_customer_amount: dict[tuple[int, str, int], _Bucket] = field(default_factory=dict)
    by_name: dict[str, list[int]] = field(default_factory=dict)  # sorted tokens -> customers
    by_name_token: dict[str, list[int]] = field(default_factory=dict)  # blocking
    # customer -> confirmed payer name key -> the accounts it was confirmed with (empty: any)
    aliases: dict[int, dict[str, set[str]]] = field(default_factory=dict)
    not_payers: set[tuple[int, str]] = field(default_factory=set)  # (customer, payer key) rejected

    def open_amount(self, invoice_id: int) -> int:
        return self.open_minor.get(invoice_id, 0)

    def consume(self, invoice_id: int, amount_minor: int) -> None:
        """Lower an invoice's open amount, keeping the amount indexes in step."""
        invoice = self.invoices[invoice_id]
        before = self.open_minor[invoice_id]
        after = before - amount_minor
        if amount_minor <= 0 or after < 0:
            raise ValueError(f"cannot take {amount_minor} from invoice {invoice_id} open {before}")
        self._unindex_amount(invoice, before)
        self.open_minor[invoice_id] = after
        if after > 0:
            self._index_amount(invoice, after)

    def _index_amount(self, invoice: OpenInvoice, amount: int) -> None:
        _bucket_add(self.by_amount, (invoice.currency, amount), invoice.id)
        _bucket_add(self.by_customer_amount, (invoice.customer_id, invoice.currency, amount), invoice.id)

    def _unindex_amount(self, invoice: OpenInvoice, amount: int) -> None:
        _bucket_remove(self.by_amount, (invoice.currency, amount), invoice.id)
        _bucket_remove(self.by_customer_amount, (invoice.customer_id, invoice.currency, amount), invoice.id)


# An amount bucket keeps invoice ids in insertion order. Nearly all buckets hold one or two
# ids, so they are lists (two per invoice: a dict each would double the index's memory);
# a bucket that grows past _BUCKET_LIST_MAX (a price many invoices share, e.g. 10.00 at
# 1M invoices: tens of thousands) becomes an insertion-ordered dict, so that taking an
# invoice out stays O(1) instead of a list scan, which made 1M x 1M quadratic.
_Bucket = list[int] | dict[int, None]
_BUCKET_LIST_MAX = 32


def _bucket_add(buckets: dict[_K, _Bucket], key: _K, invoice_id: int) -> None:
    bucket = buckets.get(key)
    if bucket is None:
        buckets[key] = [invoice_id]
    elif isinstance(bucket, dict):
        bucket[invoice_id] = None
    elif len(bucket) < _BUCKET_LIST_MAX:
        bucket.append(invoice_id)
    else:
        grown = dict.fromkeys(bucket)
        grown[invoice_id] = None
        buckets[key] = grown


def _bucket_remove(buckets: dict[_K, _Bucket], key: _K, invoice_id: int) -> None:
    bucket = buckets[key]
    if isinstance(bucket, dict):
        del bucket[invoice_id]
    else:
        bucket.remove(invoice_id)
    if not bucket:
        del buckets[key]


def _bucket_first(bucket: _Bucket, n: int) -> list[int]:
    return bucket[:n] if isinstance(bucket, list) else list(islice(bucket, n))


_DIGITS_TO_9 = str.maketrans("0123456789", "9999999999")


def _shape(key: str) -> str:
    return key.translate(_DIGITS_TO_9)


def _age(invoice: OpenInvoice) -> tuple[object, ...]:
    return (invoice.due_date, invoice.issue_date, invoice.id)


def compact_iban(iban: str) -> str:
    """An IBAN as the matcher compares it: no spaces, upper case (the camt schema allows
    lower-case letters)."""
    return "".join(iban.split()).upper()


def _typo_index(index: MatchIndex) -> dict[str, int | list[int]]:
    """The one-deletion index of invoice numbers (6+ characters), built on first use: it is
    ten entries per invoice and most statements never need it (see bench/match.py)."""
    if not index.typo_index_built:
        typo_index = index.by_number_deletion
        for inv_id, full in index.number_of.items():
            if len(full) >= 6:
                for k in range(len(full)):  # inlined _put: the hot loop at 1M invoices
                    variant = full[:k] + full[k + 1 :]
                    old = typo_index.get(variant)
                    if old is None:
                        typo_index[variant] = inv_id
                    elif old != inv_id:
                        _put(typo_index, variant, inv_id)
        index.typo_index_built = True
    return index.by_number_deletion


def _put(multimap: dict[str, int | list[int]], key: str, value: int) -> None:
    old = multimap.get(key)
    if old is None:
        multimap[key] = value
    elif isinstance(old, int):
        if old != value:
            multimap[key] = [old, value]
    elif value not in old:
        old.append(value)


def _ids(multimap: dict[str, int | list[int]], key: str) -> Sequence[int]:
    found = multimap.get(key)
    if found is None:
        return ()
    return (found,) if isinstance(found, int) else found


def build_index(invoices: Sequence[OpenInvoice], customers: Sequence[CustomerInfo]) -> MatchIndex:
    """Index open invoices (open_minor > 0) and customers once, in time linear in their count."""
    open_invoices = sorted((i for i in invoices if i.open_minor > 0), key=_age)
    index = MatchIndex(
        invoices={i.id: i for i in open_invoices},
        open_minor={i.id: i.open_minor for i in open_invoices},
        customers={c.id: c for c in customers},
        customer_names={c.id: prepare_name(c.name) for c in customers},
        number_of={},
    )
    for inv in open_invoices:
        if inv.rf_reference:
            index.by_rf.setdefault(compact_reference(inv.rf_reference), []).append(inv.id)
        for e2e in inv.end_to_end_ids:
            key = compact_reference(e2e)
            if key not in _NO_E2E:
                index.by_e2e.setdefault(key, []).append(inv.id)
        keys = number_keys(inv.number)
        if keys.full:
            index.number_of[inv.id] = keys.full
            index.number_lengths.add(len(keys.full))
            if not keys.full.isdigit():
                index.number_shapes.add(_shape(keys.full))
            for key in (keys.full, *keys.variants):
                _put(index.by_number, key, inv.id)
            for key in keys.short:
                _put(index.by_short_number, key, inv.id)
        index.by_customer.setdefault(inv.customer_id, []).append(inv.id)
        index._index_amount(inv, inv.open_minor)
    for customer in customers:
        for iban in customer.ibans:
            index.by_iban.setdefault(compact_iban(iban), []).append(customer.id)
        name = index.customer_names[customer.id]
        if name.sorted_tokens:
            index.by_name.setdefault(name.sorted_tokens, []).append(customer.id)
        for alias in customer.aliases:  # found by an exact lookup, as the name itself
            alias_name, alias_iban = (alias, None) if isinstance(alias, str) else (alias.name, alias.iban)
            key = prepare_name(alias_name).sorted_tokens
            if not key or customer.id in index.by_name.get(key, ()) and key not in index.aliases.get(customer.id, {}):
                continue  # empty, or the customer's own name
            accounts = index.aliases.setdefault(customer.id, {}).setdefault(key, set())
            accounts.add(compact_iban(alias_iban) if alias_iban else "")
            if customer.id not in index.by_name.get(key, ()):
                index.by_name.setdefault(key, []).append(customer.id)
        index.not_payers.update((customer.id, key) for key in customer.not_payers)
        for token in set(name.tokens):
            if len(token) >= 2:
                index.by_name_token.setdefault(token, []).append(customer.id)
    return index


# --------------------------------------------------------------------------- evidence


@dataclass(slots=True)
class _Evidence:
    """What one payment says, before any candidate is scored."""

    refs: dict[int, Reason] = field(default_factory=dict)  # invoice -> strongest reference
    fuzzy: dict[int, Reason] = field(default_factory=dict)  # invoice -> typo-away number
    iban_customers: tuple[int, ...] = ()
    names: dict[int, int] = field(default_factory=dict)  # customer -> similarity (>= weak)
    payer: PreparedName | None = None
    foreign: list[str] = field(default_factory=list)  # quoted references we do not know
    best_ref: int = 0  # points of the strongest reference found
    penalties: list[Reason] | None = None  # computed once per payment

    def add_ref(self, invoice_id: int, reason: Reason) -> None:
        old = self.refs.get(invoice_id)
        if old is None or reason.points > old.points:
            self.refs[invoice_id] = reason
            self.best_ref = max(self.best_ref, reason.points)

    @property
    def strong(self) -> bool:
        return self.best_ref >= STRONG_REFERENCE


def _collect_references(
    payment: IncomingPayment, index: MatchIndex, ev: _Evidence
) -> None:
    usable = _Usable(index, payment.currency)

    e2e = compact_reference(payment.end_to_end_id or "")
    if e2e not in _NO_E2E:
        for inv_id in filter(usable, index.by_e2e.get(e2e, ())):
            ev.add_ref(inv_id, Reason("e2e_id", f"end-to-end id {payment.end_to_end_id} of a payment initiated for invoice {index.invoices[inv_id].number}", E2E))

    texts: list[str] = list(payment.texts)
    for raw in payment.creditor_references:
        ref = compact_reference(raw)
        # our own references are valid by construction: validate only the unknown ones
        if ref in index.by_rf or (ref.startswith("RF") and is_valid_rf(ref)):
            hits = [i for i in index.by_rf.get(ref, ()) if usable(i)]
            for inv_id in hits:
                ev.add_ref(inv_id, Reason("rf_structured", f"RF reference {ref} in structured remittance", RF_STRUCTURED))
            if not hits:
                ev.foreign.append(ref if ref not in index.by_rf else f"{ref} (not open)")
        else:
            # a national or invoice-number reference in the structured field: read it as
            # text, as if it followed the word "Ref"
            texts.append(f"REF {raw}")

    masked_texts: list[str] = []
    for text in texts:
        found = find_rf_references(text)
        known = [ref for ref in found if ref in index.by_rf]
        for ref in known:
            live = list(filter(usable, index.by_rf[ref]))
            for inv_id in live:
                ev.add_ref(inv_id, Reason("rf_text", f"RF reference {ref} in the payment text '{text}'", RF_TEXT))
            if not live:
                ev.foreign.append(f"{ref} (not open)")
        if not known:
            # a valid RF of someone else (or of a paid invoice): no evidence for any open
            # invoice, and a reason to distrust amount-only guesses; the longest reading
            # of each start is the one reported
            ev.foreign.extend(r for r in found if not any(o != r and o.startswith(r) for o in found))
        masked = text
        for ref in known or found:
            masked = mask_rf(masked, ref)  # its digits are no invoice number
        masked_texts.append(masked)

    for text in masked_texts:
        _collect_numbers(text, index, usable, ev, payment.amount_minor)


@dataclass(frozen=True, slots=True)
class _Usable:
    """An invoice still open in the payment's currency (a USD payment never pays EUR)."""

    index: MatchIndex
    currency: str

    def __call__(self, invoice_id: int) -> bool:
        return (
            self.index.open_minor.get(invoice_id, 0) > 0
            and self.index.invoices[invoice_id].currency == self.currency
        )


def _number_strength(key: str, after_word: bool) -> int:
    if not key.isdigit():
        return NUMBER_STRONG
    if len(key) >= 4:
        return NUMBER_STRONG if after_word else NUMBER_WEAK
    return NUMBER_WEAK if after_word else 0


def _collect_numbers(text: str, index: MatchIndex, usable: _Usable, ev: _Evidence, amount: int) -> None:
    keys = text_number_keys(text)
    hits: list[tuple[int, int, int, int, str]] = []  # start, end, invoice, points, key
    shaped: list[tuple[int, int]] = []  # spans written like one of our numbers
    for tk in keys:
        found = False
        for key in (tk.key, tk.stripped) if tk.stripped != tk.key else (tk.key,):
            points = _number_strength(key, tk.after_word)
            if not points:
                continue
            for inv_id in _ids(index.by_number, key):
                hits.append((tk.start, tk.end, inv_id, points, key))
                found = True
            if tk.isolated:
                for inv_id in _ids(index.by_short_number, key):
                    hits.append((tk.start, tk.end, inv_id, points, key))
                    found = True
        if not found and tk.key[-1].isdigit() and _shape(tk.key) in index.number_shapes:
            shaped.append((tk.start, tk.end))
    # keep the longest matches: "LV-2026-10" is not also evidence for an invoice "10";
    # and nothing inside a number written like ours that is no open invoice (a paid
    # INV-2026-00012 quoted again says nothing about an open INV-2026-02026)
    spans = [(o[0], o[1]) for o in hits] + shaped
    kept = hits if len(spans) < 2 else [
        h for h in hits
        if not any(o[0] <= h[0] and h[1] <= o[1] and (o[1] - o[0]) > (h[1] - h[0]) for o in spans)
    ]
    for _, _, inv_id, points, key in kept:
        number = index.invoices[inv_id].number
        if usable(inv_id):
            how = "" if key == index.number_of.get(inv_id) else f" (as {key})"
            ev.add_ref(inv_id, Reason("number_exact", f"invoice number {number} in the payment text '{text}'{how}", points))
        else:
            # paid already (a double payment?) or in another currency: no other invoice
            # of the customer should be paid by this on the amount alone
            ev.foreign.append(f"{number} (not open)")
    if not kept:
        # the text names no invoice of ours exactly (an exact hit on a paid invoice is
        # a double payment, not a typo of its neighbour)
        _collect_foreign(keys, index, ev)
        _collect_typos(text, keys, index, usable, ev)
    elif index.by_amount.get((usable.currency, amount)) and all(
        usable(h[2]) and index.open_minor[h[2]] != amount for h in kept
    ):
        # open invoices named, none for this amount: "00102" may be a slip for "00012",
        # whose amount it is - its typo neighbours are candidates too (weak ones)
        _collect_typos(text, keys, index, usable, ev)


def _collect_foreign(keys: Iterable[TextKey], index: MatchIndex, ev: _Evidence) -> None:
    """References the payer quotes that are no open invoice of ours: a number right after
    "Ref"/"Invoice", or one shaped like our invoice numbers ("LV-2026-0042" when ours are
    LV-2026-nnnn) -- typically an invoice paid before, or somebody else's reference."""
    longest: dict[int, str] = {}
    for tk in keys:
        if tk.word_led or not tk.key[-1].isdigit():
            continue
        if (tk.after_word and len(tk.key) >= 4) or _shape(tk.key) in index.number_shapes:
            longest[tk.start] = tk.key  # keys of one start come shortest first
    ev.foreign.extend(longest.values())


def _collect_typos(
    text: str, keys: Sequence[TextKey], index: MatchIndex, usable: _Usable, ev: _Evidence
) -> None:
    """One-edit neighbours of the text's keys (6+ characters) among invoice numbers."""
    found: dict[int, str] = {}
    for tk in keys:
        key = tk.key
        # word-led keys too: "INV-2026-05911" for INV-2026-05311 starts with the word INV
        if len(key) < 6 or not index.number_lengths.intersection((len(key) - 1, len(key), len(key) + 1)):
            continue
        typos = _typo_index(index)
        near: set[int] = set(_ids(typos, key))
        for variant in deletions(key):
            near.update(_ids(index.by_number, variant))
            near.update(_ids(typos, variant))
        for inv_id in near:
            number = index.number_of.get(inv_id, "")
            if number != key and OSA.distance(key, number, score_cutoff=1) <= 1 and usable(inv_id):
                found.setdefault(inv_id, key)
    if 0 < len(found) <= _MAX_FUZZY_INVOICES:
        for inv_id, key in found.items():
            ev.fuzzy[inv_id] = Reason(
                "number_fuzzy",
                f"'{key}' in the payment text is one typo away from invoice number {index.invoices[inv_id].number}",
                NUMBER_FUZZY,
            )


def _identify_payer(
    payment: IncomingPayment, index: MatchIndex, settings: MatchSettings, ev: _Evidence
) -> None:
    """Customers the payer may be: by known IBAN, by name (exact, then blocked fuzzy)."""
    if payment.payer_iban:
        ev.iban_customers = tuple(index.by_iban.get(compact_iban(payment.payer_iban), ()))
    if not payment.payer_name:
        return
    payer = prepare_name(payment.payer_name)
    ev.payer = payer
    if not payer.sorted_tokens:
        return
    if ev.strong:
        # a reference named the invoice: compare the payer only with its customer(s)
        for cid in {index.invoices[i].customer_id for i in ev.refs}:
            if cid in index.customer_names:
                score = _name_score(payer, cid, index, payment.payer_iban)
                if score >= settings.name_weak:
                    ev.names[cid] = score
        return
    namesakes = index.by_name.get(payer.sorted_tokens, ())
    if len(namesakes) > _MAX_NAMESAKES:
        return  # a name this common identifies nobody
    for cid in namesakes:  # the name itself, or a confirmed payer name (from its account)
        score = _name_score(payer, cid, index, payment.payer_iban)
        if score >= settings.name_weak:
            ev.names[cid] = score
    if ev.names:
        return
    # blocking: only customers sharing a (rare enough) name token are scored
    postings = sorted(
        (p for t in set(payer.tokens) if (p := index.by_name_token.get(t)) and len(p) <= _MAX_TOKEN_POSTING),
        key=len,
    )
    candidates: dict[int, None] = {}
    for posting in postings:
        for cid in posting:
            candidates[cid] = None
            if len(candidates) >= _MAX_NAME_CANDIDATES:
                break
        if len(candidates) >= _MAX_NAME_CANDIDATES:
            break
    for cid in candidates:
        score = _name_score(payer, cid, index, payment.payer_iban)
        if score >= settings.name_weak:
            ev.names[cid] = score
    if len(ev.names) > _MAX_NAMESAKES:
        ev.names.clear()


# --------------------------------------------------------------------------- candidates


def _allocate(invoice_ids: Sequence[int], amount: int, index: MatchIndex) -> tuple[tuple[Allocation, ...], int]:
    """Oldest first, never more than an invoice's open amount; the rest is overpayment."""
    if len(invoice_ids) == 1:
        inv_id = invoice_ids[0]
        take = min(amount, index.open_minor[inv_id])
        return (Allocation(inv_id, take),), amount - take
    allocations: list[Allocation] = []
    left = amount
    for inv_id in sorted(invoice_ids, key=lambda i: _age(index.invoices[i])):
        take = min(left, index.open_minor[inv_id])
        if take > 0:
            allocations.append(Allocation(inv_id, take))
            left -= take
    return tuple(allocations), left


@dataclass(frozen=True, slots=True)
class _Proposal:
    invoice_ids: tuple[int, ...]
    path_reasons: tuple[Reason, ...] = ()  # customer-path amount reason, if any


def _money(minor: int, currency: str) -> str:
    """Same text as core.money.format_minor ("1185.80 EUR"), without Decimal: this runs
    for every candidate of every payment."""
    digits = minor_unit(currency)
    if digits == 0 or minor < 0:
        return format_minor(minor, currency)
    whole, frac = divmod(minor, 10**digits)
    return f"{whole}.{frac:0{digits}d} {currency}"


def _score(
    proposal: _Proposal,
    payment: IncomingPayment,
    index: MatchIndex,
    settings: MatchSettings,
    ev: _Evidence,
) -> Candidate:
    ids = proposal.invoice_ids
    customer_id = index.invoices[ids[0]].customer_id
    allocations, over = _allocate(ids, payment.amount_minor, index)
    open_total = sum(index.open_minor[i] for i in ids)
    cur = payment.currency
    name_score = ev.names.get(customer_id)
    if name_score is None and ev.payer is not None and customer_id in index.customer_names:
        name_score = _name_score(ev.payer, customer_id, index, payment.payer_iban)
    name_score = name_score or 0
    customer = index.customers.get(customer_id)
    customer_name = customer.name if customer else f"#{customer_id}"
    iban_known = customer_id in ev.iban_customers
    iban_other = bool(ev.iban_customers) and not iban_known
    confirmed = ev.payer is not None and bool(index.aliases) and _is_alias(ev.payer, customer_id, index, payment.payer_iban)

    paths: list[list[Reason]] = []

    # reference path
    if all(i in ev.refs or i in ev.fuzzy for i in ids):
        refs = [ev.refs.get(i) or ev.fuzzy[i] for i in ids]
        weakest = min(r.points for r in refs)
        reasons = [Reason(r.code, r.detail, weakest if n == 0 else 0) for n, r in enumerate(refs)]
        if payment.amount_minor == open_total:
            code = "amount_exact" if len(ids) == 1 else "amount_sum"
            reasons.append(Reason(code, f"amount {_money(payment.amount_minor, cur)} equals the open amount", REF_AMOUNT_EXACT))
        elif payment.amount_minor < open_total:
            reasons.append(Reason("amount_partial", f"amount {_money(payment.amount_minor, cur)} is less than the open {_money(open_total, cur)}: partial payment", REF_AMOUNT_PARTIAL))
        else:
            reasons.append(Reason("amount_over", f"amount {_money(payment.amount_minor, cur)} exceeds the open {_money(open_total, cur)} by {_money(over, cur)}", REF_AMOUNT_OVER))
        reasons.extend(_payer_reasons(payment, customer_name, iban_known, iban_other, name_score, settings, confirmed))
        others = [i for i in ev.refs if i not in ids]
        if others and payment.amount_minor != open_total:
            # "RF of A, number of B" and an amount that is A's only in part: which one?
            named = ", ".join(index.invoices[i].number for i in others[:3])
            reasons.append(Reason("other_invoice_named", f"the payment also names invoice {named}, and its amount is not this invoice's", OTHER_INVOICE_NAMED))
        if not iban_known and name_score < settings.name_weak and ev.payer is not None:
            # another customer's own name (not a payer name confirmed for them: relatives
            # and parent companies pay for several customers)
            namesake = next((c for c, score in ev.names.items() if c != customer_id and score >= settings.name_strong
                             and prepared_similarity(ev.payer, index.customer_names[c]) >= settings.name_strong), None)
            if namesake is not None and namesake in index.customers:
                reasons.append(Reason("name_of_other_customer", f"the payer's name is that of customer {index.customers[namesake].name}, not {customer_name}", OTHER_CUSTOMERS_NAME))
        paths.append(reasons)

    # customer path
    if proposal.path_reasons and (iban_known or name_score >= settings.name_weak):
        reasons = []
        if iban_known:
            reasons.append(Reason("iban_known", f"payer IBAN {compact_iban(payment.payer_iban or '')} is known for customer {customer_name}", CUST_IBAN))
            if name_score >= settings.name_strong:
                reasons.append(_name_reason(payment, customer_name, name_score, CUST_IBAN_AND_NAME, confirmed))
        else:
            points = CUST_NAME_STRONG if name_score >= settings.name_strong else CUST_NAME_WEAK
            reasons.append(_name_reason(payment, customer_name, name_score, points, confirmed))
        reasons.extend(proposal.path_reasons)
        reasons.extend(ev.fuzzy[i] for i in ids if i in ev.fuzzy)
        reasons = [r if r.code != "number_fuzzy" else Reason(r.code, r.detail, CUST_FUZZY_NUMBER) for r in reasons]
        paths.append(reasons + _penalties(ids, ev, index))

    rejected = _rejected_payer(payment, customer_id, index)
    if rejected is not None:
        for reasons in paths:
            reasons.append(Reason("rejected_before", f"a person rejected {rejected} for customer {customer_name} before", REJECTED_BEFORE))
    totals = [sum([r.points for r in rs]) for rs in paths]
    # amount only: at most 30 points, so only worth building when nothing better exists
    if (not totals or max(totals) < AMOUNT_ONLY_UNIQUE) and len(ids) == 1 and payment.amount_minor == open_total:
        same = len(index.by_amount.get((cur, payment.amount_minor), ()))
        if same <= AMOUNT_ONLY_MAX:
            points = AMOUNT_ONLY_UNIQUE if same == 1 else AMOUNT_ONLY_SHARED
            detail = f"amount {_money(payment.amount_minor, cur)} equals the open amount" + (
                " of the only open invoice with it" if same == 1 else f" of {same} open invoices"
            )
            paths.append([Reason("amount_only", detail, points), *_penalties(ids, ev, index)])
            if rejected is not None:
                paths[-1].append(Reason("rejected_before", f"a person rejected {rejected} for customer {customer_name} before", REJECTED_BEFORE))
            totals.append(sum([r.points for r in paths[-1]]))

    if not paths:  # e.g. a partial amount of an unidentified payer: nothing to go on
        paths.append([Reason("no_evidence", "nothing but the amount, and it does not match", 0)])
        totals.append(0)
    total = max(totals)
    best = paths[totals.index(total)]
    if total > MAX_CONFIDENCE:
        best.append(Reason("cap", f"confidence capped at {MAX_CONFIDENCE}", MAX_CONFIDENCE - total))
    elif total < 0:
        best.append(Reason("floor", "confidence floored at 0", -total))
    return Candidate(
        invoice_ids=tuple(a.invoice_id for a in allocations) or ids,
        allocations=allocations,
        overpayment_minor=over,
        confidence=max(0, min(MAX_CONFIDENCE, total)),
        reasons=tuple(best),
        customer_id=customer_id,
    )


def payer_key(kind: str, value: str) -> str:
    """How a payer is remembered in CustomerInfo.not_payers: 'iban:LV80…' or 'name:<sorted tokens>'."""
    if kind == "iban":
        return f"iban:{compact_iban(value)}"
    return f"name:{prepare_name(value).sorted_tokens}"


def _is_alias(payer: PreparedName, customer_id: int, index: MatchIndex, payer_iban: str | None) -> bool:
    """A payer name a person confirmed for the customer, from this account. Confirmed from
    an account: counts from that account (or from none); confirmed from a payment
    without an account (""): only for payments without one. From another account the
    same name is most likely a namesake."""
    accounts = index.aliases.get(customer_id, {}).get(payer.sorted_tokens)
    return accounts is not None and (not payer_iban or compact_iban(payer_iban) in accounts)


def _name_score(payer: PreparedName, customer_id: int, index: MatchIndex, payer_iban: str | None) -> int:
    """Similarity to the customer's name, or 100 for a payer name a person confirmed."""
    if _is_alias(payer, customer_id, index, payer_iban):
        return 100
    return prepared_similarity(payer, index.customer_names[customer_id])


def _rejected_payer(payment: IncomingPayment, customer_id: int, index: MatchIndex) -> str | None:
    if not index.not_payers:
        return None
    if payment.payer_iban and (customer_id, payer_key("iban", payment.payer_iban)) in index.not_payers:
        return f"payer IBAN {compact_iban(payment.payer_iban)}"
    if payment.payer_name and (customer_id, payer_key("name", payment.payer_name)) in index.not_payers:
        return f"payer '{payment.payer_name}'"
    return None


def _name_reason(payment: IncomingPayment, customer_name: str, score: int, points: int,
                 confirmed: bool = False) -> Reason:
    if confirmed:
        return Reason("name_similar", f"payer '{payment.payer_name}' was confirmed for customer {customer_name} "
                      "by a person", points)
    return Reason("name_similar", f"payer name '{payment.payer_name}' ~ '{customer_name}' ({score})", points)


def _payer_reasons(
    payment: IncomingPayment,
    customer_name: str,
    iban_known: bool,
    iban_other: bool,
    name_score: int,
    settings: MatchSettings,
    confirmed: bool = False,
) -> list[Reason]:
    if iban_known:
        return [Reason("iban_known", f"payer IBAN {compact_iban(payment.payer_iban or '')} is known for customer {customer_name}", REF_IBAN)]
    reasons: list[Reason] = []
    if iban_other:
        reasons.append(Reason("iban_other_customer", f"payer IBAN {compact_iban(payment.payer_iban or '')} belongs to another customer, not {customer_name}", OTHER_CUSTOMERS_IBAN))
    if name_score >= settings.name_strong:
        reasons.append(_name_reason(payment, customer_name, name_score, REF_NAME_STRONG, confirmed))
    elif name_score >= settings.name_weak:
        reasons.append(_name_reason(payment, customer_name, name_score, REF_NAME_WEAK, confirmed))
    return reasons


def _penalties(ids: Sequence[int], ev: _Evidence, index: MatchIndex) -> list[Reason]:
    if ev.penalties is None:
        ev.penalties = []
        if ev.foreign:
            ev.penalties.append(Reason("foreign_reference", f"the payment quotes {', '.join(ev.foreign[:3])}, which is no open invoice", FOREIGN_REFERENCE))
    if not ev.refs:
        return ev.penalties
    reasons = list(ev.penalties)
    others = [i for i in ev.refs if i not in ids]
    if others:
        named = ", ".join(index.invoices[i].number for i in others[:3])
        reasons.append(Reason("other_invoice_named", f"the payment names invoice {named} instead", OTHER_INVOICE_NAMED))
    return reasons


def _open_of(customer_id: int, currency: str, index: MatchIndex, limit: int) -> list[int]:
    out: list[int] = []
    for inv_id in index.by_customer.get(customer_id, ()):
        if index.open_minor[inv_id] > 0 and index.invoices[inv_id].currency == currency:
            out.append(inv_id)
            if len(out) > limit:
                break
    return out


def _customer_proposals(
    customer_id: int, payment: IncomingPayment, index: MatchIndex, settings: MatchSettings
) -> list[_Proposal]:
    cur, amount = payment.currency, payment.amount_minor
    exact = index.by_customer_amount.get((customer_id, cur, amount))
    if exact:
        reason = Reason("amount_exact", f"amount {_money(amount, cur)} equals the open amount", CUST_EXACT)
        if len(exact) == 1 and len(index.by_amount.get((cur, amount), ())) == 1 and amount % 10 ** minor_unit(cur):
            # 1234.56 and no other open invoice at that amount: the payer who has this
            # customer's name is paying this one (a round or shared price proves nothing)
            distinct = Reason("amount_distinctive", f"no other open invoice is {_money(amount, cur)}", CUST_DISTINCTIVE)
            return [_Proposal((i,), (reason, distinct)) for i in _bucket_first(exact, 1)]
        return [_Proposal((i,), (reason,)) for i in _bucket_first(exact, _MAX_CUSTOMERS)]
    open_ids = _open_of(customer_id, cur, index, settings.max_subset_invoices)
    complete = len(open_ids) <= settings.max_subset_invoices
    open_ids = open_ids[: settings.max_subset_invoices]
    if not open_ids:
        return []
    amounts = [index.open_minor[i] for i in open_ids]
    total = sum(amounts)
    proposals: list[_Proposal] = []
    if complete and len(open_ids) > 1 and total == amount:
        return [_Proposal(tuple(open_ids), (Reason("amount_sum", f"amount {_money(amount, cur)} equals all {len(open_ids)} open invoices together", CUST_ALL),))]
    running = 0
    for n, value in enumerate(amounts, start=1):
        running += value
        if running == amount and n > 1:
            return [_Proposal(tuple(open_ids[:n]), (Reason("amount_sum", f"amount {_money(amount, cur)} equals the {n} oldest open invoices together", CUST_OLDEST),))]
        if running > amount:
            break
    for combo in _small_subsets(amounts, amount):
        ids = tuple(open_ids[k] for k in combo)
        proposals.append(_Proposal(ids, (Reason("amount_sum", f"amount {_money(amount, cur)} equals {len(ids)} open invoices together", CUST_SUBSET),)))
    if proposals:
        return proposals
    if complete and amount > total:
        return [_Proposal(tuple(open_ids), (Reason("amount_over", f"amount {_money(amount, cur)} exceeds all open invoices ({_money(total, cur)}) by {_money(amount - total, cur)}", CUST_OVER_ALL),))]
    oldest = open_ids[0]
    if amount < index.open_minor[oldest]:
        return [_Proposal((oldest,), (Reason("amount_partial", f"amount {_money(amount, cur)} is less than the open {_money(index.open_minor[oldest], cur)} of the oldest open invoice", CUST_PARTIAL),))]
    return proposals


def _small_subsets(amounts: Sequence[int], target: int) -> list[tuple[int, ...]]:
    """Index sets of 2..4 amounts summing to `target`: only the smallest size found, at most 3.

    Pair sums are hashed once, so 3 and 4 are lookups (n + n^2/2) instead of C(n, 4) sums.
    """
    pairs: dict[int, list[tuple[int, int]]] = {}
    for a, b in combinations(range(len(amounts)), 2):
        pairs.setdefault(amounts[a] + amounts[b], []).append((a, b))
    found: list[tuple[int, ...]] = list(pairs.get(target, ()))
    if not found:
        for k, value in enumerate(amounts):
            for a, b in pairs.get(target - value, ()):
                if k < a:  # each triple once, in index order
                    found.append((k, a, b))
    if not found and _MAX_SUBSET_SIZE >= 4:
        for (a, b), total in ((p, s) for s, ps in pairs.items() for p in ps):
            for c, d in pairs.get(target - total, ()):
                if b < c:  # disjoint and each quadruple once
                    found.append((a, b, c, d))
    return sorted(found)[:3]


def _proposals(payment: IncomingPayment, index: MatchIndex, settings: MatchSettings, ev: _Evidence) -> list[_Proposal]:
    proposals: list[_Proposal] = []
    if ev.strong:
        referenced = [i for i, r in ev.refs.items() if r.points >= STRONG_REFERENCE]
    else:
        referenced = list(ev.refs)
    proposals.extend(_Proposal((i,)) for i in referenced)
    by_customer: dict[int, list[int]] = {}
    for inv_id in referenced:
        by_customer.setdefault(index.invoices[inv_id].customer_id, []).append(inv_id)
    for ids in by_customer.values():
        if 1 < len(ids) <= settings.max_subset_invoices:
            proposals.append(_Proposal(tuple(sorted(ids, key=lambda i: _age(index.invoices[i])))))
    if ev.strong:
        return proposals
    customers = list(dict.fromkeys([*ev.iban_customers, *sorted(ev.names, key=lambda c: -ev.names[c])]))
    for cid in customers[:_MAX_CUSTOMERS]:
        proposals.extend(_customer_proposals(cid, payment, index, settings))
    proposals.extend(_Proposal((i,)) for i in ev.fuzzy)
    same_amount = index.by_amount.get((payment.currency, payment.amount_minor), ())
    if len(same_amount) <= AMOUNT_ONLY_MAX:
        proposals.extend(_Proposal((i,)) for i in same_amount)
    return proposals


# --------------------------------------------------------------------------- decision


def _numbers(invoice_ids: Sequence[int], index: MatchIndex) -> str:
    return ", ".join(index.invoices[i].number if i in index.invoices else str(i) for i in invoice_ids)


def _decide(payment: IncomingPayment, candidates: list[Candidate], settings: MatchSettings, customer_id: int | None,
            index: MatchIndex) -> MatchResult:
    if not candidates:
        return MatchResult(payment.key, "unmatched", None, (), customer_id)
    best, *rest = candidates
    margin = settings.extra.get("ambiguity_margin", 5)
    rival = next((c for c in rest if set(c.invoice_ids) != set(best.invoice_ids)), None)
    if rival is not None and best.confidence - rival.confidence <= margin and best.confidence >= settings.auto_apply_at:
        capped = settings.auto_apply_at - 1
        reason = Reason("ambiguous", f"another explanation scores {rival.confidence} (invoices {_numbers(rival.invoice_ids, index)}): a person decides", capped - best.confidence)
        best = Candidate(best.invoice_ids, best.allocations, best.overpayment_minor, capped, (*best.reasons, reason), best.customer_id)
    if best.confidence >= settings.auto_apply_at and any(r.code == "amount_partial" for r in best.reasons):
        # a part of one invoice, while another candidate is paid by it exactly: the named
        # number may be a slip ("03831" for "03731") - a person decides
        exact = next((c for c in rest if set(c.invoice_ids) != set(best.invoice_ids) and c.confidence >= settings.suggest_at
                      and any(r.code in ("amount_exact", "amount_sum") for r in c.reasons)), None)
        if exact is not None:
            capped = settings.auto_apply_at - 1
            reason = Reason("ambiguous", f"the amount pays invoices {_numbers(exact.invoice_ids, index)} exactly: a person decides", capped - best.confidence)
            best = Candidate(best.invoice_ids, best.allocations, best.overpayment_minor, capped, (*best.reasons, reason), best.customer_id)
    if best.confidence >= settings.auto_apply_at:
        decision = "apply"
    elif best.confidence >= settings.suggest_at:
        decision = "suggest"
    else:
        return MatchResult(payment.key, "unmatched", None, tuple(candidates), customer_id)
    return MatchResult(payment.key, decision, best, tuple(rest), customer_id)


def _match_one(payment: IncomingPayment, index: MatchIndex, settings: MatchSettings) -> MatchResult:
    ev = _Evidence()
    if payment.amount_minor <= 0:
        return MatchResult(payment.key, "unmatched", None)
    _collect_references(payment, index, ev)
    _identify_payer(payment, index, settings, ev)
    # one proposal per invoice set: scoring looks at all the evidence anyway, only the
    # customer path's amount reason comes with the proposal
    unique: dict[frozenset[int], _Proposal] = {}
    for proposal in _proposals(payment, index, settings, ev):
        ids_key = frozenset(proposal.invoice_ids)
        if ids_key not in unique or (proposal.path_reasons and not unique[ids_key].path_reasons):
            unique[ids_key] = proposal
    by_ids: dict[tuple[int, ...], Candidate] = {}
    for proposal in unique.values():
        candidate = _score(proposal, payment, index, settings, ev)
        key = tuple(sorted(candidate.invoice_ids))
        if key not in by_ids or by_ids[key].confidence < candidate.confidence:
            by_ids[key] = candidate
    candidates = sorted(by_ids.values(), key=lambda c: (-c.confidence, len(c.invoice_ids), [_age(index.invoices[i]) for i in c.invoice_ids]))
    return _decide(payment, candidates, settings, _payer_customer(ev, settings), index)


def _payer_customer(ev: _Evidence, settings: MatchSettings) -> int | None:
    if len(ev.iban_customers) == 1:
        return ev.iban_customers[0]
    strong = [c for c, s in ev.names.items() if s >= settings.name_strong]
    return strong[0] if len(strong) == 1 and not ev.iban_customers else None


def match_payments(
    payments: Sequence[IncomingPayment], index: MatchIndex, settings: MatchSettings = MatchSettings()
) -> list[MatchResult]:
    """Match payments in order; each applied result lowers the open amounts in `index`."""
    results: list[MatchResult] = []
    for payment in payments:
        result = _match_one(payment, index, settings)
        if result.decision == "apply" and result.best is not None:
            for allocation in result.best.allocations:
                index.consume(allocation.invoice_id, allocation.amount_minor)
        results.append(result)
    return results


def match(
    payments: Sequence[IncomingPayment],
    invoices: Sequence[OpenInvoice],
    customers: Sequence[CustomerInfo],
    settings: MatchSettings = MatchSettings(),
) -> list[MatchResult]:
    """Build the index and match: for one-off calls and tests."""
    return match_payments(payments, build_index(invoices, customers), settings)
