"""The Swedish self-service pages (SPEC §5): ask for a link, see, export and erase one's data."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.config import get_settings
from app.errors import NotFound, Unprocessable
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep, client_ip, form_fields, send_after_commit
from app.messages import PAGES
from app.subscribers import rights
from app.subscribers import service as subscriber_service
from app.subscribers.models import ConsentEvent, SubscriptionStatus
from app.subscribers.ratelimit import signup_limiter
from app.web.pages import render_page

router = APIRouter(route_class=CommittingRoute)

STATUS_TEXTS = {
    SubscriptionStatus.PENDING: "Anmäld, inte bekräftad ännu",
    SubscriptionStatus.CONFIRMED: "Prenumererar",
    SubscriptionStatus.UNSUBSCRIBED: "Prenumerationen är avslutad",
}
EVENT_TEXTS = {
    ConsentEvent.SIGNUP: "Anmälan",
    ConsentEvent.CONFIRM: "Bekräftelse",
    ConsentEvent.UNSUBSCRIBE: "Avslutad prenumeration",
    ConsentEvent.IMPORT: "Tillagd från en lista",
    ConsentEvent.STAFF_CONFIRMED: "Tillagd av förbundet med ditt samtycke",
}


def _not_found(request: Request, federation: Federation) -> HTMLResponse:
    text = PAGES["not_found"]
    return render_page(
        request,
        "mina_uppgifter_ogiltig.html",
        {"title": text["title"], "message": text["message"]},
        status_code=404,
        federation=federation,
    )


def _form(
    request: Request,
    federation: Federation,
    *,
    sent: bool = False,
    error: bool = False,
    email: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return render_page(
        request,
        "mina_uppgifter.html",
        {
            "title": "Dina uppgifter",
            "sent": sent,
            "error": error,
            "email": email,
            "valid_days": get_settings().self_service_token_days,
        },
        status_code=status_code,
        federation=federation,
    )


@router.api_route("/f/{slug}/mina-uppgifter", methods=["GET", "HEAD"], include_in_schema=False)
async def link_form(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    federation = await subscriber_service.get_public_federation(session, slug)
    return _form(request, federation)


@router.post("/f/{slug}/mina-uppgifter", include_in_schema=False)
async def link_request(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    signup_limiter(request.app.state).check(client_ip(request))
    federation = await subscriber_service.get_public_federation(session, slug)
    fields = await form_fields(request)
    email = str(fields.get("email", ""))[:320]
    if fields.get("website"):
        # Honeypot filled: a bot. Same answer as everyone else, nothing sent.
        return _form(request, federation, sent=True)
    try:
        delivery_id = await rights.request_link(session, federation=federation, raw_email=email)
    except Unprocessable:
        return _form(request, federation, error=True, email=email, status_code=422)
    send_after_commit(request, delivery_id)
    return _form(request, federation, sent=True)


@router.api_route(
    "/f/{slug}/mina-uppgifter/{token}", methods=["GET", "HEAD"], include_in_schema=False
)
async def own_data_page(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await subscriber_service.get_public_federation(session, slug)
    try:
        data = await rights.own_data(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation)
    return render_page(
        request,
        "mina_uppgifter_data.html",
        {
            "title": "Dina uppgifter",
            "subscriber": data.subscriber,
            "consent": data.consent,
            "status_text": STATUS_TEXTS.get(data.subscriber.status, str(data.subscriber.status)),
            "event_texts": EVENT_TEXTS,
        },
        federation=federation,
        headers={"X-Robots-Tag": "noindex"},
    )


@router.get("/f/{slug}/mina-uppgifter/{token}/export", include_in_schema=False)
async def own_data_export(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await subscriber_service.get_public_federation(session, slug)
    try:
        data = await rights.own_data(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation)
    document = rights.export_document(federation, data, base_url=get_settings().base_url)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="mina-uppgifter-{federation.slug}.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/f/{slug}/mina-uppgifter/{token}/radera", include_in_schema=False)
async def own_data_erase(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await subscriber_service.get_public_federation(session, slug)
    try:
        await rights.erase_own_data(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation)
    return render_page(
        request,
        "mina_uppgifter_raderad.html",
        {"title": "Dina uppgifter är raderade"},
        federation=federation,
    )
