"""AppError and its subclasses; one handler turns them into JSON (API) or a Swedish page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app import messages

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response

# The web framework is imported where an answer is made, not here: the dispatcher and the CLI
# import the errors too, and FastAPI was a sixth of a `newsletter dispatch` start-up.

log = logging.getLogger(__name__)


class AppError(Exception):
    """A failure with a status, a stable code and a message safe to show."""

    status_code = 400
    code = "bad_request"
    default_message = "Felaktig begäran."
    # Key of the Swedish visitor page text in app.messages.PAGES.
    page = "bad_request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    default_message = "Missing or invalid API key."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"}, **kwargs)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    default_message = "This key may not do that."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."
    page = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    default_message = "The resource is not in a state that allows this."


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The upload is too large."
    page = "too_large"


class Unprocessable(AppError):
    status_code = 422
    code = "validation_error"
    default_message = "The request is not valid."


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests; try again later."
    page = "rate_limited"


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def error_json(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    from fastapi.responses import JSONResponse

    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


STAFF_PREFIX = "/redaktion"


def _is_staff(request: Request) -> bool:
    path = request.url.path
    return path == STAFF_PREFIX or path.startswith(STAFF_PREFIX + "/")


def error_page(
    request: Request, status: int, page: str, headers: dict[str, str] | None = None
) -> Response:
    """The Swedish error page: Redaktionen's layout under /redaktion, the visitors' elsewhere."""
    # The page renderer (app.web.pages.render_page) is wired in by app.main, so that errors,
    # which the web package imports, does not import it back.
    render_page: Callable[..., Response] = request.app.state.render_page
    text = messages.PAGES.get(page, messages.PAGES["bad_request"])
    context: dict[str, Any] = {"title": text["title"], "message": text["message"]}
    template = "error.html"
    if _is_staff(request):
        # Without the person (who=None, so no navigation): the session that read them may
        # already be rolled back when a 500 is answered, and the page needs only a way back.
        template, context["who"] = "redaktion/fel.html", None
    return render_page(request, template, context, status_code=status, headers=headers)


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    page: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _wants_json(request):
        return error_json(status, code, message, details, headers)
    return error_page(request, status, page, headers)


def error_response(request: Request, exc: AppError) -> Response:
    """The answer to an AppError: JSON for the API, a Swedish page for visitors and staff."""
    return _respond(
        request, exc.status_code, exc.code, exc.message, exc.page, exc.details, exc.headers
    )


def install_handlers(app: FastAPI) -> None:
    """Register the handlers so no stack trace ever reaches a client."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return _respond(
            request, 422, "validation_error", "The request is not valid.", "bad_request", details
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            # The only 400 the framework raises: a body it could not decode (bytes that are
            # not UTF-8, say). Malformed JSON is already a 422; so is this, as documented.
            return _respond(
                request, 422, "validation_error", "The body could not be read.", "bad_request"
            )
        codes = {404: ("not_found", "not_found"), 405: ("method_not_allowed", "bad_request")}
        code, page = codes.get(exc.status_code, ("http_error", "bad_request"))
        return _respond(
            request, exc.status_code, code, str(exc.detail), page, headers=dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal_error", "Internal error.", "internal_error")
