"""Per-request context: a request id (kept from X-Request-ID or made) for every log line and
echoed in the response, and the HTTP request metrics."""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import request_id
from app.monitoring.metrics import HTTP_DURATION, HTTP_REQUESTS

HEADER = b"x-request-id"
# A proxy's id is kept only when it is short and plain, so it can't smuggle text into logs.
_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_for(given: bytes) -> str:
    """The request's id: the X-Request-ID it came with when that is plain, else a new one."""
    return given.decode() if _VALID_ID.fullmatch(given) else uuid.uuid4().hex


def observe(method: str, template: str, status: int, started: float) -> None:
    """Count one answered request under its route template (never the path: paths carry
    tokens and would grow without bound as labels; unmatched paths share one label)."""
    HTTP_REQUESTS.labels(method, template, str(status)).inc()
    HTTP_DURATION.labels(template).observe(time.perf_counter() - started)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_for(dict(scope["headers"]).get(HEADER, b""))
        token = request_id.set(rid)
        status = [500]
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            observe(
                scope["method"], getattr(route, "path", None) or "unmatched", status[0], started
            )
            request_id.reset(token)
