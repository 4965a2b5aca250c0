"""Staff sessions at the HTTP edge: the cookies, the signed-in person, CSRF checks.

Use in page routes:

    from app.users.sessions import CurrentPerson, verify_csrf

    @router.post("/redaktion/...")
    async def change(request: Request, who: CurrentPerson, session: SessionDep) -> Response:
        await verify_csrf(request, who)
        ...

The session cookie is `__Host-redaktion` when BASE_URL is https (the `__Host-` prefix makes the
browser refuse it unless it is Secure, host-only and Path=/); over plain http (development)
no browser accepts a `__Host-` cookie, so it is called `redaktion` there and is not Secure.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response

from app.config import get_settings
from app.errors import AppError, Forbidden, NotFound
from app.http import SessionDep, form_fields
from app.security import constant_time_equal
from app.users import service
from app.users.models import Role
from app.users.schemas import SignedIn, Staff

SIGN_IN_PATH = "/redaktion/logga-in"
CSRF_FIELD = "csrf"


class SignInRequired(AppError):
    """Not signed in (or the session ended): the browser is sent to the sign-in page."""

    status_code = 303
    code = "sign_in_required"
    default_message = "Sign in at /redaktion/logga-in."
    page = "sign_in_required"

    def __init__(self) -> None:
        super().__init__(headers={"Location": SIGN_IN_PATH, "Cache-Control": "no-store"})


class CsrfRefused(Forbidden):
    code = "csrf_refused"
    default_message = "The form's security token is missing or wrong; reload the page."
    page = "csrf"


def _secure() -> bool:
    return get_settings().base_url.startswith("https://")


def session_cookie_name() -> str:
    return "__Host-redaktion" if _secure() else "redaktion"


def form_cookie_name() -> str:
    """The cookie of the double-submit token on the forms shown before signing in."""
    return "__Host-redaktion-formular" if _secure() else "redaktion-formular"


def _set_cookie(response: Response, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="lax",
    )


def set_session_cookie(response: Response, raw_id: str) -> None:
    # A browser-session cookie: the server decides when the session ends (idle and absolute).
    _set_cookie(response, session_cookie_name(), raw_id, max_age=None)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        session_cookie_name(), path="/", secure=_secure(), httponly=True, samesite="lax"
    )


async def optional_person(request: Request, session: SessionDep) -> SignedIn | None:
    return await service.signed_in(session, raw_id=request.cookies.get(session_cookie_name()))


async def current_person(
    who: Annotated[SignedIn | None, Depends(optional_person)],
) -> SignedIn:
    if who is None:
        raise SignInRequired()
    return who


OptionalPerson = Annotated[SignedIn | None, Depends(optional_person)]
CurrentPerson = Annotated[SignedIn, Depends(current_person)]


async def current_staff(who: CurrentPerson) -> Staff:
    """The person and the federation they work in; 404 for a person who belongs to none."""
    access = who.current
    if access is None:
        raise NotFound()
    return Staff(who=who, access=access)


CurrentStaff = Annotated[Staff, Depends(current_staff)]


def staff_with(role: Role) -> Callable[[Staff], Awaitable[Staff]]:
    """A dependency: the current staff, whose role must be at least `role` (else a 403 page)."""

    async def check(staff: CurrentStaff) -> Staff:
        service.require_role(staff.access, role)
        return staff

    return check


RedaktorStaff = Annotated[Staff, Depends(staff_with(Role.REDAKTOR))]
AnsvarigStaff = Annotated[Staff, Depends(staff_with(Role.ANSVARIG))]
AdminStaff = Annotated[Staff, Depends(staff_with(Role.ADMIN))]


async def verify_csrf(request: Request, who: SignedIn) -> dict[str, str]:
    """The form's fields, once its CSRF token matches the session's; else a 403 page."""
    fields = await form_fields(request)
    if not constant_time_equal(fields.get(CSRF_FIELD, ""), who.csrf):
        raise CsrfRefused()
    return fields


def form_token(request: Request) -> str:
    """The double-submit token for a form shown before signing in (reused while the cookie
    lives); the page handler sets it with `keep_form_token`."""
    return request.cookies.get(form_cookie_name()) or secrets.token_urlsafe(24)


def keep_form_token(response: Response, token: str) -> None:
    _set_cookie(response, form_cookie_name(), token, max_age=3600)


async def verify_form_token(request: Request) -> dict[str, str]:
    """The form's fields, once its token matches the cookie. A cross-site page cannot read the
    cookie, and SameSite=Lax keeps it off cross-site POSTs, so a forged form fails here."""
    fields = await form_fields(request)
    cookie = request.cookies.get(form_cookie_name(), "")
    if not cookie or not constant_time_equal(fields.get(CSRF_FIELD, ""), cookie):
        raise CsrfRefused()
    return fields
