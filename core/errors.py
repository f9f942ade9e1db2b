"""The base of every error a user can cause: the CLI and the API show its message."""


class KvitsError(ValueError):
    """Refused input or a refused action; the message names what is wrong."""


class CodedError(KvitsError):
    """A refusal with a stable `code` (the API's problem code) besides its message."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
