"""Polling payment status in the background: one poll per task run, then the next run
is scheduled by `psd2.attempts.next_poll` until the payment is final or the deadline."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache

from celery import Task

from core.db import make_engine, session_factory
from core.settings import get_settings
from core.tasks import celery_app, enqueue
from psd2.attempts import FINAL_STATES, Attempts, next_poll
from psd2.client import Psd2Client
from psd2.registry import Registry

app = celery_app()
_log = logging.getLogger("kvits.psd2")


@lru_cache(maxsize=1)
def _attempts() -> Attempts:
    settings = get_settings()
    registry = Registry.from_settings(settings.sandbox_url, settings.psd2_banks_file)
    factory = session_factory(make_engine(settings.resolved_database_url()))
    return Attempts(factory, lambda bank_id: Psd2Client(registry.get(bank_id)))


def poll_once(attempts: Attempts, attempt_id: int) -> timedelta | None:
    """Poll one attempt; return when to poll it again (None: done)."""
    view = attempts.poll(attempt_id)
    if view.state in FINAL_STATES:
        return None
    with attempts.factory() as session:
        from psd2.models import PaymentAttempt

        row = session.get(PaymentAttempt, attempt_id)
        if row is None:
            return None
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=attempts.now().tzinfo)
        return next_poll(view.state, row.polls, attempts.now() - created)


@app.task(name="psd2.poll_attempt", bind=True, max_retries=None)  # type: ignore[untyped-decorator]
def poll_attempt(self: Task, attempt_id: int) -> str:
    try:
        delay = poll_once(_attempts(), attempt_id)
    except Exception:
        # a locked database or a bug must not end the chain: try again in a minute
        _log.exception("polling attempt %s failed", attempt_id)
        enqueue(poll_attempt, attempt_id, countdown=60.0)
        return "retrying"
    if delay is not None:
        enqueue(poll_attempt, attempt_id, countdown=delay.total_seconds())
    return _attempts().view(attempt_id).state


@app.task(name="psd2.poll_due")  # type: ignore[untyped-decorator]
def poll_due() -> int:
    """Poll every attempt whose poll is due: for a scheduler (Celery beat) to run every
    minute, so that polling survives restarts and lost timers."""
    attempts = _attempts()
    due = attempts.due()
    for attempt_id in due:
        try:
            attempts.poll(attempt_id)
        except Exception:
            _log.exception("polling attempt %s failed", attempt_id)
    return len(due)


def start_polling(attempt_id: int, first_delay: float = 2.0) -> None:  # float-ok: seconds
    enqueue(poll_attempt, attempt_id, countdown=first_delay)
