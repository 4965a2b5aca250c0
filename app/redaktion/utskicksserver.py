"""Utskicksserver in Redaktionen, for install admins only: a federation's own relay (the fields
PATCH /api/v1/federations/{slug} takes from an admin key) and a connection test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.actors import Actor
from app.config import SmtpSecurity, get_settings
from app.delivery.smtp import Probe
from app.errors import NotFound, Unprocessable
from app.federations import service as federation_service
from app.federations.relay import RELAY_FIELDS
from app.federations.schemas import FederationUpdate
from app.http import CommittingRoute, SessionDep
from app.users.schemas import Staff
from app.users.sessions import CurrentStaff, verify_csrf
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/installningar/utskicksserver"
# Shown back in the form; the password never is.
SHOWN = ("smtp_host", "smtp_port", "smtp_security", "smtp_username")


def _install_admin(staff: Staff) -> Staff:
    # Same answer as a page that does not exist: a federation admin learns nothing of it.
    if not staff.who.user.is_install_admin:
        raise NotFound()
    return staff


def _values(staff: Staff) -> dict[str, str]:
    federation = staff.federation
    return {f: str(getattr(federation, f) or "") for f in SHOWN}


def _page(
    request: Request,
    staff: Staff,
    *,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    probe: Probe | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    federation = staff.federation
    settings = get_settings()
    return render_staff_page(
        request,
        "utskicksserver.html",
        {
            "title": "Utskicksserver",
            "f": federation,
            "values": values or _values(staff),
            "password_set": bool(federation.smtp_password),
            "securities": [s.value for s in SmtpSecurity],
            "install_relay": f"{settings.smtp_host}:{settings.smtp_port}",
            "errors": errors or [],
            "probe": probe,
            "saved": request.query_params.get("klart") == "sparat",
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE)
async def relay_page(request: Request, staff: CurrentStaff) -> HTMLResponse:
    return _page(request, _install_admin(staff))


def _changes(fields: dict[str, str]) -> dict[str, Any]:
    """The PATCH the form stands for: an empty host removes the override; an empty password
    keeps the saved one unless the person asked to remove it."""
    if not fields.get("smtp_host", "").strip():
        return dict.fromkeys(RELAY_FIELDS)
    changes: dict[str, Any] = {f: fields.get(f, "").strip() or None for f in SHOWN}
    if fields.get("smtp_password"):
        changes["smtp_password"] = fields["smtp_password"]
    elif fields.get("ta_bort_losenord") == "ja":
        changes["smtp_password"] = None
    return changes


@router.post(BASE, response_model=None)
async def save_relay(request: Request, staff: CurrentStaff, session: SessionDep) -> Response:
    _install_admin(staff)
    fields = await verify_csrf(request, staff.who)
    values = {f: fields.get(f, "").strip() for f in SHOWN}
    try:
        update = FederationUpdate.model_validate(_changes(fields))
    except ValidationError as exc:
        wrong = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return _page(request, staff, values=values, errors=wrong, status_code=422)
    try:
        async with session.begin_nested():
            await federation_service.update_federation(
                session,
                federation=staff.federation,
                changes=update,
                actor=Actor.person(user_id=staff.who.user.id, email=staff.who.user.email),
                by_admin=True,
            )
    except Unprocessable as exc:
        details = exc.details if isinstance(exc.details, list) else []
        # The service refuses a host it may not reach, or cleartext to a remote one.
        wrong = ["klartext" if d["loc"][-1] == "smtp_security" else "smtp_host" for d in details]
        return _page(request, staff, values=values, errors=wrong, status_code=422)
    return RedirectResponse(f"{BASE}?klart=sparat", status_code=303)


@router.post(BASE + "/testa", response_model=None)
async def test_relay(request: Request, staff: CurrentStaff) -> HTMLResponse:
    _install_admin(staff)
    await verify_csrf(request, staff.who)
    probe = await federation_service.probe_relay(staff.federation)
    return _page(request, staff, probe=probe)
