"""One run at a time of each scheduled job, across processes and hosts: a lease row in
the database (every deployment has one; Redis is optional). Two beats sending the same
job by mistake, or a beat and an operator's command, make one run and one "skipped".

The lease lasts `seconds` in case its holder dies; a run gives it back when it ends.
Jobs stay idempotent on their own: the lease saves work and keeps logs and webhooks
single, it is not what keeps money right."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import changed, transaction, utcnow
from core.models import JobLease


def _holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take(factory: sessionmaker[Session], name: str, seconds: float, holder: str,  # float-ok: seconds
         now: Callable[[], datetime] = utcnow) -> bool:
    """Take lease `name` for `holder` unless someone holds it and it has not run out."""
    moment = now()
    until = moment + timedelta(seconds=seconds)
    with transaction(factory) as session:  # an expired lease changes hands in one conditional update
        taken = changed(session, update(JobLease).where(JobLease.name == name, JobLease.until <= moment)
                        .values(holder=holder, until=until))
        if taken:
            return True
    try:
        with transaction(factory) as session:
            session.add(JobLease(name=name, holder=holder, until=until))
        return True
    except IntegrityError:  # it exists and is held
        return False


def give_back(factory: sessionmaker[Session], name: str, holder: str) -> None:
    with transaction(factory) as session:
        session.execute(delete(JobLease).where(JobLease.name == name, JobLease.holder == holder))


@contextmanager
def lease(factory: sessionmaker[Session], name: str, seconds: float) -> Iterator[bool]:  # float-ok: seconds
    """`with lease(f, "job", 600) as mine:` run the job only when `mine`."""
    holder = _holder()
    mine = take(factory, name, seconds, holder)
    try:
        yield mine
    finally:
        if mine:
            give_back(factory, name, holder)
