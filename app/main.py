"""create_app(): routers, middleware, exception handlers, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from app import composition, errors
from app.body_limits import BodyLimitMiddleware
from app.campaigns import api as campaigns_api
from app.campaigns import public as campaigns_public
from app.config import get_settings, is_loopback_host
from app.db import get_sessionmaker
from app.errors import NotFound, Unauthorized
from app.federations import api as federations_api
from app.http import client_ip
from app.redaction import install_log_redaction
from app.security import constant_time_equal
from app.subscribers import api as subscribers_api
from app.subscribers import public as subscribers_public
from app.web.pages import STATIC_DIR, render_page


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


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    background = []
    if settings.dev and app.state.embedded_services:
        from app import devserver

        background = await devserver.start(settings, worker_loop=composition.run_worker_loop)
    try:
        yield
    finally:
        for stop in background:
            await stop()


def create_app(*, embedded_services: bool = True) -> FastAPI:
    """The web application; embedded_services=False keeps dev mode's catcher and dispatcher off."""
    get_settings()
    install_log_redaction()
    app = FastAPI(
        title="Nyhetsbrev",
        version="1.0",
        description="Staff API for newsletters of Swedish samordningsförbund.",
        lifespan=lifespan,
    )
    app.state.embedded_services = embedded_services
    app.state.send_now = composition.send_now
    app.state.render_page = render_page
    errors.install_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        subscribers_public,
        campaigns_public,
        federations_api,
        subscribers_api,
        campaigns_api,
    ):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            async with get_sessionmaker()() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        _check_metrics_access(request)

        from app.delivery import metrics as delivery_metrics

        async with get_sessionmaker()() as session:
            body = await delivery_metrics.render(session)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    if get_settings().dev:
        from app.web import dev

        app.include_router(dev.router)
    return app
