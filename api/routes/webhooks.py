"""Webhook endpoints, their deliveries, and replaying one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Db, Timestamp, public_id, require, row_id
from api.models import WebhookDelivery, WebhookEndpoint
from api.problems import Problem
from api.security import Principal
from api.webhooks import create_endpoint, pump_soon, replay

router = APIRouter(prefix="/v1", tags=["webhooks"])


class EndpointIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=20)


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: Timestamp
    secret: str | None = Field(None, description="only in the answer that creates the endpoint")


class DeliveryOut(BaseModel):
    id: str
    event: str
    state: str
    attempts: int
    next_attempt_at: Timestamp | None
    last_status: int | None
    last_error: str | None
    log: list[dict[str, Any]]
    delivered_at: Timestamp | None


class Listing(BaseModel):
    data: list[Any]
    next_cursor: str | None = None


def endpoint_out(e: WebhookEndpoint, secret: bool = False) -> EndpointOut:
    return EndpointOut(id=public_id("whe", e.id), url=e.url, events=list(e.events), enabled=e.enabled,
                       created_at=e.created_at, secret=e.secret if secret else None)


def delivery_out(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(id=public_id("whd", d.id), event=public_id("evt", d.event_id), state=d.state,
                       attempts=d.attempts, next_attempt_at=d.next_attempt_at, last_status=d.last_status,
                       last_error=d.last_error, log=list(d.log), delivered_at=d.delivered_at)


def own_endpoint(s: Session, merchant_id: int, endpoint_id: str) -> WebhookEndpoint:
    found = s.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == row_id("whe", endpoint_id, "endpoint"),
                                                   WebhookEndpoint.merchant_id == merchant_id))
    if found is None:
        raise Problem(404, "not_found", f"no webhook endpoint {endpoint_id[:60]}")
    return found


@router.post("/webhook-endpoints", response_model=EndpointOut, status_code=201)
def create(body: EndpointIn, request: Request, who: Annotated[Principal, Depends(require("webhooks:write"))],
           s: Db) -> EndpointOut:
    private_ok = request.app.state.settings.webhook_allow_private
    return endpoint_out(create_endpoint(s, who.merchant_id, body.url, body.events, private_ok), secret=True)


@router.get("/webhook-endpoints", response_model=Listing)
def list_endpoints(who: Annotated[Principal, Depends(require("webhooks:write"))],
                   s: Db) -> Listing:
    rows = s.scalars(select(WebhookEndpoint).where(WebhookEndpoint.merchant_id == who.merchant_id)
                     .order_by(WebhookEndpoint.id))
    return Listing(data=[endpoint_out(e) for e in rows])


@router.delete("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut)
def disable(endpoint_id: str, who: Annotated[Principal, Depends(require("webhooks:write"))],
            s: Db) -> EndpointOut:
    endpoint = own_endpoint(s, who.merchant_id, endpoint_id)
    endpoint.enabled = False  # kept: its delivery log stays readable
    return endpoint_out(endpoint)


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", response_model=Listing)
def deliveries(endpoint_id: str, who: Annotated[Principal, Depends(require("webhooks:write"))],
               s: Db) -> Listing:
    endpoint = own_endpoint(s, who.merchant_id, endpoint_id)
    rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                     .order_by(WebhookDelivery.id.desc()).limit(200))
    return Listing(data=[delivery_out(d) for d in rows])


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=DeliveryOut, status_code=202)
def replay_delivery(delivery_id: str, request: Request, who: Annotated[Principal, Depends(require("webhooks:write"))],
                    s: Db) -> DeliveryOut:
    delivery = s.scalar(select(WebhookDelivery).where(WebhookDelivery.id == row_id("whd", delivery_id, "delivery"),
                                                      WebhookDelivery.merchant_id == who.merchant_id))
    if delivery is None:
        raise Problem(404, "not_found", f"no delivery {delivery_id[:60]}")
    replay(s, delivery, datetime.now(UTC))
    s.flush()
    result = delivery_out(delivery)
    pump_soon(request.app.state.factory, request.app.state.settings, after=s)
    return result
