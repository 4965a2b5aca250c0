"""Visitor pages answered from the in-process caches before FastAPI's stack: the same response
as the route, at a fraction of the cost, or nothing (the route answers).

The sign-up form is the busiest page of the service and the same for every visitor but for its
form stamp; routing, dependency injection, the request's database session and the middleware
chain cost several times what building it from the caches does. A fast route answers only when
every cache it needs is warm (so a change is seen exactly when the route would see it: at once
in the process that made it, within app.cache.MAX_AGE_SECONDS in others) and only requests the
route would answer from them: its methods, its exact path, no body. Everything else, and every
miss, goes down the normal stack. What the stack adds to an answer is added here too: the
X-Request-ID header, the request id in the log lines (uvicorn's access line is written while
the response starts), and the request metrics under the route's template.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import Scope, Send

from app.logs import request_id
from app.monitoring.metrics import HTTP_CACHED
from app.monitoring.middleware import HEADER, observe, request_id_for


@dataclass(frozen=True)
class CachedPage:
    """A whole answer; headers as the route sends them, without Content-Length."""

    status: int
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class FastRoute:
    """`answer(**path parameters)` gives the page from the caches, or None when one is cold."""

    template: str
    methods: frozenset[str]
    answer: Callable[..., CachedPage | None]

    def __post_init__(self) -> None:
        # Starlette's own pattern for `{name}` path parameters: one segment, no slash.
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "_path", re.compile(f"^{pattern}$"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self._path.match(path)  # type: ignore[attr-defined]
        return found.groupdict() if found else None


# A body (declared or chunked) goes to the route, whose body limits and parsing apply.
_BODY_HEADERS = (b"content-length", b"transfer-encoding")


class FastPath:
    def __init__(self, routes: Sequence[FastRoute]) -> None:
        self.routes = tuple(routes)

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Send the cached answer to this request and say True, or say False and send nothing."""
        started = time.perf_counter()
        if scope.get("root_path"):
            return False
        method = scope["method"]
        path = scope["path"]
        for route in self.routes:
            if method in route.methods and (params := route.match(path)) is not None:
                break
        else:
            return False
        given = b""
        for name, value in scope["headers"]:
            if name == HEADER:
                given = value  # the last one, as the middleware's dict() keeps it
            elif name in _BODY_HEADERS:
                return False
        page = route.answer(**params)
        if page is None:
            return False
        rid = request_id_for(given)
        token = request_id.set(rid)
        try:
            headers = [
                *page.headers,
                (b"content-length", str(len(page.body)).encode()),
                (HEADER, rid.encode()),
            ]
            await send({"type": "http.response.start", "status": page.status, "headers": headers})
            await send({"type": "http.response.body", "body": page.body})
        finally:
            HTTP_CACHED.labels(route.template).inc()
            observe(method, route.template, page.status, started)
            request_id.reset(token)
        return True
