"""The one error a camt file can be refused with."""

from __future__ import annotations

__all__ = ["CamtError"]

_MAX_VALUE_CHARS = 80


class CamtError(ValueError):
    """A camt file that cannot be read, with where and why.

    `problem` says what is wrong, `path` is the element path from the root
    (``Document/BkToCstmrStmt/Stmt/Ntry/Amt``), `line` the source line, `value` the
    offending text. ``str()`` is a single line naming all that are known, so it can go
    straight into a log line or an API error without a stack trace.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | None = None,
        line: int | None = None,
        value: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        self.value = value
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        text = self.problem
        if self.value is not None:
            shown = (
                self.value
                if len(self.value) <= _MAX_VALUE_CHARS
                else self.value[:_MAX_VALUE_CHARS] + "..."
            )
            if repr(shown) not in text and shown not in text:
                text = f"{text}: {shown!r}"
        if self.path:
            text = f"{text} at {self.path}"
        if self.line is not None:
            text = f"{text}, line {self.line}" if self.path else f"{text} at line {self.line}"
        # one line, whatever the bank put into the value or libxml2 into the message
        return " ".join(text.split())

    def __str__(self) -> str:
        return self._one_line()
