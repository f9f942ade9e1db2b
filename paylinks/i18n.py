"""The payer's pages in the invoice's language: gettext catalogs (one .po per language
in paylinks/locale, compiled in memory when first used) and Babel's formats for money
and dates. `pybabel extract -F paylinks/babel.cfg` finds every message."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

LANGUAGES = ("lv", "et", "lt", "en", "ru")
NAMES = {"lv": "Latviešu", "et": "Eesti", "lt": "Lietuvių", "en": "English", "ru": "Русский"}
LOCALES = Path(__file__).with_name("locale")


@lru_cache(maxsize=None)
def translations(language: str) -> Translations:
    """The catalog of `language` (English: the messages as written)."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalog for {language!r}")
    path = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if language == "en" and not path.exists():
        return Translations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def money(amount: Decimal, currency: str, language: str) -> str:
    return format_currency(amount, currency, locale=Locale.parse(language))


def number(value: Decimal, language: str) -> str:
    return format_decimal(value, locale=Locale.parse(language))


def day(value: date, language: str) -> str:
    return format_date(value, format="long", locale=Locale.parse(language))
