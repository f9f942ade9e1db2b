"""camt.052/053/054 .001.02 to .001.07.

Sts is plain text; RltdPties/Dbtr is the party itself. Up to v03 a charge is a direct
Chrgs element, from v04 Chrgs holds Rcrd elements; BIC became BICFI in v04. The shared
Decoder accepts all of these forms in every version, since real files mix them.
"""

from __future__ import annotations

from camt.versions._kinds import formats
from camt.versions.base import Decoder


class Decoder02(Decoder):
    """The base decoder is written against this family."""


FORMATS = [
    *formats("camt.052", range(2, 8), Decoder02),
    *formats("camt.053", range(2, 8), Decoder02),
    *formats("camt.054", range(2, 8), Decoder02),
]
