"""The one lookup from a camt namespace (or, without namespace, the message element)
to the version family that reads it. Adding a version is adding it to a family module."""

from __future__ import annotations

from camt.errors import CamtError
from camt.versions import v01, v02, v08
from camt.versions._kinds import MESSAGES, NAMESPACE_PREFIX
from camt.versions.base import MessageFormat

__all__ = ["MessageFormat", "for_message_without_namespace", "lookup", "namespaces"]

_BY_NAMESPACE: dict[str, MessageFormat] = {
    fmt.namespace: fmt for module in (v01, v02, v08) for fmt in module.FORMATS
}

# A file without namespace is read with the tolerant v02 family decoder.
_WITHOUT_NAMESPACE: dict[str, MessageFormat] = {
    message_tag: MessageFormat(
        kind=kind,
        version="",
        namespace="",
        message_tag=message_tag,
        statement_tag=statement_tag,
        decoder=v02.Decoder02,
    )
    for kind, (message_tag, statement_tag) in MESSAGES.items()
}


def namespaces() -> tuple[str, ...]:
    return tuple(_BY_NAMESPACE)


def lookup(namespace: str) -> MessageFormat:
    fmt = _BY_NAMESPACE.get(namespace)
    if fmt is not None:
        return fmt
    if namespace.startswith(NAMESPACE_PREFIX + "camt.05"):
        raise CamtError("unknown version of camt", value=namespace)
    raise CamtError("not a camt.052/053/054 document: unknown namespace", value=namespace)


def for_message_without_namespace(message_tag: str) -> MessageFormat | None:
    return _WITHOUT_NAMESPACE.get(message_tag)
