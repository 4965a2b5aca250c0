"""Inbäddning in Redaktionen (admins): the federation's own sites (the origins allowed to embed
the form and archive, to call the public JSON sign-up and to be sent back to), the snippets to
paste with a live preview, the Atom feed, and whether new letters go to the archive."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.actors import Actor
from app.federations import service as federation_service
from app.federations.schemas import FederationUpdate, normal_origin
from app.http import CommittingRoute, SessionDep
from app.messages import TITLES
from app.subscribers import service as subscriber_service
from app.subscribers.schemas import SignupRequest
from app.users.schemas import Staff
from app.users.sessions import AdminStaff, verify_csrf
from app.web.pages import render_page, render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/installningar/inbaddning"
# The API allows this many origins (FederationUpdate.frame_ancestors).
MAX_ORIGINS = 20
NOTICES = {"webbplatser": "De tillåtna webbplatserna är sparade.", "arkiv": "Valet är sparat."}


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _page(
    request: Request,
    staff: Staff,
    *,
    origins_text: str | None = None,
    wrong: list[str] | None = None,
    too_many: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    federation = staff.federation
    return render_staff_page(
        request,
        "inbaddning.html",
        {
            "title": "Inbäddning och webbplatser",
            "f": federation,
            "snippets": federation_service.embed_snippets(federation),
            "origins_text": "\n".join(federation.frame_ancestors or [])
            if origins_text is None
            else origins_text,
            "wrong": wrong or [],
            "too_many": too_many,
            "notice": NOTICES.get(request.query_params.get("klart", "")),
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE)
async def embedding_page(request: Request, staff: AdminStaff) -> HTMLResponse:
    return _page(request, staff)


@router.post(BASE, response_model=None)
async def save_origins(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    text = fields.get("webbplatser", "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    wrong = [line for line in lines if normal_origin(line) is None]
    origins = list(dict.fromkeys(o for o in map(normal_origin, lines) if o is not None))
    if wrong or len(origins) > MAX_ORIGINS:
        return _page(
            request,
            staff,
            origins_text=text,
            wrong=wrong,
            too_many=len(origins) > MAX_ORIGINS,
            status_code=422,
        )
    await federation_service.update_federation(
        session,
        federation=staff.federation,
        changes=FederationUpdate(frame_ancestors=origins),
        actor=_actor(staff),
        by_admin=False,
    )
    return RedirectResponse(f"{BASE}?klart=webbplatser#webbplatser", status_code=303)


@router.post(BASE + "/arkiv", response_model=None)
async def save_archive_default(
    request: Request, staff: AdminStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    await federation_service.update_federation(
        session,
        federation=staff.federation,
        changes=FederationUpdate(publish_in_archive_default=fields.get("arkiv") == "ja"),
        actor=_actor(staff),
        by_admin=False,
    )
    return RedirectResponse(f"{BASE}?klart=arkiv#arkiv", status_code=303)


@router.get(BASE + "/forhandsvisning")
async def form_preview(request: Request, staff: AdminStaff, session: SessionDep) -> HTMLResponse:
    """The federation's sign-up form as visitors get it, framed only by this page (the form's
    own page may be framed only by the federation's sites)."""
    federation = staff.federation
    form = await subscriber_service.prepare_signup_form(session, federation=federation)
    page = render_page(
        request,
        "subscribe.html",
        {
            "title": TITLES["signup"],
            "notice": form.notice,
            "stamp": form.stamp,
            "values": SignupRequest(),
            "errors": {},
            "stale": False,
        },
        federation=federation,
    )
    csp = page.headers["Content-Security-Policy"]
    page.headers["Content-Security-Policy"] = csp.rpartition("frame-ancestors")[0] + (
        "frame-ancestors 'self'"
    )
    return page
