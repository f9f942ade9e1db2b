"""Operating kvits: the daily overdue job under its lease, request ids in logs and
tasks, and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import threading
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.leases import give_back, lease, take
from core.models import OutboxEvent
from core.observe import REQUEST_ID, ContextFilter, log_config, request_id_from
from core.settings import Settings
from invoices import service as invoices
from invoices.arithmetic import LineInput
from invoices.models import Invoice, InvoiceEvent
from core.clock import today_in
from invoices.overdue import mark_overdue, run_overdue_job
from tests import helpers

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient


def _books(factory: sessionmaker[Session]) -> dict[str, int]:
    """Two merchants' invoices due on different days, one paid, one cancelled-to-be."""
    with transaction(factory) as s:
        m1, m2 = helpers.merchant(s, "m1"), helpers.merchant(s, "m2")
        c1, c2 = helpers.customer(s, m1, "SIA Koks"), helpers.customer(s, m2, "UAB Medis")
        made = {
            "late": helpers.invoice(s, m1, "L-1", c1, "100.00", due=date(2026, 11, 30)),
            "part": helpers.invoice(s, m1, "L-2", c1, "100.00", already_paid="40.00", due=date(2026, 12, 1)),
            "today": helpers.invoice(s, m1, "L-3", c1, "50.00", due=date(2026, 12, 4)),
            "paid": helpers.invoice(s, m1, "L-4", c1, "50.00", already_paid="50.00", due=date(2026, 11, 1)),
            "other": helpers.invoice(s, m2, "L-1", c2, "70.00", due=date(2026, 12, 3)),
        }
        draft = invoices.create_draft(s, m1, invoices.InvoiceInput(
            customer_code=c1, currency="EUR", issue_date=date(2026, 10, 1), due_date=date(2026, 10, 2),
            lines=(LineInput(description="Draft", quantity=Decimal(1), unit_price=Decimal(5)),)))  # never overdue
        return {k: v.id for k, v in made.items()} | {"draft": draft.id, "m1": m1, "m2": m2}


def _overdue_events(factory: sessionmaker[Session]) -> list[tuple[int, dict[str, object]]]:
    with transaction(factory) as s:
        return [(e.merchant_id, e.data) for e in s.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "invoice.overdue").order_by(OutboxEvent.id))]


def test_the_overdue_job_reports_each_late_invoice_once(factory: sessionmaker[Session]) -> None:
    ids = _books(factory)
    assert mark_overdue(factory, date(2026, 12, 4)) == 3
    assert mark_overdue(factory, date(2026, 12, 4)) == 0  # a rerun the same day
    assert mark_overdue(factory, date(2026, 12, 5)) == 1  # the next day: L-3, due on the 4th
    events = _overdue_events(factory)
    assert [(m, d["number"], d["days_overdue"], d["due"]) for m, d in events] == [
        (ids["m1"], "L-1", 4, "100.00"), (ids["m1"], "L-2", 3, "60.00"), (ids["m2"], "L-1", 1, "70.00"),
        (ids["m1"], "L-3", 1, "50.00")]
    assert events[0][1] == {"invoice": f"inv_{ids['late']}", "number": "L-1", "due_date": "2026-11-30",
                            "days_overdue": 4, "due": "100.00", "total": "100.00", "currency": "EUR"}
    with transaction(factory) as s:
        late = s.get(Invoice, ids["late"])
        assert late is not None and late.overdue_notified_on == date(2026, 12, 4)
        timeline = s.scalars(select(InvoiceEvent.detail).where(InvoiceEvent.invoice_id == ids["late"],
                                                               InvoiceEvent.kind == "overdue")).all()
        assert timeline == ["4 days past due (2026-11-30); 100.00 EUR open"]
        assert s.get(Invoice, ids["paid"]).overdue_notified_on is None  # type: ignore[union-attr]
        assert s.get(Invoice, ids["draft"]).overdue_notified_on is None  # type: ignore[union-attr]


def test_overdue_runs_at_once_report_once(factory: sessionmaker[Session]) -> None:
    """Two beats by mistake, or a beat and `kvits invoices report-overdue`: on PostgreSQL
    these are real concurrent transactions; every invoice is reported once."""
    with transaction(factory) as s:
        mid = helpers.merchant(s)
        code = helpers.customer(s, mid, "SIA Daudz")
        for n in range(40):
            helpers.invoice(s, mid, f"D-{n}", code, "10.00", due=date(2026, 11, 1))
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(mark_overdue(factory, date(2026, 12, 4)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # (SQLite may refuse a writer that read an old snapshot: that run reports nothing)
    assert sum(results) == 40 and len(_overdue_events(factory)) == 40
    assert all("locked" in str(e) or "could not serialize" in str(e) for e in errors), errors


def test_a_job_lease_is_held_once_and_expires(factory: sessionmaker[Session]) -> None:
    clock = [datetime(2026, 12, 4, 12, 0, tzinfo=UTC)]

    def now() -> datetime:
        return clock[0]

    assert take(factory, "job", 60, "a", now=now)
    assert not take(factory, "job", 60, "b", now=now)
    clock[0] += timedelta(seconds=61)  # a's process died: its lease runs out
    assert take(factory, "job", 60, "b", now=now)
    give_back(factory, "job", "a")  # a coming back late gives back nothing of b's
    assert not take(factory, "job", 60, "c", now=now)
    give_back(factory, "job", "b")
    assert take(factory, "job", 60, "c", now=now)
    give_back(factory, "job", "c")
    with lease(factory, "daily", 3600) as mine:
        assert mine
        assert run_overdue_job(factory, "Europe/Riga") is not None  # another job's lease
        with lease(factory, "daily", 3600) as second:
            assert not second
    with lease(factory, "invoices.mark_overdue", 3600) as mine:
        assert mine and run_overdue_job(factory, "Europe/Riga") is None


def test_the_merchants_day_turns_at_their_midnight() -> None:
    assert today_in("Europe/Riga", datetime(2026, 12, 4, 21, 59, tzinfo=UTC)) == date(2026, 12, 4)
    assert today_in("Europe/Riga", datetime(2026, 12, 4, 22, 0, tzinfo=UTC)) == date(2026, 12, 5)
    assert today_in("Europe/Riga", datetime(2026, 7, 4, 21, 0, tzinfo=UTC)) == date(2026, 7, 5)  # summer time
    with pytest.raises(ValueError, match="time zone"):
        Settings(timezone="Mars/Olympus")


def test_request_ids_are_echoed_and_logged(factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(Settings(secret_key="r" * 40), factory))
    with caplog.at_level(logging.INFO, logger="kvits.access"):
        answer = client.get("/health", headers={"X-Request-ID": "lb-7f3a.42"})
        assert answer.headers["x-request-id"] == "lb-7f3a.42"
        made = client.get("/health", headers={"X-Request-ID": "evil\r\nSet-Cookie: x"}).headers["x-request-id"]
        assert len(made) == 32 and made.isalnum()
        missing = client.get("/pay/" + "A" * 43)  # a pay link is logged by its route, never its token
    assert missing.status_code == 404 and missing.headers["x-request-id"]
    lines = [r for r in caplog.records if r.name == "kvits.access"]
    assert [(getattr(r, "route"), getattr(r, "status")) for r in lines] == [
        ("/health", 200), ("/health", 200), ("/pay/{token}", 404)]
    assert "A" * 43 not in caplog.text
    record = lines[0]
    ContextFilter().filter(record)  # (the filter runs in the handler; the record was made inside the request)
    assert request_id_from("ok-id") == "ok-id" and request_id_from("x" * 65) != "x" * 65


def test_json_log_lines_carry_the_request_id() -> None:
    formatter = logging.config.DictConfigurator(log_config("json")).configure_formatter(  # type: ignore[attr-defined]
        log_config("json")["formatters"]["kvits"])
    token = REQUEST_ID.set("req-1")
    try:
        record = logging.LogRecord("kvits.test", logging.INFO, __file__, 1, "paid %s", ("INV-1",), None)
        ContextFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    line = json.loads(formatter.format(record))
    assert line["message"] == "paid INV-1" and line["request_id"] == "req-1"
    assert line["level"] == "INFO" and line["logger"] == "kvits.test" and line["task"] == "-"


def test_metrics(factory: sessionmaker[Session]) -> None:
    open_client = TestClient(create_app(Settings(secret_key="r" * 40), factory))
    refused = open_client.get("/metrics")  # the test client is not on loopback
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    client = TestClient(create_app(Settings(secret_key="r" * 40, metrics_token="s3cret"), factory))
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    client.get("/health")
    client.get("/pay/" + "B" * 43)
    text = client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).text
    assert 'kvits_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'kvits_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/pay/{token}"}' in text
    assert "B" * 43 not in text
    assert "kvits_metrics_database_up 1.0" in text
    here = TestClient(create_app(Settings(secret_key="r" * 40), factory), client=("127.0.0.1", 50000))
    assert here.get("/metrics").status_code == 200  # this host's scraper
    for proxied in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
                    {"X-Real-IP": "203.0.113.9"}):  # a payer through the proxy in front
        assert here.get("/metrics", headers=proxied).status_code == 403, proxied
    for family in ("kvits_statement_imports", "kvits_bank_transactions", "kvits_matches_applied_total",
                   "kvits_payments", "kvits_refunds", "kvits_webhook_deliveries"):
        assert f"# TYPE {family.removesuffix('_total')}" in text, family


def test_the_overdue_job_is_never_run_for_a_day_to_come(sqlite_url: str) -> None:
    from tests.e2e.test_cli import kvits

    future = kvits("invoices", "report-overdue", "--today", "2999-01-01", db=sqlite_url)
    assert future.returncode == 1 and "is in the future" in future.stderr
    done = kvits("invoices", "report-overdue", "--today", "2026-01-01", db=sqlite_url)
    assert done.returncode == 0 and "0 invoices newly overdue reported" in done.stdout
