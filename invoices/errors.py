from core.errors import KvitsError


class InvoiceError(KvitsError):
    """Invalid customer or invoice data; the message names the field and the value."""
