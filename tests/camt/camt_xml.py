"""Builds small camt documents for the tests, written for kvits (not copied)."""

from __future__ import annotations

NS = "urn:iso:std:iso:20022:tech:xsd:{kind}.{version}"

MESSAGE = {
    "camt.052": ("BkToCstmrAcctRpt", "Rpt"),
    "camt.053": ("BkToCstmrStmt", "Stmt"),
    "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}


def balance(code: str, amount: str, side: str = "CRDT", ccy: str = "EUR") -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd>'
        f"<Dt><Dt>2026-03-02</Dt></Dt></Bal>"
    )


def entry(
    amount: str = "10.00",
    side: str = "CRDT",
    *,
    ccy: str = "EUR",
    status: str = "<Sts>BOOK</Sts>",
    ref: str = "R-1",
    details: str = "",
    extra: str = "",
) -> str:
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd>{extra}'
        f"{status}<BookgDt><Dt>2026-03-02</Dt></BookgDt><ValDt><Dt>2026-03-02</Dt></ValDt>"
        f"<AcctSvcrRef>{ref}</AcctSvcrRef>{details}</Ntry>"
    )


def document(
    body: str,
    *,
    kind: str = "camt.053",
    version: str = "001.02",
    namespace: str | None = None,
    balances: str | None = None,
    account: str = "<Acct><Id><IBAN>LV48PARX0001234567890</IBAN></Id><Ccy>EUR</Ccy></Acct>",
    declaration: str = '<?xml version="1.0" encoding="UTF-8"?>\n',
    statement_id: str = "ST-1",
) -> str:
    message, statement = MESSAGE[kind]
    ns = NS.format(kind=kind, version=version) if namespace is None else namespace
    xmlns = f' xmlns="{ns}"' if ns else ""
    if balances is None:
        balances = balance("OPBD", "0.00") + balance("CLBD", "0.00")
    return (
        f"{declaration}<Document{xmlns}>\n<{message}>\n"
        f"<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-03-02T06:00:00</CreDtTm></GrpHdr>\n"
        f"<{statement}><Id>{statement_id}</Id><CreDtTm>2026-03-02T06:00:00</CreDtTm>\n"
        f"{account}\n{balances}\n{body}\n</{statement}>\n</{message}>\n</Document>\n"
    )
