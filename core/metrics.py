"""Prometheus metrics (`GET /metrics` on the API, `kvits worker --metrics-port` on workers).

Two kinds:
- what a process counts as it works: HTTP requests and their latency by route (the
  route's template, never a pay link's token), Celery tasks by name and outcome with
  their duration; with several processes (`kvits serve --workers N`, a prefork worker)
  they share PROMETHEUS_MULTIPROC_DIR, which `kvits serve` and `kvits worker` set up;
- what the database knows, read when scraped, so every API process reports the same:
  statement imports by state, bank transactions by match state, matches applied by how
  (auto, review, manual), pay link payments by method and state, refunds by state,
  webhook deliveries by state. Totals over all merchants: this is the operator's view,
  served to loopback callers or with KVITS_METRICS_TOKEN.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

REQUESTS = Counter("kvits_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("kvits_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
TASKS = Counter("kvits_tasks", "Background tasks run, by outcome", ["task", "outcome"])
TASK_TIME = Histogram("kvits_task_duration_seconds", "Time a background task ran", ["task"],
                      buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0))


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class DatabaseCollector(Collector):
    """Counts read from the database at each scrape."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("kvits_metrics_database_up", "Whether the database answered this scrape")
        try:
            with self.factory() as session:
                families = list(self._read(session))
        except Exception:  # noqa: BLE001  (a scrape must answer even when the database does not)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    @staticmethod
    def _read(session: Session) -> Iterator[Metric]:
        from api.models import WebhookDelivery
        from paylinks.models import PayerPayment, Refund
        from reconciliation.models import BankTransaction, ImportJob, Payment

        def grouped(name: str, doc: str, labels: list[str], *columns: Any, counter: bool = False) -> Metric:
            family: Any = (CounterMetricFamily if counter else GaugeMetricFamily)(name, doc, labels=labels)
            for *values, n in session.execute(select(*columns, func.count()).group_by(*columns)):
                family.add_metric([str(v) for v in values], n)
            return family  # type: ignore[no-any-return]

        yield grouped("kvits_statement_imports", "Statement import jobs by state", ["state"], ImportJob.state)
        yield grouped("kvits_bank_transactions", "Stored bank transactions by match state", ["match_status"],
                      BankTransaction.match_status)
        family = CounterMetricFamily("kvits_matches_applied", "Payments applied to invoices from statements",
                                     labels=["source"])
        for source, n in session.execute(select(Payment.source, func.count()).where(Payment.kind == "payment")
                                         .group_by(Payment.source)):
            family.add_metric([source], n)
        yield family
        yield grouped("kvits_payments", "Pay link payments by method and state", ["method", "state"],
                      PayerPayment.method, PayerPayment.state)
        yield grouped("kvits_refunds", "Refunds by method and state", ["method", "state"], Refund.method, Refund.state)
        yield grouped("kvits_webhook_deliveries", "Webhook deliveries by state", ["state"], WebhookDelivery.state)


def exposition(database: CollectorRegistry) -> bytes:
    """This process's (or, in multiprocess mode, every process's) counters, then the
    database's counts."""
    if multiprocess_dir():
        live = CollectorRegistry()
        multiprocess.MultiProcessCollector(live)  # type: ignore[no-untyped-call]
    else:
        live = REGISTRY
    return generate_latest(live) + generate_latest(database)


def database_registry(factory: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(factory))
    return registry


_STARTED = "kvits_started"


def watch_tasks() -> None:
    """Count every Celery task (worker or in process) by name and outcome (idempotent)."""
    from celery import signals

    def prerun(task: Any = None, **_: Any) -> None:
        if task is not None:
            setattr(task.request, _STARTED, time.perf_counter())

    def postrun(task: Any = None, state: str | None = None, **_: Any) -> None:
        if task is None:
            return
        started = getattr(task.request, _STARTED, None)
        TASKS.labels(task.name, (state or "unknown").lower()).inc()
        if started is not None:
            TASK_TIME.labels(task.name).observe(time.perf_counter() - started)

    signals.task_prerun.connect(prerun, weak=False, dispatch_uid="kvits-metrics-prerun")
    signals.task_postrun.connect(postrun, weak=False, dispatch_uid="kvits-metrics-postrun")
