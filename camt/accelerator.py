"""The compiled entry decoder (camt/_accel.pyx), when it was built and fits.

It is a twin of `Decoder.entry` for the version families whose entries it knows
(.001.02 - .001.13); it returns None for anything it is not sure about, and the Python
decoder reads that entry. Without it (no compiler at install time, or built against
another lxml than the one running), everything is read by the Python decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from lxml import etree

from camt.model import Entry
from camt.versions.base import Decoder, Element
from camt.versions.v02 import Decoder02
from camt.versions.v08 import Decoder08

__all__ = ["EntryFunction", "fast_entry", "status"]

EntryFunction = Callable[[Element, int], Entry | None]

_accel: ModuleType | None
_why = ""
try:
    from camt import _accel
except ImportError as exc:  # no compiler at install time: the Python decoder only
    _accel = None
    _why = f"not built ({exc})"
if _accel is not None and _accel.BUILT_AGAINST != etree.__version__:
    # it reads lxml's own structures: another lxml could lay them out differently
    _why = f"built for lxml {_accel.BUILT_AGAINST}, running {etree.__version__}"
    _accel = None

# Version family -> whether its Sts prefers Cd/Prtry over plain text.
_FAMILIES: dict[type[Decoder], bool] = {Decoder02: False, Decoder08: True}


def status() -> str:
    """One line for benchmarks and `--version` output: which decoder reads entries."""
    if _accel is None:
        return f"pure Python ({_why})"
    return f"compiled (lxml {etree.__version__})"


def fast_entry(decoder: Decoder, namespace: str) -> EntryFunction | None:
    """The compiled `entry` for this decoder's namespace, or None when there is none."""
    if _accel is None:
        return None
    status_code_first = _FAMILIES.get(type(decoder))
    if status_code_first is None:
        return None
    fn: EntryFunction = _accel.EntryDecoder(namespace, status_code_first).entry
    return fn
