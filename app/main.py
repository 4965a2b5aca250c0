"""create_app(): routers, middleware, exception handlers, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from app import composition, errors, logs, openapi
from app.body_limits import BodyLimitMiddleware
from app.campaigns import api as campaigns_api
from app.campaigns import public as campaigns_public
from app.config import get_settings
from app.fast_path import FastPath
from app.federations import api as federations_api
from app.images import api as images_api
from app.images import public as images_public
from app.monitoring import api as monitoring_api
from app.monitoring.middleware import RequestContextMiddleware
from app.redaktion import arsplan as redaktion_arsplan
from app.redaktion import audit_log as redaktion_audit_log
from app.redaktion import bilder as redaktion_bilder
from app.redaktion import forbund as redaktion_forbund
from app.redaktion import inbaddning as redaktion_inbaddning
from app.redaktion import installningar as redaktion_installningar
from app.redaktion import oversikt as redaktion_oversikt
from app.redaktion import prenumeranter as redaktion_prenumeranter
from app.redaktion import texter as redaktion_texter
from app.redaktion import utskick as redaktion_utskick
from app.redaktion import utskicksserver as redaktion_utskicksserver
from app.seasons import api as seasons_api
from app.subscribers import api as subscribers_api
from app.subscribers import privacy_api as subscribers_privacy_api
from app.subscribers import public as subscribers_public
from app.users import pages as users_pages
from app.web import STATIC_DIR
from app.web.pages import render_page


class App(FastAPI):
    """FastAPI with the fast path in front: a visitor page the caches can answer whole is
    answered before the middleware stack; every other request goes through it."""

    fast_path: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.fast_path is not None
            and await self.fast_path.answer(scope, send)
        ):
            return
        await super().__call__(scope, receive, send)


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
    logs.setup()
    get_settings()
    app = App(
        title="Nyhetsbrev",
        version="1.0",
        description="Staff API for newsletters of Swedish samordningsförbund.",
        lifespan=lifespan,
        # /docs is served below from vendored files: FastAPI's default loads Swagger UI from a CDN.
        docs_url=None,
    )
    app.state.embedded_services = embedded_services
    app.fast_path = FastPath(subscribers_public.FAST_ROUTES)
    app.state.send_now = composition.send_after_commit
    app.state.render_page = render_page
    errors.install_handlers(app)
    openapi.install(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        subscribers_public,
        campaigns_public,
        images_public,
        federations_api,
        images_api,
        seasons_api,
        subscribers_api,
        subscribers_privacy_api,
        campaigns_api,
        users_pages,
        redaktion_audit_log,
        redaktion_utskick,
        redaktion_prenumeranter,
        redaktion_installningar,
        redaktion_arsplan,
        redaktion_inbaddning,
        redaktion_utskicksserver,
        redaktion_bilder,
        redaktion_texter,
        redaktion_oversikt,
        redaktion_forbund,
        monitoring_api,
    ):
        app.include_router(module.router)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )

    if get_settings().dev:
        from app.web import dev

        app.include_router(dev.router)
    return app
