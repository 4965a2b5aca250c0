"""Operator endpoints: liveness, readiness (database reachable and at head), metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.db import get_sessionmaker
from app.monitoring import health
from app.monitoring import metrics as monitoring_metrics

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/readyz")
async def readyz() -> JSONResponse:
    state = await health.database_state()
    if state != "ok":
        return JSONResponse({"status": "unavailable", "database": state}, 503)
    return JSONResponse({"status": "ok", "database": state})


@router.get("/metrics")
async def metrics() -> Response:
    async with get_sessionmaker()() as session:
        body = await monitoring_metrics.render(session)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
