"""Statements: upload a camt file (202 with an import job), follow the job."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import idempotency
from api.deps import Db, Timestamp, public_id, require, row_id
from api.problems import Problem
from api.security import Principal
from api.webhooks import pump_soon
from core.db import transaction
from core.settings import default_data_dir
from reconciliation.jobs import options_for, progress_of, start
from reconciliation.models import ImportJob

router = APIRouter(tags=["statements"])


class ImportJobOut(BaseModel):
    id: str
    state: str
    file_name: str
    size: int
    progress_bytes: int
    result: dict[str, Any] | None
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


def out(job: ImportJob) -> ImportJobOut:
    return ImportJobOut(id=public_id("job", job.id), state=job.state, file_name=job.file_name, size=job.size,
                        progress_bytes=progress_of(job), result=job.result, error=job.error,
                        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at)


def upload_dir(request: Request) -> Path:
    folder = Path(request.app.state.settings.upload_dir or default_data_dir() / "uploads")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


@router.post("/v1/statements", status_code=202, response_model=ImportJobOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/xml": {"schema": {"type": "string", "format": "binary"}},
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload_statement(request: Request, who: Annotated[Principal, Depends(require("statements:write"))],
                           file_name: Annotated[str, Query(min_length=1, max_length=200)] = "statement.xml",
                           idempotency_key: Annotated[str | None, Header(max_length=255)] = None) -> JSONResponse:
    """Upload a camt.052/053/054 file as the request body; it is imported in the background."""
    settings = request.app.state.settings
    limit = settings.max_upload_bytes
    path = upload_dir(request) / f"{secrets.token_hex(16)}.xml"
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "xb") as f:  # streamed: a large statement never sits in memory
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Problem(413, "too_large", f"the statement is larger than {limit} bytes (KVITS_MAX_UPLOAD_BYTES)")
                digest.update(chunk)
                f.write(chunk)
        if size == 0:
            raise Problem(422, "empty_file", "the body is empty: send the statement file as the request body")
        factory = request.app.state.factory

        def record() -> JSONResponse | tuple[int, dict[str, Any]]:  # database work: off the event loop
            with transaction(factory) as s:
                reserved = idempotency.begin(s, who.merchant_id, idempotency_key,
                                             idempotency.request_hash("POST", "/v1/statements", digest.digest()))
                if isinstance(reserved, JSONResponse):
                    return reserved
                job = ImportJob(merchant_id=who.merchant_id, state="queued", file_name=os.path.basename(file_name),
                                size=size, path=str(path), progress_bytes=0)
                s.add(job)
                s.flush()
                body = out(job).model_dump(mode="json")
                idempotency.finish(reserved, 202, body)
                return job.id, body

        recorded = await run_in_threadpool(record)
        if isinstance(recorded, JSONResponse):
            path.unlink(missing_ok=True)
            return recorded
        job_id, body = recorded
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    broker = bool(settings.broker_url)
    start(factory, job_id, options_for(settings), broker=broker, then=lambda: pump_soon(factory, settings))
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/statement-imports/{body['id']}"})


@router.get("/v1/statement-imports/{job_id}", response_model=ImportJobOut)
def get_import(job_id: str, who: Annotated[Principal, Depends(require("statements:write"))],
               s: Db) -> ImportJobOut:
    job = s.scalar(select(ImportJob).where(ImportJob.id == row_id("job", job_id, "import job"),
                                           ImportJob.merchant_id == who.merchant_id))
    if job is None:
        raise Problem(404, "not_found", f"no import job {job_id[:60]}")
    return out(job)
