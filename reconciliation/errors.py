from core.errors import KvitsError


class StaleMatch(KvitsError):
    """The invoices a match was made for changed before it could be applied."""


class ImportRefused(KvitsError):
    """The import was refused as a whole; nothing of it is stored."""


class ReviewError(KvitsError):
    """A review decision that cannot be taken (already decided, wrong invoice, ...)."""
