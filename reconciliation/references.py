"""Finding payment references in what payers type: RF creditor references and invoice numbers.

Pure string functions; the engine looks the keys up in its indexes.

Invoice-number keys (the rule, shared by invoices and payment texts):
* text is transliterated to ASCII and upper-cased, then split into *tokens*: maximal runs of
  letters or of digits ("INV-0012" -> INV, 0012; "LV2026/15" -> LV, 2026, 15);
* a key is the concatenation of consecutive tokens, so spaces, dashes, slashes and dots
  between them do not matter ("LV 2026 0101" = "LV-2026-0101" = "lv20260101");
* every key also has a form without leading zeros in each digit run ("INV-0012" = "INV12");
* a key never starts or ends inside a token, so "LV-2026-10" never yields "LV-2026-1".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple
from functools import lru_cache

from anyascii import anyascii
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

# Words payers put in front of an invoice number (after transliteration, upper case).
# Latvian, Lithuanian, Estonian, Russian, Polish, German, English and generic abbreviations.
INVOICE_WORDS: frozenset[str] = frozenset(
    {
        "REKINS", "REKINA", "REKINAM", "REKINU", "REKINI", "REKINIEM", "REK", "RK",
        "SASKAITA", "SASKAITOS", "SASK", "SF", "PVMSF",
        "ARVE", "ARVED", "ARVEL", "ARVENR",
        "SCHET", "SCHETU", "SCHETA", "SCHYOT", "SCH",
        "FAKTURA", "FAKTURY", "FV",
        "RECHNUNG", "RECHNUNGSNR", "RE", "RG", "RECHNR",
        "INVOICE", "INVOICES", "INV", "INVNO", "BILL",
        "NR", "NO", "N", "NUM", "NUMBER", "REF", "REFERENCE", "REFERENCES", "VIITENUMBER",
    }
)

# Masked before looking for invoice numbers: their digits are not invoice numbers.
_DATE = re.compile(
    r"\b(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\b"
)
_AMOUNT = re.compile(r"\b\d{1,3}(?:[ '\u00a0]\d{3})*[.,]\d{2}\b|\b\d+[.,]\d{2}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PHONE = re.compile(r"\+\d{2,3}[ -]?\d{2,4}(?:[ -]?\d{2,4}){1,3}\b|\b(?:TEL|PHONE|MOB|T)\.?:? ?\+?[\d -]{7,}\d")
_TOKEN = re.compile(r"[A-Z]+|\d+")
_HAS_DIGIT = re.compile(r"\d")
_RF_START = re.compile(r"RF\d\d")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
# zeros that start a digit run and are followed by another digit ("0012" -> "12", "0" stays)
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")

# Separators a key may span; others (',', ';', '(', ':' ...) end it, so two numbers in a
# list ("12, 13") are not glued into "1213".
_JOINABLE = frozenset(" -/._#\u00a0")

MAX_KEY_TOKENS = 6
MAX_KEY_LENGTH = 35


def _ascii_upper(text: str) -> str:
    # anyascii is the slow part; most references are ASCII already
    return (text if text.isascii() else anyascii(text)).upper()


def compact_reference(value: str) -> str:
    """Upper-case ASCII letters and digits only: how references and numbers are compared."""
    return _NOT_ALNUM.sub("", _ascii_upper(value))


def strip_zeros(key: str) -> str:
    """Drop leading zeros of every digit run of a compact key ("INV0012" -> "INV12")."""
    return _LEADING_ZEROS.sub("", key) if "0" in key else key


def _strip_token(token: str) -> str:
    """A digit token without its leading zeros ("0046" -> "46", "000" -> "0")."""
    return (token.lstrip("0") or "0") if token[0] == "0" else token


def is_valid_rf(value: str) -> bool:
    """ISO 11649 creditor reference with a correct check (python-stdnum)."""
    return bool(iso11649.is_valid(value))


def _is_valid_compact_rf(value: str) -> bool:
    """is_valid_rf for a string already compact and upper case (RF + 2 digits + 1..21
    alphanumerics): the same ISO 7064 check without stdnum's per-call cleaning, which was
    a tenth of the matching time in bench/match.py."""
    return 5 <= len(value) <= 25 and bool(mod_97_10.is_valid(value[4:] + value[:4]))


@lru_cache(maxsize=8192)
def find_rf_references(text: str) -> tuple[str, ...]:
    """Checksum-valid RF references anywhere in `text`, spaces and dashes ignored.

    For each "RFnn" start, every length from the longest alphanumeric run down to the
    shortest is tried, so a word glued after the reference ("RF9420261001PAID") does not
    hide it. All valid lengths are returned (longest first); the caller keeps those it knows.
    """
    squeezed = re.sub(r"[\s\-]+", "", _ascii_upper(text))
    found: list[str] = []
    for start in _RF_START.finditer(squeezed):
        run_end = start.start() + 4
        while run_end < len(squeezed) and run_end - start.start() < 25 and squeezed[run_end].isalnum():
            run_end += 1
        for end in range(run_end, start.start() + 4, -1):
            candidate = squeezed[start.start() : end]
            if candidate not in found and _is_valid_compact_rf(candidate):
                found.append(candidate)
    return tuple(found)


def mask_rf(text: str, reference: str) -> str:
    """`text` with the (possibly spaced) occurrences of `reference` replaced by a comma."""
    out: list[str] = []
    i = 0
    while i < len(text):
        j, k = i, 0
        while j < len(text) and k < len(reference):
            if text[j].upper() == reference[k]:
                j, k = j + 1, k + 1
            elif k > 0 and (text[j].isspace() or text[j] == "-"):
                j += 1
            else:
                break
        if k == len(reference):
            out.append(",")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class NumberKeys:
    """Keys under which an invoice number is indexed."""

    full: str  # compact form, e.g. LV20260101
    variants: tuple[str, ...]  # full without leading zeros; digits after a letter prefix
    # the running number alone ("12", "INV12" for INV-2026-00012): only ever matched by
    # a text key that stands alone (TextKey.isolated), never one inside a longer number
    short: tuple[str, ...] = ()


def number_keys(number: str) -> NumberKeys:
    """Keys of an invoice number: compact, zero-stripped, and without its letter prefix.

    The bare form ("LV-2026-0101" -> "20260101") lets "Rēķins 2026-0101" match, and
    "INV-0012" -> "12" lets "Invoice 12" match; the engine treats bare keys that are only
    digits as weaker evidence.
    """
    full = compact_reference(number)
    variants: list[str] = []

    def add(key: str) -> None:
        if key and key != full and key not in variants:
            variants.append(key)

    # zeros are stripped per token of the number as written: "INV-2026-0046" is
    # INV 2026 0046 -> INV202646, which is what "INV2026-46" reads as
    tokens = _TOKEN.findall(_ascii_upper(number))
    stripped = [_strip_token(t) for t in tokens]
    add("".join(stripped))
    if len(tokens) >= 2 and tokens[0].isalpha() and not tokens[1].isalpha():
        add("".join(tokens[1:]))
        add("".join(stripped[1:]))
    short: list[str] = []
    seq = stripped[-1] if tokens else ""
    if len(tokens) >= 3 and tokens[-1].isdigit() and tokens[-2].isdigit() and seq not in stripped[:-1]:
        # a series with a year: payers quote the running number alone ("Rēķins Nr. 12",
        # "INV-0012" for INV-2026-00012). Not when it reads like another part of the
        # number (INV-2026-02026: "2026" is the year of every invoice).
        short.append(seq)
        if tokens[0].isalpha():
            short.append(tokens[0] + seq)
    return NumberKeys(full, tuple(variants), tuple(k for k in short if k != full and k not in variants))


class TextKey(NamedTuple):
    """A possible invoice number seen in free text (a tuple: thousands per statement)."""

    key: str  # compact, as written (after transliteration)
    stripped: str  # without leading zeros in digit runs
    after_word: bool  # directly preceded by an invoice word ("Rēķins", "INV", "Nr.")
    word_led: bool  # starts with an invoice word itself ("INV0012"): never a quoted reference
    start: int  # token span, to prefer the longest match
    end: int
    # no digits joined on either side: the whole of a number as written, not a part of
    # a longer one ("12" in "Nr. 12", not in "2026-12"; "INV2026" in "INV-2026" alone)
    isolated: bool = False


def _mask(text: str) -> str:
    text = _DATE.sub(",", text)
    if _IBAN.search(text):
        text = _IBAN.sub(lambda m: "," if _looks_like_iban(m.group(0)) else m.group(0), text)
    text = _AMOUNT.sub(",", text)
    return _PHONE.sub(",", text) if "+" in text or "T" in text else text


def _looks_like_iban(value: str) -> bool:
    """True if `value` or a prefix of it (the regex may run into the next word) is an IBAN."""
    compact = value.replace(" ", "")
    for length in range(len(compact), 14, -1):
        candidate = compact[:length]
        # mod-97 check as in ISO 13616: a random alphanumeric run rarely passes it
        digits = "".join(str(int(ch, 36)) for ch in candidate[4:] + candidate[:4])
        if int(digits) % 97 == 1:
            return True
    return False


@lru_cache(maxsize=8192)
def text_number_keys(text: str) -> tuple[TextKey, ...]:
    """Every token run of `text` that could be an invoice number (contains a digit).

    Dates, amounts, IBANs and phone numbers are masked first, so their digits never
    become keys. Returns keys in text order; the caller looks them up and keeps the
    longest matches.
    """
    if not _HAS_DIGIT.search(text):
        return ()  # an invoice number has digits
    upper = _mask(_ascii_upper(text))
    matches = list(_TOKEN.finditer(upper))
    tokens = [m.group(0) for m in matches]
    # joins[j]: token j continues the key of token j - 1
    joins = [False] + [
        _joinable(upper, matches[j - 1].end(), matches[j].start()) for j in range(1, len(matches))
    ]
    is_word = [tok in INVOICE_WORDS for tok in tokens]
    digit_joined_before = [j > 0 and joins[j] and tokens[j - 1][0].isdigit() for j in range(len(tokens))]
    digit_joined_after = [j + 1 < len(tokens) and joins[j + 1] and tokens[j + 1][0].isdigit()
                          for j in range(len(tokens))]
    keys: list[TextKey] = []
    for i, first in enumerate(tokens):
        after_word = i > 0 and is_word[i - 1] and joins[i]
        key = stripped = ""
        has_digit = False
        for j in range(i, min(len(tokens), i + MAX_KEY_TOKENS)):
            if j > i and not joins[j]:
                break
            tok = tokens[j]
            key += tok
            if len(key) > MAX_KEY_LENGTH:
                break
            stripped += _strip_token(tok)  # per token, as number_keys does
            has_digit = has_digit or tok[0].isdigit()
            if has_digit:
                isolated = not digit_joined_before[i] and not digit_joined_after[j]
                keys.append(TextKey(key, stripped, after_word, is_word[i], i, j + 1, isolated))
    return tuple(keys)


def _joinable(text: str, gap_start: int, gap_end: int) -> bool:
    gap = text[gap_start:gap_end]
    # "Nr. 12" and "LV-2026-0101" join; "12, 13" or "12 (13)" do not; a long gap is prose
    return len(gap) <= 2 and all(ch in _JOINABLE for ch in gap)


def deletions(key: str) -> set[str]:
    """All strings one deletion away from `key` (SymSpell-style typo index)."""
    return {key[:i] + key[i + 1 :] for i in range(len(key))}
