"""HTTP plumbing shared by routers: the request session and the commit-before-response edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTasks
from starlette.datastructures import UploadFile

from app.db import get_sessionmaker


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_sessionmaker()() as session:
        request.state.db_session = session
        try:
            yield session
        finally:
            # Anything not committed by the route edge (an error) is rolled back here.
            if session.in_transaction():
                await session.rollback()


SessionDep = Annotated[AsyncSession, Depends(_session)]


class CommittingRoute(APIRoute):
    """Commits the request's session after the endpoint returns and before the response is
    sent, so a failed commit becomes an error response instead of hiding behind a 200."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def commit_then_respond(request: Request) -> Response:
            response = await handler(request)
            if response.status_code >= 400:
                return response
            session: AsyncSession | None = getattr(request.state, "db_session", None)
            if session is not None and _has_work(session):
                await session.commit()
            after = getattr(request.state, "after_commit", None)
            if after is not None:
                # After the response is sent, not before: the visitor never waits for a relay,
                # and the answer takes as long whether or not a mail was queued (no timing
                # tells a new address from a confirmed one). Only a committed change gets here.
                tasks = BackgroundTasks([response.background] if response.background else [])
                tasks.add_task(after)
                response.background = tasks
            return response

        return commit_then_respond


def _has_work(session: AsyncSession) -> bool:
    # A page served from the caches never began a transaction: nothing to commit.
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


def client_ip(request: Request) -> str:
    """The client address as seen by the app (uvicorn --proxy-headers resolves the proxy)."""
    return request.client.host if request.client else "unknown"


def run_after_commit(request: Request, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` after the response is sent, once the request's transaction has committed
    (never for a rolled-back one or an error answer)."""
    request.state.after_commit = job


def send_after_commit(request: Request, delivery_id: int | None) -> None:
    """Best effort: send a queued mail right after the commit; the dispatcher sends it
    otherwise. The sender is the one app.main wires in from app.composition."""
    if delivery_id is not None:
        send_now: Callable[[int], Awaitable[None]] = request.app.state.send_now
        run_after_commit(request, partial(send_now, delivery_id))


async def form_fields(request: Request) -> dict[str, str]:
    """Text fields of a form-urlencoded or multipart body; uploads are ignored and a malformed
    body reads as an empty form, so a visitor gets the form again instead of an error."""
    try:
        form = await request.form()
    except Exception:
        return {}
    return {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
