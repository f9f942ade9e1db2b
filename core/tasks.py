"""Background work: Celery when a broker is configured (KVITS_BROKER_URL), otherwise in
this process - at once, or after a delay on a timer thread (Celery's eager mode would
ignore the delay and run a polling loop back to back)."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from celery import Celery, Task

from core.settings import get_settings


# where the tasks live (a worker imports them all)
TASK_MODULES = ("api.tasks", "psd2.tasks", "paylinks.tasks", "reconciliation.tasks")
# what `kvits beat` sends, each minute: retries and follow-ups must not depend on a
# request coming along (each task is idempotent and safe when two run at once)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "deliver webhooks that are due": {"task": "webhooks.pump", "schedule": 60.0},  # float-ok: seconds
    "poll payment attempts that are due": {"task": "psd2.poll_due", "schedule": 60.0},  # float-ok: seconds
    "follow pay link payments in flight": {"task": "paylinks.follow_due", "schedule": 60.0},  # float-ok: seconds
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
    return app


def enqueue(task: Task, *args: Any, countdown: float = 0.0, background: bool = False) -> None:  # float-ok: seconds
    """Run `task` with a broker, else here: now, after `countdown` on a timer, or (with
    `background`) at once on a thread so the caller does not wait for it."""
    if get_settings().broker_url:
        task.apply_async(args=args, countdown=countdown)
    elif countdown <= 0 and not background:
        task.apply(args=args)
    elif countdown <= 0:
        threading.Thread(target=task.apply, kwargs={"args": args}, daemon=True, name=f"kvits-{task.name}").start()
    else:
        timer = threading.Timer(countdown, task.apply, kwargs={"args": args})
        timer.daemon = True
        timer.start()
