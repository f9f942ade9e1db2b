from lxml import etree

from camt.model import Entry

BUILT_AGAINST: str

class EntryDecoder:
    def __init__(self, namespace: str, status_code_first: bool) -> None: ...
    def entry(self, ntry: etree._Element, index: int) -> Entry | None: ...
