"""What an attacker (or a broken client) sends: odd ids and cursors, dates at the ends
of the calendar, NUL characters, confused credentials, revoked clients, races. Each gets
a clear problem, never a 500, and changes nothing."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.clients import revoke
from core.db import transaction
from core.tenancy import get_or_create_merchant
from invoices.models import Customer
from tests.api.test_http_api import Api, api, new_customer, problem, token  # noqa: F401


@pytest.mark.parametrize("path", ["/v1/customers/cus_١٢", "/v1/customers/cus_²", "/v1/customers/cus_1%0A",
                                  "/v1/invoices/inv_9223372036854775808", "/v1/invoices/inv_" + "9" * 40])
def test_ids_that_only_look_like_numbers_are_not_found(api: Api, path: str) -> None:
    problem(api.http.get(path, headers=api.h()), 404, "not_found")


@pytest.mark.parametrize("after", ["after:" + "9" * 40, "after:١", "after:-1", "after:1e9", "\x00"])
def test_forged_cursors_are_refused(api: Api, after: str) -> None:
    cursor = base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")
    problem(api.http.get("/v1/customers", headers=api.h(), params={"cursor": cursor}), 400, "invalid_cursor")


@pytest.mark.parametrize("issue, due", [("9999-12-31", None), ("0001-01-01", None), ("2026-12-01", "9999-12-31")])
def test_dates_at_the_ends_of_the_calendar_are_refused(api: Api, issue: str, due: str | None) -> None:
    customer = new_customer(api)
    body = {"customer": customer["id"], "currency": "EUR", "issue_date": issue,
            "lines": [{"description": "x", "quantity": "1", "unit_price": "1.00"}]}
    if due:
        body["due_date"] = due
    problem(api.http.post("/v1/invoices", headers=api.h(), json=body), 422, "validation_failed")


def test_nul_characters_are_refused_everywhere(api: Api, factory: sessionmaker[Session]) -> None:
    body = problem(api.http.post("/v1/customers", headers=api.h(), json={"code": "C\x00", "name": "SIA X"}),
                   400, "bad_request")
    assert "NUL" in body["detail"]
    problem(api.http.get("/v1/invoices", headers=api.h(), params={"status": "issued\x00"}), 400, "bad_request")
    problem(api.http.get("/v1/customers/cus_1%00", headers=api.h()), 400, "bad_request")
    r = api.http.post("/oauth/token", content=b"grant_type=client_credentials&client_id=cli%00x&client_secret=y",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    r = api.http.post("/login", data={"email": "a\x00@example.com", "password": "x" * 12})
    assert r.status_code == 400
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
    # a percent sign followed by zeros is ordinary text in JSON
    made = api.http.post("/v1/customers", headers=api.h(), json={"code": "P1", "name": "Discount 100%00 SIA"})
    assert made.status_code == 201, made.text


def test_credentials_sent_two_ways_at_once_are_refused(api: Api) -> None:
    client_id, secret = api.clients["a"]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    r = api.http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                            "client_secret": "anything"}, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


@pytest.mark.parametrize("header", ["Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "Basic %%%",
                                    "Basic " + base64.b64encode(b"no-colon").decode(), "Basic "])
def test_unreadable_basic_credentials_are_refused(api: Api, header: str) -> None:
    r = api.http.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header})
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_client", "invalid_request")


def test_a_token_form_larger_than_the_limit_is_refused_as_it_streams(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&client_id="
        for _ in range(20):
            yield b"x" * 65536

    r = api.http.post("/oauth/token", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_a_revoked_client_loses_its_tokens(api: Api, factory: sessionmaker[Session]) -> None:
    api.http.app.state.active_clients.ttl = 0
    assert api.http.get("/v1/customers", headers=api.h()).status_code == 200
    with transaction(factory) as s:
        revoke(s, get_or_create_merchant(s, "shop-a").id, api.clients["a"][0])
    problem(api.http.get("/v1/customers", headers=api.h()), 401, "invalid_token")
    assert token(api.http, *api.clients["a"]).json()["error"] == "invalid_client"
    assert api.http.get("/v1/customers", headers=api.h("b")).status_code == 200  # others are untouched


def test_the_same_customer_code_twice_at_once_is_one_customer(api: Api, factory: sessionmaker[Session]) -> None:
    results: list[Any] = []
    gate = threading.Barrier(4)

    def create() -> None:
        gate.wait()
        results.append(api.http.post("/v1/customers", headers=api.h(), json={"code": "SAME", "name": "SIA Same"}))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1 and all(s in (201, 409, 422) for s in statuses), [r.text for r in results]
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.code == "SAME")) == 1


def test_the_same_statement_uploaded_several_times_at_once_is_stored_once(api: Api,
                                                                         factory: sessionmaker[Session]) -> None:
    from reconciliation.models import BankTransaction, Payment
    from tests.api.test_http_api import demo_data, finished, upload
    from tests.conftest import REPO_ROOT

    demo_data(factory, "shop-a")
    content = (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()
    gate = threading.Barrier(4)
    jobs: list[str] = []

    def send() -> None:
        gate.wait()
        r = upload(api, content)
        assert r.status_code == 202, r.text
        jobs.append(r.json()["id"])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [finished(api, job) for job in jobs]
    assert [r["state"] for r in results] == ["done"] * 4, [r.get("error") for r in results]
    new = sum(s["new_transactions"] for r in results for s in r["result"]["statements"])
    with transaction(factory) as s:
        stored = s.scalar(select(func.count()).select_from(BankTransaction))
        paid = s.scalar(select(func.count()).select_from(Payment))
        twice = s.scalar(select(func.count()).select_from(
            select(Payment.invoice_id).where(Payment.kind == "payment").group_by(Payment.invoice_id, Payment.bank_transaction_id)
            .having(func.count() > 1).subquery()))
    assert stored == new and stored and paid and twice == 0


def test_a_burst_of_uploads_is_answered_at_once_and_imported_in_turn(api: Api, factory: sessionmaker[Session]) -> None:
    """Forty uploads of one merchant at once, without a broker: every request answers 202
    quickly and every file is imported. (A thread per import, each holding a database
    connection while waiting its turn, used to empty the pool and stall the requests.)"""
    from reconciliation.models import BankTransaction
    from tests.api.test_http_api import finished, upload
    from tests.helpers import Pay, statement_xml

    count, entries = 40, 100
    gate = threading.Barrier(count)
    answers: list[tuple[int, float, str]] = []  # float-ok: seconds

    def send(n: int) -> None:
        content = statement_xml([Pay("10.00", f"Payer {n}", text=f"burst {n}", ref=f"B-{n}-{k}")
                                 for k in range(entries)], stmt_id=f"ST-B{n}", msg_id=f"M-B{n}")
        gate.wait()
        started = time.perf_counter()
        r = upload(api, content, name=f"burst-{n}.xml")
        answers.append((r.status_code, time.perf_counter() - started, r.json().get("id", r.text)))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(a[0] for a in answers) == [202] * count, answers
    assert max(a[1] for a in answers) < 10, sorted(a[1] for a in answers)[-3:]
    results = [finished(api, a[2]) for a in answers]
    assert [r["state"] for r in results] == ["done"] * count, [r.get("error") for r in results]
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(BankTransaction)) == count * entries
