"""The least a sign-up can cost in this stack: the real app with bench-only routes added.

`bench/web.py --scenarios floor-form floor-write floor-raw` runs this module under the same
uvicorn as `newsletter serve` and drives its routes with the sign-up's wrk script (same form
body, same 50 connections), next to the real sign-up and the bare ASGI reference:

- POST /bench-floor/form:  the app's middleware and route class, the form parsed and validated
                           as the sign-up does (`form_fields`, `SignupRequest`), a fixed page;
                           no database.
- POST /bench-floor/write: the same, plus one INSERT of the address into a scratch table
                           through the request's session, committed before the answer as
                           every visitor POST is (`CommittingRoute`).
- POST /bench-floor/raw:   (PostgreSQL only) neither FastAPI nor SQLAlchemy: answered in front
                           of the app as the fast path answers the form page, the body parsed
                           with urllib, the same INSERT on a connection of an asyncpg pool (one
                           durable commit per request), the same fixed page.

A sign-up answered after its own durable commit does at least what /bench-floor/write does in
the stack SPEC §2 prescribes (FastAPI, SQLAlchemy), and at least what /bench-floor/raw does
without it; their ratios to the reference bound what such a design can reach on this machine.
Only a design that writes many visitors' sign-ups in one transaction could go past them.
Nothing here is part of the product.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from app.http import CommittingRoute, SessionDep, form_fields
from app.main import create_app
from app.subscribers.schemas import SignupRequest

TABLE = "bench_floor"
_PAGE = b"<!doctype html><html lang=sv><title>Tack</title><p>" + b"x" * 6000

router = APIRouter(route_class=CommittingRoute)


@router.post("/bench-floor/form", include_in_schema=False)
async def form_only(request: Request) -> HTMLResponse:
    data = SignupRequest.model_validate(await form_fields(request))
    return HTMLResponse(_PAGE if data.consent else b"")


@router.post("/bench-floor/write", include_in_schema=False)
async def one_write(request: Request, session: SessionDep) -> HTMLResponse:
    data = SignupRequest.model_validate(await form_fields(request))
    await session.execute(
        text(f"INSERT INTO {TABLE} (email, name) VALUES (:email, :name)"),
        {"email": data.email, "name": data.name},
    )
    return HTMLResponse(_PAGE)


async def create_table(url: str) -> None:
    """The scratch table /bench-floor/write inserts into (a key, an address and a name)."""
    from app.db import make_engine

    key = "INTEGER PRIMARY KEY" if url.startswith("sqlite") else "BIGSERIAL PRIMARY KEY"
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key}, email TEXT NOT NULL, name TEXT)"
                )
            )
    finally:
        await engine.dispose()


class _Raw:
    """/bench-floor/raw in front of the app; every other request goes to the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pool: Any = None
        self.opening = asyncio.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/bench-floor/raw":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        fields = parse_qs(body.decode())
        async with self.opening:  # one pool, not one per first request
            if self.pool is None:
                import asyncpg

                url = os.environ["NEWSLETTER_DATABASE_URL"].replace("+asyncpg", "")
                self.pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"INSERT INTO {TABLE} (email, name) VALUES ($1, $2)",
                fields["email"][0],
                fields.get("name", [""])[0],
            )
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        headers.append((b"content-length", str(len(_PAGE)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _PAGE})


def floor_app() -> object:
    app = create_app(embedded_services=False)
    app.include_router(router)
    return _Raw(app)


if __name__ == "__main__":
    import uvicorn

    # As `newsletter serve` runs the app (app/cli.py), so only the routes differ.
    uvicorn.run(
        "bench.floors:floor_app",
        log_config=None,
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )
