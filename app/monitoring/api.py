"""Operator endpoints: liveness, readiness (database reachable and at head), metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.config import get_settings, is_loopback_host
from app.db import get_sessionmaker
from app.errors import NotFound, Unauthorized
from app.http import client_ip
from app.monitoring import health
from app.monitoring import metrics as monitoring_metrics
from app.security import constant_time_equal

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


def _check_metrics_access(request: Request) -> None:
    """/metrics names every federation and its counts: with METRICS_TOKEN set it needs that
    bearer token; without one it answers loopback clients only (a scraper on the host), and
    looks absent to everyone else."""
    token = get_settings().metrics_token
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not constant_time_equal(given, token):
            raise Unauthorized("Missing or wrong metrics token.")
    elif not is_loopback_host(client_ip(request)):
        raise NotFound()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    _check_metrics_access(request)
    async with get_sessionmaker()() as session:
        body = await monitoring_metrics.render(session)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
