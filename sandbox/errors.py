"""Errors as the Berlin Group answers them: `tppMessages` with a category, a code from the
standard's list and the HTTP status the standard gives that code."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse


@dataclass(frozen=True, slots=True)
class TppMessage:
    code: str
    text: str
    path: str | None = None
    category: str = "ERROR"

    def as_json(self) -> dict[str, str]:
        data = {"category": self.category, "code": self.code, "text": self.text[:500]}
        if self.path:
            data["path"] = self.path
        return data


class TppError(Exception):
    """Raised by the sandbox's handlers; turned into a tppMessages response."""

    def __init__(self, status: int, code: str, text: str, path: str | None = None,
                 more: list[TppMessage] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.messages = [TppMessage(code, text, path), *(more or [])]
        self.headers = headers or {}

    def response(self, request_id: str | None = None) -> JSONResponse:
        headers = {**self.headers, **({"X-Request-ID": request_id} if request_id else {})}
        return JSONResponse({"tppMessages": [m.as_json() for m in self.messages]},
                            status_code=self.status, headers=headers)


def format_error(text: str, path: str | None = None) -> TppError:
    return TppError(400, "FORMAT_ERROR", text, path)


def unknown(what: str) -> TppError:
    return TppError(404, "RESOURCE_UNKNOWN", f"{what} is not known to this bank")
