"""camt.052.001.01 and camt.054.001.01 (2006): the first generation.

The message element carries a version suffix (BkToCstmrAcctRptV01), Btch and TxDtls
sit directly in Ntry (no NtryDtls), and an account may be identified by PrtryAcct,
BBAN or UPIC instead of IBAN/Othr.
"""

from __future__ import annotations

from camt.versions._kinds import formats
from camt.versions.base import Decoder, Element, _Details


class Decoder01(Decoder):
    def entry_details(self, ntry_child: Element, name: str, out: _Details) -> bool:
        if name == "TxDtls":
            out.transactions.append(ntry_child)
            return True
        if name == "Btch":
            self.batch(ntry_child, out)
            return True
        # tolerate a NtryDtls wrapper as written by later versions
        return super().entry_details(ntry_child, name, out)

    def account_id(self, id_el: Element) -> tuple[str | None, str | None]:
        iban, other = super().account_id(id_el)
        if iban is not None or other is not None:
            return iban, other
        for child in id_el:
            name = child.tag[self._cut :]
            if name in ("BBAN", "UPIC"):
                return None, (child.text or "").strip() or None
            if name == "PrtryAcct":
                for sub in child:
                    if sub.tag[self._cut :] == "Id":
                        return None, (sub.text or "").strip() or None
        return None, None


FORMATS = [
    *formats("camt.052", range(1, 2), Decoder01, message_suffix="V01"),
    *formats("camt.054", range(1, 2), Decoder01, message_suffix="V01"),
]
