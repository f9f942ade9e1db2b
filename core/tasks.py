"""Background work: Celery when a broker is configured (KVITS_BROKER_URL), otherwise in
this process - at once, or after a delay on a timer thread (Celery's eager mode would
ignore the delay and run a polling loop back to back)."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from celery import Celery, Task

from core.metrics import watch_tasks
from core.observe import carry_request_id_into_tasks
from core.settings import get_settings


# where the tasks live (a worker imports them all)
TASK_MODULES = ("api.tasks", "invoices.tasks", "psd2.tasks", "paylinks.tasks", "reconciliation.tasks")
# what `kvits beat` sends, each minute (the daily jobs each hour): retries and follow-ups must not depend on a
# request coming along (each task is idempotent and safe when two run at once)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "deliver webhooks that are due": {"task": "webhooks.pump", "schedule": 60.0},  # float-ok: seconds
    "poll payment attempts that are due": {"task": "psd2.poll_due", "schedule": 60.0},  # float-ok: seconds
    "follow pay link payments in flight": {"task": "paylinks.follow_due", "schedule": 60.0},  # float-ok: seconds
    "resume imports whose worker or message was lost": {"task": "statements.resume_jobs",
                                                          "schedule": 60.0},  # float-ok: seconds
    # daily work, sent hourly: the day turns in the merchants' time zone, a run under a
    # lease reports only what is new
    "report invoices that became overdue": {"task": "invoices.mark_overdue", "schedule": 3600.0},  # float-ok: seconds
    "fetch the bank feeds that are due": {"task": "statements.fetch_feeds", "schedule": 3600.0},  # float-ok: seconds
}


@lru_cache(maxsize=1)
def celery_app() -> Celery:
    settings = get_settings()
    app = Celery("kvits", broker=settings.broker_url or "memory://", backend=None, include=list(TASK_MODULES))
    app.conf.update(
        beat_schedule=BEAT_SCHEDULE,
        task_always_eager=not settings.broker_url,
        task_acks_late=True,  # a worker that dies mid-task leaves it to another
        task_reject_on_worker_lost=True,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
    )
    carry_request_id_into_tasks()
    watch_tasks()
    return app


def enqueue(task: Task, *args: Any, countdown: float = 0.0, background: bool = False) -> None:  # float-ok: seconds
    """Run `task` with a broker, else here: now, after `countdown` on a timer, or (with
    `background`) at once on a thread so the caller does not wait for it."""
    if get_settings().broker_url:
        task.apply_async(args=args, countdown=countdown)
    elif countdown <= 0 and not background:
        task.apply(args=args)
    elif countdown <= 0:
        # (in the caller's context: its request id goes with the work)
        threading.Thread(target=contextvars.copy_context().run, args=(task.apply,), kwargs={"args": args},
                         daemon=True, name=f"kvits-{task.name}").start()
    else:
        timer = threading.Timer(countdown, contextvars.copy_context().run, args=(task.apply,), kwargs={"args": args})
        timer.daemon = True
        timer.start()


def every(seconds: float, job: Callable[[], object], name: str) -> threading.Thread:  # float-ok: seconds
    """Without a broker there is no beat: `kvits serve` runs the scheduled jobs itself on
    a thread (at once, then every `seconds`); a failing run is logged and the next one
    tries again. The jobs take their leases, so several API processes do no harm."""
    log = logging.getLogger("kvits.schedule")

    def loop() -> None:
        stop = threading.Event()
        while True:
            try:
                job()
            except Exception:  # noqa: BLE001  (the next run tries again)
                log.exception("scheduled job %s failed", name)
            stop.wait(seconds)

    thread = threading.Thread(target=loop, daemon=True, name=f"kvits-every-{name}")
    thread.start()
    return thread
