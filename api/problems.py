"""Every error of the HTTP API as RFC 9457 problem details, with a stable `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from core.db import is_transient
from core.errors import KvitsError

MEDIA = "application/problem+json"
_log = logging.getLogger("kvits.api")


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.title = title or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = {"type": f"/problems/{problem.code}", "title": problem.title, "status": problem.status,
            "detail": problem.detail, "code": problem.code, "instance": request.url.path, **problem.extra}
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA, headers=problem.headers)


_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited"}


def _message(error: Any) -> str:
    """pydantic's words, except a regular expression nobody should have to read."""
    if error.get("type") == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if "[0-9]{1,12}" in pattern:
            return "must be a plain decimal amount like 12.50 (digits and one point: no sign, exponent, spaces " \
                   "or thousands separators)"
        return "is not in the expected form (see the API description)"
    return str(error.get("msg", ""))


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": _message(e)}
                  for e in exc.errors()[:20]]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request is not valid"
        return problem_response(request, Problem(422, "validation_failed", detail[:1000], errors=errors))

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return problem_response(request, Problem(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(KvitsError)
    def _refused(request: Request, exc: KvitsError) -> JSONResponse:
        return problem_response(request, Problem(422, "refused", str(exc)))

    @app.exception_handler(IntegrityError)
    def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        # two requests made the same thing at once (a customer code, a number): the
        # database kept one; this one changed nothing
        _log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem_response(request, Problem(409, "conflict", "a concurrent request changed the same data; "
                                                 "nothing of this one was stored: read the current state and retry"))

    @app.exception_handler(OperationalError)
    def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        if not is_transient(exc):
            return _internal(request, exc)
        return problem_response(request, Problem(503, "busy", "the database was busy with the same data; nothing of "
                                                 "this request was stored: retry", headers={"Retry-After": "1"}))

    @app.exception_handler(Exception)
    def _internal(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(request, Problem(500, "internal_error", "an internal error; it has been logged"))
