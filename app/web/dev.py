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
    response = render_page(
        request,
        "dev_mail_show.html",
        {
            "title": msg["Subject"] or "(inget ämne)",
            "mail": _summary(name, msg),
            "headers": headers,
            "html": html_part.get_content() if html_part is not None else None,
            "text": text_part.get_content() if text_part is not None else None,
        },
    )
    # The caught mail is shown in a sandboxed srcdoc iframe; it may load images from anywhere.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; frame-src 'self'"
    )
    return response
