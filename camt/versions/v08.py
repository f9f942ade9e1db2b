"""camt.052/053/054 .001.08 to .001.13.

Sts became a choice (Sts/Cd or Sts/Prtry) and RltdPties/Dbtr, Cdtr wrap the party in
Pty (or a bank in Agt). Plain-text Sts and unwrapped parties are still accepted.
"""

from __future__ import annotations

from camt.versions._kinds import formats
from camt.versions.base import Decoder, Element, fail


class Decoder08(Decoder):
    def status(self, el: Element) -> str:
        code = self.code_or_proprietary(el)
        if code:
            return code
        text = (el.text or "").strip()
        if not text:
            fail("entry status (Sts) has neither Cd nor Prtry", el)
        return text


FORMATS = [
    *formats("camt.052", range(8, 14), Decoder08),
    *formats("camt.053", range(8, 14), Decoder08),
    *formats("camt.054", range(8, 14), Decoder08),
]
