"""The Swedish staff pages for signing in and out, and the signed-in landing page."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.config import get_settings
from app.errors import NotFound, RateLimited
from app.http import CommittingRoute, SessionDep, client_ip, send_after_commit
from app.subscribers.ratelimit import SlidingWindow
from app.users import service
from app.users.sessions import (
    SIGN_IN_PATH,
    CurrentPerson,
    OptionalPerson,
    clear_session_cookie,
    form_token,
    keep_form_token,
    set_session_cookie,
    verify_csrf,
    verify_form_token,
)
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

HOME = "/redaktion"
# A person asking for links again and again gets the same page, but at most this many mails.
LINKS_PER_ADDRESS = 3
ADDRESS_WINDOW_SECONDS = 15 * 60


class SignInLimiter:
    """Per client IP (the public forms' budget, answered with 429) and per address (answered
    like any other request, so the limit reveals nothing about which addresses exist)."""

    def __init__(self) -> None:
        self.per_ip = SlidingWindow()
        self.per_address = SlidingWindow(window=ADDRESS_WINDOW_SECONDS)

    def check_ip(self, ip: str) -> None:
        ok, wait = self.per_ip.allow(ip, get_settings().rate_limit_per_ip_per_minute)
        if not ok:
            raise RateLimited(headers={"Retry-After": str(max(1, int(wait + 0.999)))})

    def address_allowed(self, email: str) -> bool:
        return self.per_address.allow(email.strip().lower(), LINKS_PER_ADDRESS)[0]


def _limiter(request: Request) -> SignInLimiter:
    state = request.app.state
    limiter: SignInLimiter | None = getattr(state, "sign_in_limiter", None)
    if limiter is None:
        limiter = state.sign_in_limiter = SignInLimiter()
    return limiter


def _public_form(
    request: Request, template: str, context: dict[str, object], status_code: int = 200
) -> HTMLResponse:
    token = form_token(request)
    response = render_staff_page(
        request, template, {"csrf": token, **context}, status_code=status_code
    )
    keep_form_token(response, token)
    return response


@router.get(SIGN_IN_PATH, response_model=None)
async def sign_in_form(request: Request, who: OptionalPerson) -> Response:
    if who is not None:
        return RedirectResponse(HOME, status_code=303)
    signed_out = request.query_params.get("utloggad") == "1"
    return _public_form(
        request, "logga_in.html", {"title": "Logga in", "signed_out": signed_out, "error": None}
    )


@router.post(SIGN_IN_PATH, response_model=None)
async def request_link(request: Request, session: SessionDep) -> Response:
    fields = await verify_form_token(request)
    limiter = _limiter(request)
    limiter.check_ip(client_ip(request))
    email = fields.get("email", "").strip()
    if not email:
        return _public_form(
            request,
            "logga_in.html",
            {"title": "Logga in", "signed_out": False, "error": "required"},
            status_code=422,
        )
    if limiter.address_allowed(email):
        delivery_id = await service.request_sign_in(session, email=email)
        send_after_commit(request, delivery_id)
    return render_staff_page(
        request, "logga_in_skickad.html", {"title": "Kolla din e-post", "email": email}
    )


def _link_not_valid(request: Request) -> HTMLResponse:
    return render_staff_page(
        request, "lank_ogiltig.html", {"title": "Länken fungerar inte"}, status_code=404
    )


@router.get(SIGN_IN_PATH + "/{token}", response_model=None)
async def sign_in_button(request: Request, token: str, session: SessionDep) -> Response:
    # Mail scanners open links: GET only shows the button, and spends nothing.
    try:
        await service.check_sign_in_link(session, raw=token)
    except NotFound:
        return _link_not_valid(request)
    return _public_form(request, "logga_in_lank.html", {"title": "Logga in", "token": token})


@router.post(SIGN_IN_PATH + "/{token}", response_model=None)
async def sign_in(request: Request, token: str, session: SessionDep) -> Response:
    await verify_form_token(request)
    try:
        opened = await service.sign_in(session, raw=token)
    except NotFound:
        return _link_not_valid(request)
    response = RedirectResponse(HOME, status_code=303)
    set_session_cookie(response, opened.raw_id)
    return response


@router.post(HOME + "/byt-forbund", response_model=None)
async def switch_federation(request: Request, who: CurrentPerson, session: SessionDep) -> Response:
    fields = await verify_csrf(request, who)
    await service.switch_federation(session, who=who, slug=fields.get("forbund", ""))
    return RedirectResponse(HOME, status_code=303)


@router.post(HOME + "/logga-ut", response_model=None)
async def sign_out(request: Request, who: CurrentPerson, session: SessionDep) -> Response:
    fields = await verify_csrf(request, who)
    await service.sign_out(session, who=who, everywhere=fields.get("overallt") == "ja")
    response = RedirectResponse(SIGN_IN_PATH + "?utloggad=1", status_code=303)
    clear_session_cookie(response)
    return response
