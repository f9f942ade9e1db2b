"""The base of every error a user can cause: the CLI and the API show its message."""


class KvitsError(ValueError):
    """Refused input or a refused action; the message names what is wrong."""
