"""Logs an operator can follow: every line carries the request id it was written for,
in the API and in the Celery task the request started; KVITS_LOG_FORMAT=json writes one
JSON object per line (for a log shipper), `text` (the default) one readable line.

The request id is the caller's `X-Request-ID` when it is a sane token, else a new one;
it is echoed in the response, and travels into tasks in a message header."""

from __future__ import annotations

import logging
import logging.config
import re
import uuid
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("kvits_request_id", default=None)
HEADER = "kvits_request_id"  # the Celery message header that carries it
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a short token (it ends up in logs: no spaces, no
    newlines, no markup), else a fresh one."""
    if value and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Adds `request_id` (and, in a worker, `task` and `task_id`) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # (uvicorn's, with terminal colours)
        record.request_id = REQUEST_ID.get() or "-"
        if not hasattr(record, "task"):
            task = _current_task()
            record.task, record.task_id = (task.name, task.request.id) if task is not None else ("-", "-")
        return True


def _current_task() -> Any:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a dependency
        return None
    task = current_task
    return task if task and getattr(task.request, "id", None) else None


_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON = "%(levelname)s %(name)s %(message)s %(request_id)s %(task)s %(task_id)s"


def log_config(fmt: str = "text", level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for kvits, uvicorn and Celery alike (uvicorn's own
    access log is off: `kvits.access` logs each request by its route, never a pay
    link's token)."""
    formatter: dict[str, Any] = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "format": _JSON, "timestamp": "time",
         "rename_fields": {"levelname": "level", "name": "logger"}}
        if fmt == "json" else {"format": _TEXT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"kvits": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "kvits", "filters": ["context"],
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"handlers": [], "propagate": True}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task")},
    }


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    logging.config.dictConfig(log_config(fmt, level))


def carry_request_id_into_tasks() -> None:
    """Connect Celery's signals: a task sent while a request is handled carries its id,
    and the worker sets it while the task runs (idempotent)."""
    from celery import signals

    def publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        rid = REQUEST_ID.get()
        if headers is not None and rid and HEADER not in headers:
            headers[HEADER] = rid

    def prerun(task: Any = None, **_: Any) -> None:
        if task is None:
            return
        rid = getattr(task.request, HEADER, None) or (getattr(task.request, "headers", None) or {}).get(HEADER)
        if rid:  # (a task run in this process, without a broker, already has the caller's)
            task.request.kvits_token = REQUEST_ID.set(request_id_from(str(rid)))

    def postrun(task: Any = None, **_: Any) -> None:
        token = getattr(task.request, "kvits_token", None) if task is not None else None
        if token is not None:
            REQUEST_ID.reset(token)
            task.request.kvits_token = None

    signals.before_task_publish.connect(publish, weak=False, dispatch_uid="kvits-request-id-publish")
    signals.task_prerun.connect(prerun, weak=False, dispatch_uid="kvits-request-id-prerun")
    signals.task_postrun.connect(postrun, weak=False, dispatch_uid="kvits-request-id-postrun")
