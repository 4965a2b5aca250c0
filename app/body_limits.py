"""Request body limits, enforced before a body is read: small for the public endpoints, larger
for the staff API, room for a 10 MB photo on image uploads, none for the CSV import (it streams
and stops at its own limit)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings
from app.errors import PayloadTooLarge, error_response
from app.images.processing import MAX_UPLOAD_BYTES

# Anyone on the internet can post here: sign-up form and JSON API, confirmation, unsubscribe
# (RFC 8058 one-click included) and self-service. Their honest bodies are a few hundred bytes.
PUBLIC_PREFIXES = ("/f/", "/u/", "/api/v1/public/")
# The import streams its multipart upload to disk and enforces its own 50 MB limit.
_STREAMED = re.compile(r"^/api/v1/federations/[^/]+/subscribers/import$")
# Image and logo uploads (API and Redaktionen's image library): a photo up to MAX_UPLOAD_BYTES
# plus the multipart framing and the alt text; the endpoint refuses a larger file itself,
# naming the reason (too_large).
_IMAGE_UPLOAD = re.compile(
    r"^(/api/v1/federations/[^/]+/(images|logo)|/redaktion/installningar/bilder)$"
)
IMAGE_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024


def body_limit(path: str) -> int | None:
    """The most bytes a request to `path` may carry; None where the endpoint limits itself."""
    settings = get_settings()
    if path.startswith(PUBLIC_PREFIXES):
        return settings.public_max_body_bytes
    if _STREAMED.match(path):
        return None
    if _IMAGE_UPLOAD.match(path):
        return max(IMAGE_BODY_BYTES, settings.max_body_bytes)
    return settings.max_body_bytes


class BodyLimitMiddleware:
    """Answers 413 when a body is larger than its path allows, without reading more of it
    than the limit: at once when Content-Length says so, otherwise (a chunked body) as soon as
    the chunks pass the limit. Bodies within the limit are buffered (they are small) and
    handed on, so no endpoint, multipart parser or spooled file ever sees a larger one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = body_limit(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        # The rest of the body stays unread; the server closes the connection after this.
        response = error_response(Request(scope), error)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
