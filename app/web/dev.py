"""/dev/mail: the mail caught in development mode, as a list and each mail rendered."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.devserver import MAIL_DIR
from app.errors import NotFound
from app.web.pages import render_page

router = APIRouter(prefix="/dev", include_in_schema=False)


def _load(name: str) -> EmailMessage:
    path = MAIL_DIR / name
    if "/" in name or not name.endswith(".eml") or not path.is_file():
        raise NotFound()
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _summary(name: str, msg: EmailMessage) -> dict[str, Any]:
    return {
        "id": name,
        "to": msg["To"],
        "from": msg["From"],
        "subject": msg["Subject"],
        "date": msg["Date"],
    }


@router.get("/mail", response_class=HTMLResponse)
async def mail_list(request: Request) -> HTMLResponse:
    names = (
        sorted((p.name for p in MAIL_DIR.glob("*.eml")), reverse=True) if MAIL_DIR.exists() else []
    )
    mails = [_summary(n, _load(n)) for n in names[:200]]
    return render_page(request, "dev_mail_list.html", {"title": "Fångad e-post", "mails": mails})


@router.get("/mail/{name}", response_class=HTMLResponse)
async def mail_show(request: Request, name: str) -> HTMLResponse:
    msg = _load(name)
    html_part = msg.get_body(("html",))
    text_part = msg.get_body(("plain",))
    headers = [(k, str(v)) for k, v in msg.items()]
    return render_page(
        request,
        "dev_mail_show.html",
        {
            "title": msg["Subject"] or "(inget ämne)",
            "mail": _summary(name, msg),
            "headers": headers,
            "has_html": html_part is not None,
            "text": text_part.get_content() if text_part is not None else None,
        },
    )


@router.get("/mail/{name}/html", response_class=HTMLResponse)
async def mail_html(name: str) -> HTMLResponse:
    """The HTML part alone, for the sandboxed iframe: inline styles and remote images allowed,
    scripts never (mail must not contain any, and the sandbox would block them anyway)."""
    part = _load(name).get_body(("html",))
    if part is None:
        raise NotFound()
    return HTMLResponse(
        part.get_content(),
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
                "frame-ancestors 'self'"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )
