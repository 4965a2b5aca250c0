"""Render Swedish visitor pages from web/templates with the security headers every page gets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined

from app.federations.schemas import normal_origin
from app.messages import swedish_datetime
from app.web import TEMPLATE_DIR

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.undefined = StrictUndefined
templates.env.filters["svdate"] = swedish_datetime


def frame_ancestors_header(origins: list[str] | None) -> str:
    """CSP allowing the page in iframes only on the federation's own configured origins (each
    checked again here, so a value stored before validation cannot add a directive)."""
    valid = [o for o in map(normal_origin, origins or []) if o is not None]
    sources = " ".join(valid) if valid else "'none'"
    return (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {sources}"
    )


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    federation: Any = None,
) -> HTMLResponse:
    """A page with the federation's branding (if any) and frame-ancestors policy."""
    ctx = {"federation": federation, **context}
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    frames = getattr(federation, "frame_ancestors", None)
    response.headers["Content-Security-Policy"] = frame_ancestors_header(frames)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def render_staff_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    who: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page of Redaktionen (templates/redaktion/): the visitor pages' headers, no framing."""
    return render_page(
        request, f"redaktion/{template}", {"who": who, **context}, status_code=status_code
    )


# A mail preview is the mail itself: its inline styles, no scripts, framed only by our pages.
MAIL_PREVIEW_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)


def mail_preview(html: str) -> HTMLResponse:
    """A rendered mail for Redaktionen's preview frames, never cached."""
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": MAIL_PREVIEW_CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
