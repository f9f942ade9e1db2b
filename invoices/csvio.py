"""CSV files of customers and invoices -> inputs for the service, with row-exact errors.

customers.csv columns: code, name, email, country, language, vat_number, ibans
  (ibans: several separated by ';' or spaces). Only code and name are required.
invoices.csv columns: number, customer_code, currency, issue_date, due_date,
  description, quantity, unit_price, vat_rate, discount_percent, rf_reference,
  already_paid, notes. One row per line; rows sharing a number are one invoice.
  Required: number, customer_code, currency, issue_date, description, unit_price.
"""

from __future__ import annotations

import re

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from invoices.arithmetic import LineInput
from invoices.errors import InvoiceError
from invoices.service import CustomerInput, InvoiceInput

CUSTOMER_COLUMNS = ("code", "name", "email", "country", "language", "vat_number", "ibans")
INVOICE_COLUMNS = (
    "number", "customer_code", "currency", "issue_date", "due_date", "description",
    "quantity", "unit_price", "vat_rate", "discount_percent", "rf_reference",
    "already_paid", "notes",
)


def _rows(path: Path, required: Iterable[str], known: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvoiceError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvoiceError(f"{path.name}: missing column(s) {', '.join(missing)}")
    unknown = [h for h in header if h and h not in set(known)]
    if unknown:
        raise InvoiceError(f"{path.name}: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise InvoiceError(f"{path.name} row {reader.line_num}: more fields than columns")
        clean = {k: (v or "").strip() for k, v in row.items()}
        if any(clean.values()):
            rows.append((reader.line_num, clean))
    return rows


def read_customers(path: Path) -> list[CustomerInput]:
    out = []
    for line, row in _rows(path, ("code", "name"), CUSTOMER_COLUMNS):
        ibans = tuple(p for p in row.get("ibans", "").replace(";", " ").split() if p)
        out.append(
            CustomerInput(
                code=row["code"], name=row["name"], email=row.get("email") or None,
                country=row.get("country") or None, language=row.get("language") or "en",
                vat_number=row.get("vat_number") or None, ibans=ibans,
            )
        )
        if not row["code"] or not row["name"]:
            raise InvoiceError(f"{path.name} row {line}: code and name are required")
    return out


DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _decimal(path: Path, line: int, col: str, value: str, default: str | None = None) -> Decimal:
    if not value:
        if default is None:
            raise InvoiceError(f"{path.name} row {line}: {col} is required")
        value = default
    compact = value.replace(" ", "")
    # Decimal() alone would take "1_000", "1e30", "NaN" and other scripts' digits
    if not DECIMAL.fullmatch(compact):
        raise InvoiceError(f"{path.name} row {line}: {col} {value!r} is not a decimal number (use '.')")
    return Decimal(compact)


def _date(path: Path, line: int, col: str, value: str, required: bool = True) -> date | None:
    if not value:
        if required:
            raise InvoiceError(f"{path.name} row {line}: {col} is required")
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvoiceError(f"{path.name} row {line}: {col} {value!r} is not a date (YYYY-MM-DD)") from None


def read_invoices(path: Path) -> list[InvoiceInput]:
    required = ("number", "customer_code", "currency", "issue_date", "description", "unit_price")
    grouped: dict[str, dict[str, object]] = {}
    for line, row in _rows(path, required, INVOICE_COLUMNS):
        number = row["number"]
        if not number:
            raise InvoiceError(f"{path.name} row {line}: number is required")
        if not row["description"]:
            raise InvoiceError(f"{path.name} row {line}: description is required")
        item = LineInput(
            description=row["description"],
            quantity=_decimal(path, line, "quantity", row.get("quantity", ""), "1"),
            unit_price=_decimal(path, line, "unit_price", row["unit_price"]),
            vat_rate=_decimal(path, line, "vat_rate", row.get("vat_rate", ""), "0"),
            discount_percent=_decimal(path, line, "discount_percent", row.get("discount_percent", ""), "0"),
        )
        head = grouped.get(number)
        if head is None:
            grouped[number] = {
                "line": line,
                "customer_code": row["customer_code"],
                "currency": row["currency"],
                "issue_date": _date(path, line, "issue_date", row["issue_date"]),
                "due_date": _date(path, line, "due_date", row.get("due_date", ""), required=False),
                "rf_reference": row.get("rf_reference") or None,
                "already_paid": _decimal(path, line, "already_paid", row.get("already_paid", ""), "0"),
                "notes": row.get("notes") or None,
                "lines": [item],
            }
        else:
            if head["customer_code"] != row["customer_code"] or head["currency"] != row["currency"]:
                raise InvoiceError(
                    f"{path.name} row {line}: invoice {number} has a different customer or currency "
                    f"than on row {head['line']}"
                )
            lines = head["lines"]
            assert isinstance(lines, list)
            lines.append(item)
    result = []
    for number, head in grouped.items():
        result.append(
            InvoiceInput(
                number=number,
                customer_code=str(head["customer_code"]),
                currency=str(head["currency"]),
                issue_date=head["issue_date"],  # type: ignore[arg-type]
                due_date=head["due_date"],  # type: ignore[arg-type]
                rf_reference=head["rf_reference"],  # type: ignore[arg-type]
                already_paid=head["already_paid"],  # type: ignore[arg-type]
                notes=head["notes"],  # type: ignore[arg-type]
                lines=tuple(head["lines"]),  # type: ignore[arg-type]
            )
        )
    return result
