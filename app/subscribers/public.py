"""The Swedish public pages: sign-up form, confirmation, unsubscribe, privacy notice (SPEC §5)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.config import get_settings
from app.delivery import service as delivery_service
from app.errors import NotFound, Unprocessable
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep, client_ip, form_fields, run_after_commit
from app.messages import PAGES
from app.openapi import error_responses
from app.rendering.transactional import Branding
from app.subscribers import consent, service
from app.subscribers.consent import Origin
from app.subscribers.ratelimit import signup_limiter
from app.subscribers.schemas import FormStamp, SignupAccepted, SignupRequest
from app.web.pages import render_page

router = APIRouter(route_class=CommittingRoute)

PAGE_METHODS = ["GET", "HEAD"]


# --- edge helpers -----------------------------------------------------------------------------


def _origin(request: Request, method: str, *, source_page: str | None = None) -> Origin:
    return Origin(
        method=method,
        source_page=source_page,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


def _send_after_commit(request: Request, delivery_id: int | None) -> None:
    """Best effort: send the mail right after the commit; the dispatcher sends it otherwise."""
    if delivery_id is not None:
        run_after_commit(request, partial(delivery_service.send_now, delivery_id))


def _not_found(request: Request, federation: Federation | None) -> HTMLResponse:
    """The one page for unknown, forged, expired and used links."""
    text = PAGES["not_found"]
    return render_page(
        request,
        "link_not_found.html",
        {"title": text["title"], "message": text["message"]},
        status_code=404,
        federation=federation,
    )


async def _form_page(
    request: Request,
    session: SessionDep,
    federation: Federation,
    *,
    values: SignupRequest | None = None,
    errors: dict[str, str] | None = None,
    stale: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    form = await service.prepare_signup_form(session, federation=federation)
    return render_page(
        request,
        "subscribe.html",
        {
            "title": "Prenumerera på nyhetsbrevet",
            "notice": form.notice,
            "stamp": form.stamp,
            "values": values or SignupRequest(),
            "errors": errors or {},
            "stale": stale,
        },
        status_code=status_code,
        federation=federation,
    )


# --- sign-up ---------------------------------------------------------------------------------


@router.api_route("/f/{slug}/prenumerera", methods=PAGE_METHODS, include_in_schema=False)
async def signup_form(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    federation = await service.get_public_federation(session, slug)
    return await _form_page(request, session, federation)


@router.post("/f/{slug}/prenumerera", include_in_schema=False)
async def signup_submit(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    signup_limiter(request.app.state).check(client_ip(request))
    federation = await service.get_public_federation(session, slug)
    data = SignupRequest.model_validate(await form_fields(request))
    form_url = f"{get_settings().base_url}/f/{federation.slug}/prenumerera"
    origin = _origin(request, "form", source_page=request.headers.get("referer") or form_url)
    try:
        result = await service.request_subscription(
            session, federation=federation, data=data, origin=origin
        )
    except service.StaleForm:
        return await _form_page(
            request, session, federation, values=data, stale=True, status_code=400
        )
    except service.InvalidSignup as exc:
        return await _form_page(
            request, session, federation, values=data, errors=exc.details, status_code=422
        )
    _send_after_commit(request, result.delivery_id)
    return render_page(
        request, "subscribe_done.html", {"title": "Kolla din inkorg"}, federation=federation
    )


@router.get(
    "/api/v1/public/{slug}/stamp",
    response_model=FormStamp,
    responses=error_responses(404),
    summary="A render stamp for a federation's own sign-up form",
    tags=["public"],
)
async def api_stamp(slug: str, session: SessionDep) -> FormStamp:
    federation = await service.get_public_federation(session, slug)
    form = await service.prepare_signup_form(session, federation=federation)
    return FormStamp(
        stamp=form.stamp,
        privacy_notice_version=form.notice.version,
        privacy_notice_url=f"{get_settings().base_url}/f/{federation.slug}/integritet",
        consent_text=form.notice.form_text,
    )


@router.post(
    "/api/v1/public/{slug}/subscriptions",
    status_code=202,
    response_model=SignupAccepted,
    responses=error_responses(404, 413, 422, 429),
    summary="Sign up from a federation's own form (JSON or form body)",
    tags=["public"],
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": SignupRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": SignupRequest.model_json_schema()},
            }
        }
    },
)
async def api_signup(slug: str, request: Request, session: SessionDep) -> JSONResponse:
    signup_limiter(request.app.state).check(client_ip(request))
    federation = await service.get_public_federation(session, slug)
    body: Any
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise Unprocessable("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Unprocessable("The body must be a JSON object.")
    else:
        body = await form_fields(request)
    data = SignupRequest.model_validate(body)
    origin = _origin(request, "api", source_page=request.headers.get("referer") or None)
    result = await service.request_subscription(
        session, federation=federation, data=data, origin=origin
    )
    _send_after_commit(request, result.delivery_id)
    return JSONResponse(SignupAccepted().model_dump(), status_code=202)


# --- confirmation ------------------------------------------------------------------------------


@router.api_route("/f/{slug}/bekrafta/{token}", methods=PAGE_METHODS, include_in_schema=False)
async def confirm_page(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    try:
        already = await service.view_confirmation(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation)
    return render_page(
        request,
        "confirm.html",
        {"title": "Bekräfta prenumerationen", "already": already, "done": False},
        federation=federation,
    )


@router.post("/f/{slug}/bekrafta/{token}", include_in_schema=False)
async def confirm_submit(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    try:
        already = await service.confirm_subscription(
            session, federation=federation, raw=token, origin=_origin(request, "link")
        )
    except NotFound:
        return _not_found(request, federation)
    return render_page(
        request,
        "confirm.html",
        {"title": "Prenumerationen är bekräftad", "already": already, "done": True},
        federation=federation,
    )


# --- unsubscribe --------------------------------------------------------------------------------


@router.api_route("/u/{token}", methods=PAGE_METHODS, include_in_schema=False)
async def unsubscribe_page(token: str, request: Request, session: SessionDep) -> Response:
    try:
        result = await service.view_unsubscribe(session, raw=token)
    except NotFound:
        return _not_found(request, None)
    return render_page(
        request,
        "unsubscribe.html",
        {"title": "Avsluta prenumerationen", "already": result.already, "done": False},
        federation=result.federation,
    )


@router.post("/u/{token}", include_in_schema=False)
async def unsubscribe_submit(token: str, request: Request, session: SessionDep) -> Response:
    # RFC 8058: the mail provider posts "List-Unsubscribe=One-Click" with no cookies; any
    # POST here unsubscribes, and the answer is a 200 page, never a redirect.
    fields = await form_fields(request)
    method = "one_click" if fields.get("List-Unsubscribe") == "One-Click" else "web"
    try:
        result = await service.unsubscribe(session, raw=token, origin=_origin(request, method))
    except NotFound:
        return _not_found(request, None)
    return render_page(
        request,
        "unsubscribe.html",
        {"title": "Prenumerationen är avslutad", "already": result.already, "done": True},
        federation=result.federation,
    )


# --- privacy notice and branding ---------------------------------------------------------------


@router.api_route("/f/{slug}/integritet", methods=PAGE_METHODS, include_in_schema=False)
async def privacy_page(
    slug: str, request: Request, session: SessionDep, version: int | None = None
) -> Response:
    federation = await service.get_public_federation(session, slug)
    notice, current = await service.get_privacy_notice(
        session, federation=federation, version=version
    )
    return render_page(
        request,
        "privacy.html",
        {
            "title": "Integritet och personuppgifter",
            "notice": notice,
            "current": current,
            "body": consent.render_markdown(notice.privacy_text),
        },
        federation=federation,
    )


@router.get("/f/{slug}/stil.css", include_in_schema=False)
async def brand_css(slug: str, session: SessionDep) -> Response:
    # Brand colours as a stylesheet, since the pages' CSP allows no inline style.
    federation = await service.get_public_federation(session, slug)
    b = Branding.of(federation, base_url="")
    css = f":root{{--brand:{b.brand};--on-brand:{b.on_brand};--action:{b.action};}}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})
