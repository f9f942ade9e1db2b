"""What the payer's pages show, rendered with Jinja2 in the invoice's language."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import segno
import segno.helpers
from jinja2 import Environment, FileSystemLoader, select_autoescape

from core import clock
from core.models import Merchant
from core.money import from_minor
from invoices.models import Invoice
from paylinks import i18n
from paylinks.service import N_, payable_minor
from psd2.registry import Bank

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=None)
def environment(language: str) -> Environment:
    """One environment per language, its gettext installed once (thread-safe to share)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(language: str, template: str, **context: Any) -> str:
    return environment(language).get_template(template).render(lang=language, **context)


def gettext(language: str, message: str, **values: Any) -> str:
    text: str = i18n.translations(language).gettext(message)
    return text % values if values else text


def language_of(invoice: Invoice, asked: str | None) -> str:
    """The payer's choice on the page, else the customer's language, else English."""
    if asked in i18n.LANGUAGES:
        return str(asked)
    customer_language = getattr(invoice.customer, "language", None)
    return customer_language if customer_language in i18n.LANGUAGES else "en"


def epc_qr(merchant: Merchant, invoice: Invoice, amount_minor: int) -> str | None:
    """An EPC (SEPA) QR code as a data URI: euro only, as the standard allows."""
    if invoice.currency != "EUR" or not merchant.iban or not 1 <= amount_minor <= 99_999_999_999:
        return None
    qr = segno.helpers.make_epc_qr(name=merchant.name[:70], iban=merchant.iban,
                                   amount=from_minor(amount_minor, "EUR"),
                                   reference=invoice.rf_reference or None,
                                   text=None if invoice.rf_reference else f"Invoice {invoice.number}"[:140])
    uri: str = qr.svg_data_uri(scale=4, border=2)
    return uri


def invoice_page(language: str, merchant: Merchant, invoice: Invoice, *, state: str, pay_url: str,
                 banks: list[Bank], error: str | None = None, card: bool = False) -> str:
    cur = invoice.currency

    def m(minor: int) -> str:
        return i18n.money(from_minor(minor, cur), cur, language)

    lines = [{"description": line.description, "quantity": i18n.number(line.quantity, language),
              "unit_price": i18n.money(line.unit_price, cur, language),
              "vat_rate": i18n.number(line.vat_rate, language) if line.vat_rate else None,
              "amount": m(line.net_minor)} for line in invoice.lines]
    payable = payable_minor(invoice) if state == "open" else 0
    return render(
        language, "invoice.html", merchant_name=merchant.name, invoice=invoice, customer_name=invoice.customer.name,
        issued=i18n.day(invoice.issue_date, language), due_date=i18n.day(invoice.due_date, language),
        reference=invoice.rf_reference, lines=lines, net=m(invoice.net_minor), vat=m(invoice.vat_minor),
        total=m(invoice.total_minor), paid=m(invoice.paid_minor), paid_any=invoice.paid_minor > 0,
        state=state, payable=m(payable) if payable else None, overdue=bool(payable) and invoice.due_date < clock.today(), payable_plain=str(from_minor(payable, cur)),
        currency=cur, partial=merchant.partial_payments, banks=banks if merchant.iban else [], pay_url=pay_url,
        card=card and bool(merchant.iban),
        error=error, qr=epc_qr(merchant, invoice, payable) if payable else None, iban=merchant.iban,
        languages=[(code, i18n.NAMES[code]) for code in i18n.LANGUAGES])


def payment_page(language: str, merchant: Merchant, invoice: Invoice, *, outcome: str, pay_url: str,
                 amount_minor: int, currency: str, bank_name: str, end_to_end_id: str, when: datetime,
                 method: str = "bank") -> str:
    return render(language, "payment.html", merchant_name=merchant.name, invoice_number=invoice.number,
                  outcome=outcome, refresh=outcome == "processing", pay_url=pay_url, method=method,
                  **receipt_values(language, amount_minor, currency, bank_name, end_to_end_id, clock.local(when).date()))


def receipt_values(language: str, amount_minor: int, currency: str, bank_name: str, end_to_end_id: str,
                   paid_on: date) -> dict[str, str]:
    return {"amount": i18n.money(Decimal(from_minor(amount_minor, currency)), currency, language),
            "paid_on": i18n.day(paid_on, language), "bank_name": bank_name, "end_to_end_id": end_to_end_id}


def receipt_email(language: str, merchant_name: str, invoice_number: str, amount_minor: int, currency: str,
                  bank_name: str, end_to_end_id: str, paid_on: date) -> tuple[str, str]:
    """The receipt as an email: subject and plain-text body, in the payer's language."""
    subject = gettext(language, N_("Receipt for invoice %(number)s"), number=invoice_number)
    body = render(language, "receipt.txt", merchant_name=merchant_name, invoice_number=invoice_number,
                  **receipt_values(language, amount_minor, currency, bank_name, end_to_end_id, paid_on))
    return subject, body


def not_found_page(message: str, title: str | None = None) -> str:
    """A plain page: "Page not found" unless `title` says what it is (in English: the
    merchant's own pages are)."""
    return render("en", "notfound.html", merchant_name="kvits", message=message, title=title)
