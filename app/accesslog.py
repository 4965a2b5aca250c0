"""The access log: one line per request, link tokens masked (uvicorn's own writes every path
as it is, and /u/{token} or /f/{slug}/bekrafta/{token} would put working links in the log)."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("app.access")
# Link tokens are 32 URL-safe base64 characters (app.subscribers.tokens); API paths hold ids
# and slugs, which are shorter or contain other characters.
_TOKEN_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_-]{32}(?=/|$)")


def masked_path(path: str) -> str:
    """The path with every token-shaped segment replaced by "…"."""
    return _TOKEN_SEGMENT.sub("…", path)


class AccessLog:
    """Pure ASGI middleware (no BaseHTTPMiddleware task per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # No client address: the reverse proxy's log has it, this one need not.
            log.info(
                '"%s %s" %d %.1f ms',
                scope["method"],
                masked_path(scope["path"]),
                status,
                1000 * (time.perf_counter() - began),
            )
