"""The HTTP API's first slice: client-credentials tokens, scopes, customers and
invoices, tenants that never see each other, and problem details for every error."""

from __future__ import annotations

import base64
import time
from pathlib import Path
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.clients import create_client
from api.security import Principal, issue_token, signing_key
from core.db import transaction
from core.settings import Settings
from core.tenancy import get_or_create_merchant

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

SECRET = "k" * 48


@dataclass
class Api:
    http: Any
    tokens: dict[str, str]  # "a", "b": all scopes of merchant a / b; "a-read": invoices:read only
    clients: dict[str, tuple[str, str]]

    def h(self, who: str = "a") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def token(http: Any, client_id: str, secret: str, **extra: str) -> Any:
    return http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret, **extra})


@pytest.fixture
def api(factory: sessionmaker[Session], tmp_path: Path) -> Iterator[Api]:
    yield make_api(factory, tmp_path)


def make_api(factory: sessionmaker[Session], tmp_path: Path, **settings: Any) -> Api:
    clients = {}
    with transaction(factory) as s:
        a = get_or_create_merchant(s, "shop-a").id
        b = get_or_create_merchant(s, "shop-b").id
        for key, merchant, scopes in (("a", a, []), ("b", b, []), ("a-read", a, ["invoices:read"])):
            made = create_client(s, merchant, f"client {key}", scopes)
            clients[key] = (made.client_id, made.secret)
    app = create_app(Settings(secret_key=SECRET, upload_dir=str(tmp_path / "uploads"), **settings), factory)
    http = TestClient(app)
    tokens = {k: token(http, *v).json()["access_token"] for k, v in clients.items()}
    return Api(http, tokens, clients)


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status and body["type"] == f"/problems/{code}"
    return body


def new_customer(api: Api, who: str = "a", code: str = "C1") -> dict[str, Any]:
    r = api.http.post("/v1/customers", headers=api.h(who), json={"code": code, "name": f"SIA {code}", "country": "LV",
                                                                  "language": "lv", "ibans": ["LV80BANK0000435195001"]})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def new_invoice(api: Api, customer: str, who: str = "a", due: str = "2099-12-15") -> dict[str, Any]:
    r = api.http.post("/v1/invoices", headers=api.h(who), json={
        "customer": customer, "currency": "EUR", "issue_date": "2026-12-01", "due_date": due,
        "lines": [{"description": "Consulting", "quantity": "2", "unit_price": "50.00", "vat_rate": "21"}]})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def test_token_with_client_credentials(api: Api) -> None:
    client_id, secret = api.clients["a"]
    r = token(api.http, client_id, secret)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert set(body["scope"].split()) == {"invoices:read", "invoices:write", "payments:read", "payments:write",
                                          "statements:write", "reconciliation:read", "reconciliation:write",
                                          "webhooks:write"}
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    r = api.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "invoices:read"},
                      headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.json()["scope"] == "invoices:read"


def test_tokens_are_refused_when_they_should_be(api: Api) -> None:
    client_id, secret = api.clients["a"]
    assert token(api.http, client_id, "wrong").json()["error"] == "invalid_client"
    assert token(api.http, "cli_nope", secret).json()["error"] == "invalid_client"
    assert token(api.http, client_id, secret, grant_type="password").json()["error"] == "unsupported_grant_type"
    read_id, read_secret = api.clients["a-read"]
    assert token(api.http, read_id, read_secret, scope="invoices:write").json()["error"] == "invalid_scope"
    problem(api.http.get("/v1/customers"), 401, "unauthenticated")
    problem(api.http.get("/v1/customers", headers={"Authorization": "Bearer abc.def.ghi"}), 401, "invalid_token")
    key = signing_key(Settings(secret_key=SECRET))
    expired = issue_token(key, Principal(1, client_id, frozenset({"invoices:read"})), 900, now=time.time() - 1000)
    problem(api.http.get("/v1/customers", headers={"Authorization": f"Bearer {expired}"}), 401, "invalid_token")
    forged = issue_token(signing_key(Settings(secret_key="x" * 48)),
                         Principal(1, client_id, frozenset({"invoices:read"})), 900)
    problem(api.http.get("/v1/customers", headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token")


def test_scopes_are_checked(api: Api) -> None:
    problem(api.http.post("/v1/customers", headers=api.h("a-read"), json={"code": "X", "name": "X"}),
            403, "insufficient_scope")
    assert api.http.get("/v1/customers", headers=api.h("a-read")).status_code == 200


def test_customers_create_get_list_with_cursors(api: Api) -> None:
    made = [new_customer(api, code=f"C{n}") for n in range(5)]
    assert made[0]["id"].startswith("cus_") and made[0]["ibans"] == ["LV80BANK0000435195001"]
    assert api.http.get(f"/v1/customers/{made[2]['id']}", headers=api.h()).json() == made[2]
    seen, cursor = [], None
    while True:
        page = api.http.get("/v1/customers", headers=api.h(), params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in made]
    problem(api.http.post("/v1/customers", headers=api.h(), json={"code": "C1", "name": "again"}), 409, "conflict")
    problem(api.http.get("/v1/customers", headers=api.h(), params={"cursor": "garbage!"}), 400, "invalid_cursor")


def test_invoice_draft_approve_cancel(api: Api) -> None:
    customer = new_customer(api)
    draft = new_invoice(api, customer["id"])
    assert draft["status"] == "draft" and draft["number"] is None and draft["total"] == "121.00"
    approved = api.http.post(f"/v1/invoices/{draft['id']}/approve", headers=api.h()).json()
    assert approved["status"] == "issued" and approved["number"].startswith("INV-2026-")
    assert approved["rf_reference"].startswith("RF") and approved["open"] == "121.00"
    body = problem(api.http.post(f"/v1/invoices/{draft['id']}/approve", headers=api.h()), 422, "refused")
    assert "issued" in body["detail"]
    cancelled = api.http.post(f"/v1/invoices/{draft['id']}/cancel", headers=api.h()).json()
    assert cancelled["status"] == "cancelled"


def test_invoice_filters(api: Api) -> None:
    customer, other = new_customer(api), new_customer(api, code="C2")
    first = new_invoice(api, customer["id"], due="2026-12-02")
    api.http.post(f"/v1/invoices/{first['id']}/approve", headers=api.h())
    new_invoice(api, other["id"])
    listed = lambda **p: [i["id"] for i in api.http.get("/v1/invoices", headers=api.h(), params=p).json()["data"]]  # noqa: E731
    assert listed(status="issued") == [first["id"]]
    assert listed(customer=other["id"]) != [] and first["id"] not in listed(customer=other["id"])
    assert listed(overdue="true") == [first["id"]]  # due 2026-12-02: these tests run after it
    assert len(listed()) == 2 and listed(issued_from="2027-01-01") == []
    problem(api.http.get("/v1/invoices", headers=api.h(), params={"status": "lost"}), 422, "validation_failed")


def test_tenants_never_see_each_other(api: Api) -> None:
    customer = new_customer(api)
    invoice = new_invoice(api, customer["id"])
    for method, path in (("GET", f"/v1/customers/{customer['id']}"), ("GET", f"/v1/invoices/{invoice['id']}"),
                         ("POST", f"/v1/invoices/{invoice['id']}/approve"),
                         ("POST", f"/v1/invoices/{invoice['id']}/cancel")):
        body = problem(api.http.request(method, path, headers=api.h("b")), 404, "not_found")
        assert "SIA" not in str(body) and "121" not in str(body)
    assert api.http.get("/v1/customers", headers=api.h("b")).json()["data"] == []
    assert api.http.get("/v1/invoices", headers=api.h("b")).json()["data"] == []
    problem(api.http.get("/v1/invoices", headers=api.h("b"), params={"customer": customer["id"]}), 404, "not_found")
    r = api.http.post("/v1/invoices", headers=api.h("b"), json={
        "customer": customer["id"], "currency": "EUR", "issue_date": "2026-12-01",
        "lines": [{"description": "x", "quantity": "1", "unit_price": "1"}]})
    problem(r, 404, "not_found")
    assert api.http.get(f"/v1/invoices/{invoice['id']}", headers=api.h()).json()["status"] == "draft"


@pytest.mark.parametrize("path", ["/v1/customers/cus_x", "/v1/customers/inv_1", "/v1/customers/cus_99999999999999999999",
                                  "/v1/invoices/inv_-1", "/v1/nothing"])
def test_odd_ids_and_paths_are_not_found(api: Api, path: str) -> None:
    problem(api.http.get(path, headers=api.h()), 404, "not_found")


def test_bad_bodies_are_problems(api: Api) -> None:
    body = problem(api.http.post("/v1/customers", headers=api.h(), json={"code": "", "language": "xx"}),
                   422, "validation_failed")
    assert {e["field"] for e in body["errors"]} >= {"code", "name", "language"}
    problem(api.http.post("/v1/customers", headers=api.h(), content=b"{", 
                          ), 422, "validation_failed")
    problem(api.http.post("/v1/customers", headers={**api.h(), "Content-Type": "application/json"},
                          content=b"x" * (1024 * 1024 + 1)), 413, "too_large")
    customer = new_customer(api)
    r = api.http.post("/v1/invoices", headers=api.h(), json={
        "customer": customer["id"], "currency": "EUR", "issue_date": "2026-12-01",
        "lines": [{"description": "free", "quantity": "1", "unit_price": "0"}]})
    assert "nothing to pay" in problem(r, 422, "refused")["detail"]


def test_openapi_describes_the_api(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    assert {"/oauth/token", "/v1/customers", "/v1/invoices", "/v1/invoices/{invoice_id}/approve"} <= set(spec["paths"])


# -- statements by upload ---------------------------------------------------------------

def upload(api: Api, content: bytes, who: str = "a", key: str | None = None, name: str = "demo.xml") -> Any:
    headers = {**api.h(who), "Content-Type": "application/xml", **({"Idempotency-Key": key} if key else {})}
    return api.http.post("/v1/statements", params={"file_name": name}, content=content, headers=headers)


def finished(api: Api, job_id: str, who: str = "a") -> dict[str, Any]:
    for _ in range(300):
        job: dict[str, Any] = api.http.get(f"/v1/statement-imports/{job_id}", headers=api.h(who)).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import job {job_id} did not finish: {job}")


def test_upload_imports_in_the_background_once(api: Api) -> None:
    from tests.conftest import REPO_ROOT

    content = (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()
    r = upload(api, content)
    assert r.status_code == 202 and r.json()["state"] == "queued" and r.json()["id"].startswith("job_")
    assert r.headers["Location"] == f"/v1/statement-imports/{r.json()['id']}"
    job = finished(api, r.json()["id"])
    assert job["state"] == "done" and job["error"] is None and job["progress_bytes"] == len(content)
    result = job["result"]
    assert result["balance_ok"] is True and result["statements"][0]["id"].startswith("stm_")
    assert result["statements"][0]["new_transactions"] == result["statements"][0]["transactions"] > 0
    again = finished(api, upload(api, content).json()["id"])
    assert again["result"]["statements"][0]["already_imported"] is True
    assert again["result"]["statements"][0]["new_transactions"] == 0
    problem(api.http.get(f"/v1/statement-imports/{r.json()['id']}", headers=api.h("b")), 404, "not_found")
    problem(upload(api, content, who="a-read"), 403, "insufficient_scope")
    uploads = Path(api.http.app.state.settings.upload_dir) if hasattr(api.http.app, "state") else None
    assert uploads is None or list(uploads.glob("*.xml")) == []  # imported files are removed


def test_idempotency_key_on_upload(api: Api) -> None:
    from tests.conftest import REPO_ROOT

    content = (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()
    first = upload(api, content, key="import-2026-12-04")
    replay = upload(api, content, key="import-2026-12-04")
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    problem(upload(api, content + b" ", key="import-2026-12-04"), 409, "idempotency_key_reused")
    other = upload(api, content, who="b", key="import-2026-12-04")  # keys are per merchant
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    finished(api, first.json()["id"])
    finished(api, other.json()["id"], who="b")


@pytest.mark.parametrize("content, mentions", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
    (b"<Document><unclosed>", "not a camt"),
    (b"PK\x03\x04 zip", "zip"),
])
def test_a_hostile_or_broken_upload_fails_its_job_cleanly(api: Api, content: bytes, mentions: str) -> None:
    job = finished(api, upload(api, content).json()["id"])
    assert job["state"] == "failed" and mentions.lower() in job["error"].lower() and job["result"] is None


def test_upload_limits(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with transaction(factory) as s:
        made = create_client(s, get_or_create_merchant(s, "small").id, "c", ["statements:write"])
    app = create_app(Settings(secret_key=SECRET, max_upload_bytes=4096, upload_dir=str(tmp_path)), factory)
    http = TestClient(app)
    h = {"Authorization": "Bearer " + token(http, made.client_id, made.secret).json()["access_token"]}
    problem(http.post("/v1/statements", content=b"", headers=h), 422, "empty_file")
    body = problem(http.post("/v1/statements", content=b"<a>" + b"x" * 5000 + b"</a>", headers=h), 413, "too_large")
    assert "4096" in body["detail"]
    assert list(tmp_path.glob("*.xml")) == []  # nothing of a refused upload stays on disk


# -- reconciliation ---------------------------------------------------------------------

def demo_data(factory: sessionmaker[Session], merchant: str) -> None:
    from invoices.csvio import read_customers, read_invoices
    from invoices.service import create_issued, upsert_customer
    from tests.conftest import REPO_ROOT

    with transaction(factory) as s:
        merchant_id = get_or_create_merchant(s, merchant).id
        for c in read_customers(REPO_ROOT / "examples" / "customers.csv"):
            upsert_customer(s, merchant_id, c)
        for i in read_invoices(REPO_ROOT / "examples" / "invoices.csv"):
            create_issued(s, merchant_id, i)


def imported(api: Api, factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    from tests.conftest import REPO_ROOT

    demo_data(factory, "shop-a")
    job = finished(api, upload(api, (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()).json()["id"])
    assert job["state"] == "done"
    suggestions: list[dict[str, Any]] = api.http.get("/v1/suggestions", headers=api.h()).json()["data"]
    assert suggestions
    return suggestions


def test_accept_a_suggestion_then_undo_it_with_an_audit_trail(api: Api, factory: sessionmaker[Session]) -> None:
    first = imported(api, factory)[0]
    assert first["id"].startswith("sug_") and first["candidates"][0]["invoices"][0].startswith("inv_")
    assert first["transaction"]["amount"] == "60.50"
    problem(api.http.post(f"/v1/suggestions/{first['id']}/accept", headers=api.h("b"), json={}), 404, "not_found")
    problem(api.http.post(f"/v1/suggestions/{first['id']}/accept", headers=api.h("a-read"), json={}),
            403, "insufficient_scope")
    accepted = api.http.post(f"/v1/suggestions/{first['id']}/accept", headers=api.h(), json={"candidate": 1})
    assert accepted.status_code == 200 and accepted.json()["match_status"] == "applied"
    invoice = first["candidates"][0]["invoices"][0]
    assert api.http.get(f"/v1/invoices/{invoice}", headers=api.h()).json()["status"] == "paid"
    again = problem(api.http.post(f"/v1/suggestions/{first['id']}/accept", headers=api.h(), json={}), 422, "refused")
    assert "already accepted" in again["detail"]
    txn = accepted.json()["id"]
    problem(api.http.post(f"/v1/transactions/{txn}/undo", headers=api.h("b")), 404, "not_found")
    undone = api.http.post(f"/v1/transactions/{txn}/undo", headers=api.h())
    assert undone.status_code == 200 and undone.json()["match_status"] == "unmatched"
    assert api.http.get(f"/v1/invoices/{invoice}", headers=api.h()).json()["status"] == "issued"
    events = api.http.get("/v1/audit-events", headers=api.h()).json()["data"]
    assert [e["action"] for e in events] == ["suggestion.accepted", "match.undone"]
    assert {e["actor"] for e in events} == {f"client:{api.clients['a'][0]}"}
    assert events[0]["detail"]["transaction"] == txn
    assert api.http.get("/v1/audit-events", headers=api.h("b")).json()["data"] == []


def test_reject_a_suggestion_and_tenants_see_nothing(api: Api, factory: sessionmaker[Session]) -> None:
    first = imported(api, factory)[0]
    rejected = api.http.post(f"/v1/suggestions/{first['id']}/reject", headers=api.h())
    assert rejected.status_code == 200 and rejected.json()["match_status"] != "applied"
    assert api.http.get("/v1/suggestions", headers=api.h()).json()["data"] == []
    applied = api.http.get("/v1/transactions", headers=api.h(), params={"match_status": "applied"}).json()["data"]
    assert applied and all(t["match_status"] == "applied" for t in applied)
    assert api.http.get("/v1/suggestions", headers=api.h("b")).json()["data"] == []
    assert api.http.get("/v1/transactions", headers=api.h("b")).json()["data"] == []
    problem(api.http.get(f"/v1/transactions/{applied[0]['id']}", headers=api.h("b")), 404, "not_found")
    events = api.http.get("/v1/audit-events", headers=api.h(), params={"subject": first["id"]}).json()["data"]
    assert [e["action"] for e in events] == ["suggestion.rejected"]


def test_idempotency_keys_on_decisions_that_move_money(api: Api, factory: sessionmaker[Session]) -> None:
    first = imported(api, factory)[0]
    url = f"/v1/suggestions/{first['id']}/accept"
    key = {**api.h(), "Idempotency-Key": "accept-1"}
    one = api.http.post(url, headers=key, json={"candidate": 1})
    two = api.http.post(url, headers=key, json={"candidate": 1})
    assert one.status_code == two.status_code == 200 and one.json() == two.json()
    assert two.headers["Idempotent-Replayed"] == "true"
    problem(api.http.post(url, headers=key, json={"candidate": 2}), 409, "idempotency_key_reused")
    txn = one.json()["id"]
    undo = {**api.h(), "Idempotency-Key": "undo-1"}
    assert api.http.post(f"/v1/transactions/{txn}/undo", headers=undo).json()["match_status"] == "unmatched"
    again = api.http.post(f"/v1/transactions/{txn}/undo", headers=undo)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    problem(api.http.post(f"/v1/transactions/{txn}/undo", headers=api.h()), 422, "refused")  # without the key: refused
    events = api.http.get("/v1/audit-events", headers=api.h()).json()["data"]
    assert [e["action"] for e in events] == ["suggestion.accepted", "match.undone"]  # each done once
    problem(api.http.post(url, headers={**api.h(), "Idempotency-Key": "x" * 300}, json={}), 422, "validation_failed")


def test_suggestions_come_in_pages_most_confident_first(api: Api, factory: sessionmaker[Session]) -> None:
    everything = imported(api, factory)
    assert [s["confidence"] for s in everything] == sorted((s["confidence"] for s in everything), reverse=True)
    pages, cursor = [], None
    while True:
        r = api.http.get("/v1/suggestions", headers=api.h(), params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200 and len(r.json()["data"]) <= 1
        pages += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert [s["id"] for s in pages] == [s["id"] for s in everything]
    # another merchant's cursor (a suggestion id of theirs) is no cursor here
    problem(api.http.get("/v1/suggestions", headers=api.h("b"), params={"cursor": cursor or _cursor_of(pages[0])}),
            400, "invalid_cursor")


def _cursor_of(suggestion: dict[str, Any]) -> str:
    from api.deps import encode_cursor

    return encode_cursor(int(suggestion["id"].split("_")[1]))


def test_a_draft_is_changed_as_a_whole_and_an_issued_invoice_is_not(api: Api) -> None:
    first, second = new_customer(api, code="C1"), new_customer(api, code="C2")
    draft = new_invoice(api, first["id"])
    body = {"customer": second["id"], "currency": "EUR", "issue_date": "2026-12-02", "due_date": "2026-12-20",
            "notes": "changed", "lines": [{"description": "Hosting", "quantity": "3", "unit_price": "10.00",
                                           "vat_rate": "21"}, {"description": "Setup", "quantity": "1",
                                                               "unit_price": "5.00"}]}
    changed = api.http.put(f"/v1/invoices/{draft['id']}", headers=api.h(), json=body)
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["customer"], got["total"], got["due_date"], got["status"]) == (second["id"], "41.30", "2026-12-20",
                                                                               "draft")
    assert (got["net"], got["vat"]) == ("35.00", "6.30")  # the new lines, the old one gone
    problem(api.http.put(f"/v1/invoices/{draft['id']}", headers=api.h("b"), json=body), 404, "not_found")
    problem(api.http.put(f"/v1/invoices/{draft['id']}", headers=api.h(), json={**body, "customer": "cus_999"}),
            404, "not_found")
    assert api.http.post(f"/v1/invoices/{draft['id']}/approve", headers=api.h()).status_code == 200
    problem(api.http.put(f"/v1/invoices/{draft['id']}", headers=api.h(), json=body), 409, "not_draft")


def test_a_customer_is_changed_but_keeps_its_code_and_ibans(api: Api) -> None:
    made = new_customer(api)
    body = {"code": "C1", "name": "SIA Jaunais Nosaukums", "country": "EE", "language": "et",
            "ibans": ["EE382200221020145685"]}
    changed = api.http.put(f"/v1/customers/{made['id']}", headers=api.h(), json=body)
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["name"], got["country"], got["language"]) == ("SIA Jaunais Nosaukums", "EE", "et")
    assert sorted(got["ibans"]) == ["EE382200221020145685", "LV80BANK0000435195001"]
    problem(api.http.put(f"/v1/customers/{made['id']}", headers=api.h(), json={**body, "code": "C9"}), 422,
            "code_fixed")
    problem(api.http.put(f"/v1/customers/{made['id']}", headers=api.h("b"), json=body), 404, "not_found")
