"""The Swedish visitor pages: sign-up form, confirmation, unsubscribe, privacy notice, and the
self-service pages where a subscriber sees, exports and erases their own data."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from app.cache import Cache
from app.config import get_settings
from app.db import MAX_ROW_ID
from app.errors import AppError, NotFound, Unprocessable
from app.fast_path import CachedPage, FastRoute
from app.federations import service as federation_service
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep, client_ip, form_fields, send_after_commit
from app.messages import CONSENT_EVENTS, PAGES, SUBSCRIPTION_STATUSES, TEST_UNSUBSCRIBE, TITLES
from app.openapi import component_schema, error_responses
from app.rendering.mail import TEST_UNSUBSCRIBE_TOKEN
from app.rendering.transactional import Branding
from app.subscribers import consent, rights, service
from app.subscribers.consent import Origin
from app.subscribers.ratelimit import signup_limiter
from app.subscribers.schemas import FormStamp, SignupAccepted, SignupRequest
from app.web.pages import render_page

router = APIRouter(route_class=CommittingRoute)

PAGE_METHODS = ["GET", "HEAD"]


def _origin(request: Request, method: str, *, source_page: str | None = None) -> Origin:
    return Origin(
        method=method,
        source_page=source_page,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


def _not_found(
    request: Request, federation: Federation | None, *, template: str = "link_not_found.html"
) -> HTMLResponse:
    """The one answer for unknown, forged, expired and used links."""
    text = PAGES["not_found"]
    return render_page(
        request,
        template,
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
    stamp: str | None = None,
) -> HTMLResponse:
    form = await service.prepare_signup_form(session, federation=federation)
    return render_page(
        request,
        "subscribe.html",
        {
            "title": TITLES["signup"],
            "notice": form.notice,
            "stamp": stamp or form.stamp,
            "values": values or SignupRequest(),
            "errors": errors or {},
            "stale": stale,
        },
        status_code=status_code,
        federation=federation,
    )


# The blank form is the same for every visitor but for its stamp: rendered once per federation
# version and privacy notice, split where the stamp goes. The key holds the federation's
# updated_at, so an edit shows as soon as the federation is read again (see public_federation).
_STAMP_SLOT = f"stamp{secrets.token_hex(8)}"
SIGNUP_FORM_PATH = "/f/{slug}/prenumerera"


@dataclass(frozen=True)
class _BlankForm:
    head: bytes
    tail: bytes
    headers: dict[str, str]  # without Content-Length

    def page(self, stamp: str) -> bytes:
        return self.head + stamp.encode() + self.tail

    @cached_property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        # As Starlette's Response encodes them.
        return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]


_blank_forms: Cache[_BlankForm] = Cache("blank sign-up forms")


@router.api_route(SIGNUP_FORM_PATH, methods=PAGE_METHODS, include_in_schema=False)
async def signup_form(slug: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    form = await service.prepare_signup_form(session, federation=federation)

    async def render() -> _BlankForm:
        page = await _form_page(request, session, federation, stamp=_STAMP_SLOT)
        head, _, tail = bytes(page.body).partition(_STAMP_SLOT.encode())
        headers = {k: v for k, v in page.headers.items() if k != "content-length"}
        return _BlankForm(head, tail, headers)

    key = (federation.id, federation.updated_at, form.notice.id)
    blank = await _blank_forms.get(key, render)
    return Response(blank.page(form.stamp), headers=blank.headers)


def cached_signup_form(slug: str) -> CachedPage | None:
    """signup_form's answer from the caches alone (app/fast_path.py), or None when one of them
    is cold or the slug is unknown: the route then reads, renders and fills them."""
    federation = federation_service.cached_public_federation(slug)
    if federation is None:
        return None
    notice = consent.cached_current_notice(federation)
    if notice is None:
        return None
    blank = _blank_forms.peek((federation.id, federation.updated_at, notice.id))
    if blank is None:
        return None
    return CachedPage(200, blank.raw_headers, blank.page(consent.make_stamp(notice)))


@router.post("/f/{slug}/prenumerera", include_in_schema=False)
async def signup_submit(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    federation = await service.get_public_federation(session, slug)
    signup_limiter(request.app.state).check(client_ip(request), federation.id)
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
    send_after_commit(request, result.delivery_id)
    return render_page(
        request, "subscribe_done.html", {"title": TITLES["signup_done"]}, federation=federation
    )


@router.get(
    "/api/v1/public/{slug}/stamp",
    response_model=FormStamp,
    responses=error_responses(404),
    summary="A render stamp for a federation's own sign-up form",
    tags=["public"],
)
async def api_stamp(slug: str, request: Request, session: SessionDep) -> JSONResponse:
    federation = await service.get_public_federation(session, slug)
    form = await service.prepare_signup_form(session, federation=federation)
    stamp = FormStamp(
        stamp=form.stamp,
        privacy_notice_version=form.notice.version,
        privacy_notice_url=f"{get_settings().base_url}/f/{federation.slug}/integritet",
        consent_text=form.notice.form_text,
    )
    return JSONResponse(stamp.model_dump(), headers=_cors(request, federation))


def _cors(request: Request, federation: Federation) -> dict[str, str]:
    """CORS for the federation's own sites only; every answer varies by Origin."""
    allowed = service.listed_origin(federation, request.headers.get("origin"))
    return (
        {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"}
        if allowed
        else {"Vary": "Origin"}
    )


@router.options("/api/v1/public/{slug}/stamp", include_in_schema=False)
@router.options("/api/v1/public/{slug}/subscriptions", include_in_schema=False)
async def api_preflight(slug: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    headers = _cors(request, federation)
    if "Access-Control-Allow-Origin" in headers:
        headers |= {
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
    return Response(status_code=204, headers=headers)


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
                "application/json": {"schema": component_schema(SignupRequest)},
                "application/x-www-form-urlencoded": {"schema": component_schema(SignupRequest)},
            }
        }
    },
)
async def api_signup(slug: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    cors = _cors(request, federation)
    try:
        return await _api_signup(request, session, federation, cors)
    except AppError as exc:
        # The federation's own page must be able to read the error it caused.
        exc.headers = {**exc.headers, **cors}
        raise


async def _api_signup(
    request: Request, session: SessionDep, federation: Federation, cors: dict[str, str]
) -> Response:
    signup_limiter(request.app.state).check(client_ip(request), federation.id)
    body: Any
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise Unprocessable("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Unprocessable("The body must be a JSON object.")
    else:
        body = await form_fields(request)
    data = SignupRequest.model_validate(body)
    redirect = body.get("redirect")
    if redirect is not None:
        # A plain HTML form on the federation's site: the visitor goes back there.
        service.redirect_target(federation, str(redirect), failed=False)
    origin = _origin(request, "api", source_page=request.headers.get("referer") or None)
    try:
        result = await service.request_subscription(
            session, federation=federation, data=data, origin=origin
        )
    except (service.InvalidSignup, service.StaleForm):
        if redirect is None:
            raise
        back = service.redirect_target(federation, str(redirect), failed=True)
        return RedirectResponse(back, status_code=303)
    send_after_commit(request, result.delivery_id)
    if redirect is not None:
        return RedirectResponse(str(redirect), status_code=303)
    return JSONResponse(SignupAccepted().model_dump(), status_code=202, headers=cors)


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
        {"title": TITLES["confirm"], "already": already, "done": False},
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
        {"title": TITLES["confirmed"], "already": already, "done": True},
        federation=federation,
    )


def _test_unsubscribe(request: Request) -> HTMLResponse:
    """The unsubscribe link of a staff test send: it says so, and changes nothing."""
    return render_page(request, "error.html", dict(TEST_UNSUBSCRIBE), federation=None)


@router.api_route("/u/{token}", methods=PAGE_METHODS, include_in_schema=False)
async def unsubscribe_page(token: str, request: Request, session: SessionDep) -> Response:
    if token == TEST_UNSUBSCRIBE_TOKEN:
        return _test_unsubscribe(request)
    try:
        result = await service.view_unsubscribe(session, raw=token)
    except NotFound:
        return _not_found(request, None)
    return render_page(
        request,
        "unsubscribe.html",
        {"title": TITLES["unsubscribe"], "already": result.already, "done": False},
        federation=result.federation,
    )


@router.post("/u/{token}", include_in_schema=False)
async def unsubscribe_submit(token: str, request: Request, session: SessionDep) -> Response:
    # RFC 8058: the mail provider posts "List-Unsubscribe=One-Click" with no cookies; any
    # POST here unsubscribes, and the answer is a 200 page, never a redirect.
    if token == TEST_UNSUBSCRIBE_TOKEN:
        return _test_unsubscribe(request)
    fields = await form_fields(request)
    method = "one_click" if fields.get("List-Unsubscribe") == "One-Click" else "web"
    try:
        result = await service.unsubscribe(session, raw=token, origin=_origin(request, method))
    except NotFound:
        return _not_found(request, None)
    return render_page(
        request,
        "unsubscribe.html",
        {"title": TITLES["unsubscribed"], "already": result.already, "done": True},
        federation=result.federation,
    )


@router.api_route("/f/{slug}/integritet", methods=PAGE_METHODS, include_in_schema=False)
async def privacy_page(
    slug: str,
    request: Request,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    federation = await service.get_public_federation(session, slug)
    notice, current = await service.get_privacy_notice(
        session, federation=federation, version=version
    )
    return render_page(
        request,
        "privacy.html",
        {
            "title": TITLES["privacy"],
            "notice": notice,
            "current": current,
            "body": consent.render_markdown(notice.privacy_text),
        },
        federation=federation,
    )


BRAND_CSS_PATH = "/f/{slug}/stil.css"
# In the order Response keeps them, Content-Length then added last, as the fast path does.
_CSS_HEADERS = {"Cache-Control": "public, max-age=300", "Content-Type": "text/css; charset=utf-8"}
_RAW_CSS_HEADERS = [(k.lower().encode(), v.encode()) for k, v in _CSS_HEADERS.items()]


def _brand_css(federation: Federation) -> bytes:
    # Brand colours as a stylesheet, since the pages' CSP allows no inline style.
    b = Branding.of(federation, base_url="")
    return f":root{{--brand:{b.brand};--on-brand:{b.on_brand};--action:{b.action};}}\n".encode()


@router.get(BRAND_CSS_PATH, include_in_schema=False)
async def brand_css(slug: str, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    return Response(_brand_css(federation), headers=_CSS_HEADERS)


def cached_brand_css(slug: str) -> CachedPage | None:
    """brand_css's answer from the cached federation (app/fast_path.py), or None."""
    federation = federation_service.cached_public_federation(slug)
    if federation is None:
        return None
    return CachedPage(200, _RAW_CSS_HEADERS, _brand_css(federation))


FAST_ROUTES = (
    FastRoute(SIGNUP_FORM_PATH, frozenset(PAGE_METHODS), cached_signup_form),
    FastRoute(BRAND_CSS_PATH, frozenset({"GET"}), cached_brand_css),
)


def _own_data_form(
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
            "title": TITLES["own_data"],
            "sent": sent,
            "error": error,
            "email": email,
            "valid_days": get_settings().self_service_token_days,
        },
        status_code=status_code,
        federation=federation,
    )


@router.api_route("/f/{slug}/mina-uppgifter", methods=PAGE_METHODS, include_in_schema=False)
async def link_form(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    federation = await service.get_public_federation(session, slug)
    return _own_data_form(request, federation)


@router.post("/f/{slug}/mina-uppgifter", include_in_schema=False)
async def link_request(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    federation = await service.get_public_federation(session, slug)
    signup_limiter(request.app.state).check(client_ip(request), federation.id)
    fields = await form_fields(request)
    email = str(fields.get("email", ""))[:320]
    if fields.get("website"):
        # Honeypot filled: a bot. Same answer as everyone else, nothing sent.
        return _own_data_form(request, federation, sent=True)
    try:
        delivery_id = await rights.request_link(session, federation=federation, raw_email=email)
    except Unprocessable:
        return _own_data_form(request, federation, error=True, email=email, status_code=422)
    send_after_commit(request, delivery_id)
    return _own_data_form(request, federation, sent=True)


@router.api_route("/f/{slug}/mina-uppgifter/{token}", methods=PAGE_METHODS, include_in_schema=False)
async def own_data_page(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    try:
        data = await rights.own_data(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation, template="mina_uppgifter_ogiltig.html")
    return render_page(
        request,
        "mina_uppgifter_data.html",
        {
            "title": TITLES["own_data"],
            "subscriber": data.subscriber,
            "consent": data.consent,
            "status_text": SUBSCRIPTION_STATUSES.get(
                data.subscriber.status, str(data.subscriber.status)
            ),
            "event_texts": CONSENT_EVENTS,
        },
        federation=federation,
        headers={"X-Robots-Tag": "noindex"},
    )


@router.get("/f/{slug}/mina-uppgifter/{token}/export", include_in_schema=False)
async def own_data_export(slug: str, token: str, request: Request, session: SessionDep) -> Response:
    federation = await service.get_public_federation(session, slug)
    try:
        data = await rights.own_data(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation, template="mina_uppgifter_ogiltig.html")
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
    federation = await service.get_public_federation(session, slug)
    try:
        await rights.erase_own_data(session, federation=federation, raw=token)
    except NotFound:
        return _not_found(request, federation, template="mina_uppgifter_ogiltig.html")
    return render_page(
        request,
        "mina_uppgifter_raderad.html",
        {"title": TITLES["own_data_erased"]},
        federation=federation,
    )
