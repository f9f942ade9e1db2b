"""Small builders shared by the database tests."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.tenancy import get_or_create_merchant
from invoices import service as invoices
from invoices.arithmetic import LineInput
from invoices.models import Invoice


def merchant(session: Session, code: str = "m1") -> int:
    return get_or_create_merchant(session, code).id


def customer(session: Session, mid: int, name: str, *, ibans: tuple[str, ...] = (), country: str | None = None,
             code: str | None = None) -> str:
    code = code or "C" + hashlib.sha256(name.encode()).hexdigest()[:8]
    invoices.upsert_customer(
        session, mid, invoices.CustomerInput(code=code, name=name, country=country, ibans=ibans)
    )
    return code


def invoice(session: Session, mid: int, number: str, customer_code: str, total: str, *,
            currency: str = "EUR", rf: str | None = None, already_paid: str = "0",
            issue: date = date(2026, 10, 16), due: date = date(2026, 11, 15)) -> Invoice:
    return invoices.create_issued(
        session, mid,
        invoices.InvoiceInput(
            customer_code=customer_code, currency=currency, number=number, rf_reference=rf,
            issue_date=issue, due_date=due, already_paid=Decimal(already_paid),
            lines=(LineInput(description=f"Invoice {number}", quantity=Decimal(1), unit_price=Decimal(total)),),
        ),
    )


def load_case_invoices(session: Session, mid: int, path: Path) -> dict[str, Invoice]:
    """invoices.json of a shared case -> customers and issued invoices in the database."""
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for row in rows:
        cust = row["customer"]
        code = customer(session, mid, cust["name"], ibans=tuple(cust.get("known_ibans", ())),
                        country=cust.get("country"))
        assert row["status"] in ("issued", "partially_paid"), row["status"]
        out[row["number"]] = invoice(
            session, mid, row["number"], code, row["total"], currency=row["currency"],
            rf=row.get("rf_reference"), already_paid=row.get("already_paid", "0"),
            issue=date.fromisoformat(row["issue_date"]), due=date.fromisoformat(row["due_date"]),
        )
    return out


# ---------------------------------------------------------------- camt statements for tests

from dataclasses import dataclass as _dataclass  # noqa: E402
from xml.sax.saxutils import escape as _esc  # noqa: E402


@_dataclass
class Pay:
    amount: str
    payer: str = "Payer"
    iban: str | None = None
    text: str | None = None
    rf: str | None = None
    e2e: str = "NOTPROVIDED"
    side: str = "CRDT"
    reversal: bool = False
    ref: str | None = None  # AcctSvcrRef; default: running number; "" for none at all
    status: str = "BOOK"
    currency: str = "EUR"


def statement_xml(pays: list[Pay], *, stmt_id: str = "ST-1", opening: str = "0.00", kind: str = "camt.053",
                  account: str = "LV48PARX0001234567890", created: str = "2026-11-04T06:00:00",
                  msg_id: str = "MSG-1", day: str = "2026-11-03", closing: str | None = None) -> bytes:
    root, stmt = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.052": ("BkToCstmrAcctRpt", "Rpt"),
                  "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}[kind]
    total = Decimal(opening)
    entries = []
    for n, p in enumerate(pays, start=1):
        if p.status == "BOOK":
            total += Decimal(p.amount) if p.side == "CRDT" else -Decimal(p.amount)
        party = "Cdtr" if p.side == "DBIT" and not p.reversal else "Dbtr"
        acct = f"<{party}Acct><Id><IBAN>{p.iban}</IBAN></Id></{party}Acct>" if p.iban else ""
        rmt = ""
        if p.text or p.rf:
            rmt = "<RmtInf>"
            if p.text:
                rmt += f"<Ustrd>{_esc(p.text)}</Ustrd>"
            if p.rf:
                rmt += ("<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
                        f"<Ref>{p.rf}</Ref></CdtrRefInf></Strd>")
            rmt += "</RmtInf>"
        rvsl = "<RvslInd>true</RvslInd>" if p.reversal else ""
        entries.append(
            f'<Ntry><Amt Ccy="{p.currency}">{p.amount}</Amt><CdtDbtInd>{p.side}</CdtDbtInd>{rvsl}'
            f"<Sts>{p.status}</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            + ("" if p.ref == "" else f"<AcctSvcrRef>{p.ref or f'{stmt_id}-{n:04d}'}</AcctSvcrRef>") +
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
            f"<NtryDtls><TxDtls><Refs><EndToEndId>{p.e2e}</EndToEndId></Refs>"
            f"<RltdPties><{party}><Nm>{_esc(p.payer)}</Nm></{party}>{acct}</RltdPties>{rmt}"
            "</TxDtls></NtryDtls></Ntry>"
        )
    closing = closing if closing is not None else str(total)
    bal = "".join(
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{abs(Decimal(v))}</Amt>"
        f"<CdtDbtInd>{'CRDT' if Decimal(v) >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
        for code, v in (("OPBD", opening), ("CLBD", closing))
    ) if kind == "camt.053" else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{kind}.001.02">'
        f"<{root}><GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<{stmt}><Id>{stmt_id}</Id><CreDtTm>{created}</CreDtTm>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>{bal}"
        + "\n".join(entries)
        + f"</{stmt}></{root}></Document>\n"
    ).encode("utf-8")
