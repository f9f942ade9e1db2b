"""Comparing payer names with customer names.

Both names are transliterated to ASCII (diacritics and Cyrillic: "Олег Коваленко" ->
"oleg kovalenko", "Rīgas Maiznīca" -> "rigas maiznica"), case-folded, stripped of
punctuation and quotes, and of legal forms ("SIA", "OÜ", "ООО", "GmbH", ...). The score is
rapidfuzz's ratio over the *sorted* tokens, so word order does not matter; when a name
looks truncated by the bank (35/70 characters), the prefix of the longer name is compared too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz import fuzz

# Legal forms, as tokens after transliteration and lower-casing. Dropped because payers and
# banks put them first, last or not at all ("SIA Rīgas Maiznīca" = "Rīgas Maiznīca SIA").
LEGAL_FORMS: frozenset[str] = frozenset(
    {
        # Baltics
        "sia", "as", "ou", "uab", "ab", "mb", "ii", "iu", "zs", "ik", "ps", "ks", "vsia", "psia",
        "fie", "tu", "mtu", "vsi", "tuab",
        # Russian / Ukrainian / Belarusian
        "ooo", "zao", "oao", "pao", "ao", "ip", "tov", "chp", "odo",
        # English-speaking
        "ltd", "limited", "llc", "llp", "lp", "inc", "corp", "plc", "co",
        # German, Nordic, Dutch, Romance, Central Europe
        "gmbh", "ag", "kg", "ohg", "ug", "ev", "oy", "oyj", "asa", "aps", "bv", "nv", "sa",
        "sas", "sarl", "srl", "spa", "sl", "kft", "sro", "doo", "se",
    }
)
# Multi-word legal forms, removed before tokenizing.
_LEGAL_PHRASES = re.compile(r"\b(?:sp\.? ?z ?o\.? ?o\.?|s\.? ?r\.? ?o\.?|z\.? ?s\.?)(?=\W|$)")
_NON_WORD = re.compile(r"[^a-z0-9]+")

# A name this long may have been cut by the bank (fields of 35 or 70 characters).
TRUNCATION_SUSPECT_LENGTH = 30
_MIN_PREFIX = 12


@dataclass(frozen=True, slots=True)
class PreparedName:
    """A name ready for comparison; customers' are computed once per index."""

    sorted_tokens: str  # legal forms dropped, tokens sorted: the key for exact lookups
    tokens: tuple[str, ...]  # legal forms dropped, original order
    full: str  # all tokens incl. legal forms, original order (for truncated prefixes)
    raw_length: int


@lru_cache(maxsize=8192)
def prepare_name(name: str) -> PreparedName:
    ascii_lower = anyascii(name).lower()
    full_tokens = _NON_WORD.sub(" ", ascii_lower).split()
    tokens = _NON_WORD.sub(" ", _LEGAL_PHRASES.sub(" ", ascii_lower)).split()
    kept = [t for t in tokens if t not in LEGAL_FORMS] or tokens  # "AS" alone stays a name
    return PreparedName(
        sorted_tokens=" ".join(sorted(kept)),
        tokens=tuple(kept),
        full=" ".join(full_tokens),
        raw_length=len(name.strip()),
    )


def normalize_name(name: str) -> str:
    """Comparable form of a name: ASCII, lower case, no legal form or punctuation, sorted words."""
    return prepare_name(name).sorted_tokens


def prepared_similarity(payer: PreparedName, customer: PreparedName) -> int:
    """0..100; see the module docstring for the rule."""
    if not payer.sorted_tokens or not customer.sorted_tokens:
        return 0
    score = fuzz.ratio(payer.sorted_tokens, customer.sorted_tokens)
    short, long_ = (payer, customer) if len(payer.full) <= len(customer.full) else (customer, payer)
    if short.raw_length >= TRUNCATION_SUSPECT_LENGTH and len(short.full) >= _MIN_PREFIX:
        score = max(score, fuzz.ratio(short.full, long_.full[: len(short.full)]))
    return int(round(score))


def name_similarity(a: str, b: str) -> int:
    """How alike two names are, 0..100, after normalization (see module docstring)."""
    return prepared_similarity(prepare_name(a), prepare_name(b))
