"""The three camt messages: the root's child element and the statement element."""

from __future__ import annotations

from camt.versions.base import Decoder, MessageFormat

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"

# kind -> (message element, statement element)
MESSAGES: dict[str, tuple[str, str]] = {
    "camt.052": ("BkToCstmrAcctRpt", "Rpt"),
    "camt.053": ("BkToCstmrStmt", "Stmt"),
    "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}


def formats(
    kind: str, versions: range, decoder: type[Decoder], message_suffix: str = ""
) -> list[MessageFormat]:
    """MessageFormat for `kind` at each version number in `versions` (001.NN)."""
    message_tag, statement_tag = MESSAGES[kind]
    out = []
    for number in versions:
        version = f"001.{number:02d}"
        out.append(
            MessageFormat(
                kind=kind,
                version=version,
                namespace=f"{NAMESPACE_PREFIX}{kind}.{version}",
                message_tag=message_tag + message_suffix,
                statement_tag=statement_tag,
                decoder=decoder,
            )
        )
    return out
