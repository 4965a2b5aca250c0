"""The least a sign-up can cost in this stack: the real app with two bench-only routes added.

bench/web.py --floors runs this module under the same uvicorn as `newsletter serve` and drives
its routes with the sign-up's wrk script (same form body, same 50 connections), next to the
real sign-up and the bare ASGI reference:

- POST /bench-floor/form:  the app's middleware and route class, the form parsed and validated
                           as the sign-up does (`form_fields`, `SignupRequest`), a fixed page;
                           no database.
- POST /bench-floor/write: the same, plus one INSERT of the address into a scratch table
                           through the request's session, committed before the answer as
                           every visitor POST is (`CommittingRoute`).

A sign-up does at least what /bench-floor/write does (a durable write through FastAPI and
SQLAlchemy, as SPEC §2 prescribes), so /bench-floor/write's ratio to the reference bounds what
any sign-up design in this stack can reach on this machine. Nothing here is part of the product.
"""

from __future__ import annotations

import os
import sys

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


def floor_app() -> object:
    app = create_app(embedded_services=False)
    app.include_router(router)
    return app


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
