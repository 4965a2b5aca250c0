"""Texter och regler in Redaktionen (admins): the welcome mail with its preview, the sign-up
form's wording and the privacy notice (a new version on each save), and how long unsubscribed
subscribers are kept. Each through the same services as the JSON API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app import messages
from app.actors import Actor
from app.config import get_settings
from app.errors import AppError
from app.federations import service as federation_service
from app.federations.schemas import FederationUpdate
from app.http import CommittingRoute, SessionDep
from app.subscribers import consent, retention
from app.subscribers import service as subscriber_service
from app.subscribers.schemas import PrivacyNoticeCreate
from app.users.schemas import Staff
from app.users.sessions import AdminStaff, verify_csrf
from app.web.pages import mail_preview, render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/installningar/texter"
T = TypeVar("T")
NOTICES = {
    "valkomstbrev": "Välkomstbrevet är sparat.",
    "integritet": "En ny version av texterna är sparad och visas från och med nu.",
    "gallring": "Gallringstiden är sparad.",
}


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _text(fields: dict[str, str], name: str) -> str:
    return fields.get(name, "").replace("\r\n", "\n").strip()


def _wrong(exc: ValidationError) -> list[str]:
    return sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})


async def _page(
    request: Request,
    staff: Staff,
    session: SessionDep,
    *,
    values: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    federation = staff.federation
    settings = get_settings()
    notices = await consent.list_notices(session, federation=federation)
    current = notices[0]
    shown: dict[str, Any] = {
        "welcome_enabled": federation.welcome_enabled,
        "welcome_text": subscriber_service.welcome_body(federation.welcome_text).strip(),
        "form_text": current.form_text,
        "privacy_text": current.privacy_text,
        "retention_days": str(federation.unsubscribed_retention_days or ""),
        **(values or {}),
    }
    welcome = subscriber_service.preview_welcome(federation, text=federation.welcome_text)
    runs = await retention.recent_runs(session, federation_id=federation.id)
    return render_staff_page(
        request,
        "texter.html",
        {
            "title": "Texter och regler",
            "f": federation,
            "values": shown,
            "own_welcome": bool(federation.welcome_text),
            "welcome": welcome,
            "notices": notices,
            "current": current,
            "default_retention_days": settings.unsubscribed_retention_days,
            "unconfirmed_days": settings.unconfirmed_retention_days,
            "ip_days": settings.ip_retention_days,
            "runs": runs,
            "run_kinds": messages.RETENTION_KINDS,
            "store_ip": settings.store_ip_and_user_agent,
            "errors": {
                key: messages.TEXT_ERRORS.get(key, messages.TEXT_ERRORS["invalid"])
                for key in errors or []
            },
            "notice": NOTICES.get(request.query_params.get("klart", "")),
            "zone": federation.timezone,
            "base_url": settings.base_url,
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE)
async def texts_page(request: Request, staff: AdminStaff, session: SessionDep) -> HTMLResponse:
    return await _page(request, staff, session)


async def _save(
    request: Request,
    staff: Staff,
    session: SessionDep,
    *,
    values: dict[str, Any],
    validate: Callable[[], T],
    work: Callable[[T], Awaitable[object]],
    done: str,
) -> Response:
    """Validate, then change in a savepoint; on a refusal the form again with the typed values
    and nothing kept."""
    try:
        data = validate()
    except ValidationError as exc:
        return await _page(
            request, staff, session, values=values, errors=_wrong(exc), status_code=422
        )
    try:
        async with session.begin_nested():
            await work(data)
    except AppError as exc:
        wrong = exc.code if exc.code in messages.TEXT_ERRORS else "invalid"
        return await _page(
            request, staff, session, values=values, errors=[wrong], status_code=exc.status_code
        )
    return RedirectResponse(f"{BASE}?klart={done}#{done}", status_code=303)


def _federation_change(
    session: SessionDep, staff: Staff
) -> Callable[[FederationUpdate], Awaitable[object]]:
    def work(update: FederationUpdate) -> Awaitable[object]:
        return federation_service.update_federation(
            session,
            federation=staff.federation,
            changes=update,
            actor=_actor(staff),
            by_admin=False,
        )

    return work


@router.post(BASE + "/valkomstbrev", response_model=None)
async def save_welcome(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    enabled = fields.get("welcome_enabled") == "ja"
    text = _text(fields, "welcome_text")
    # The default text unchanged (or nothing) is stored as "the default", so the federation
    # follows later improvements of it.
    own = None if text in {"", messages.DEFAULT_WELCOME_TEXT.strip()} else text
    return await _save(
        request,
        staff,
        session,
        values={"welcome_enabled": enabled, "welcome_text": text},
        validate=lambda: FederationUpdate(welcome_enabled=enabled, welcome_text=own),
        work=_federation_change(session, staff),
        done="valkomstbrev",
    )


@router.get(BASE + "/valkomstbrev/forhandsvisning")
async def welcome_preview(staff: AdminStaff) -> HTMLResponse:
    federation = staff.federation
    return mail_preview(
        subscriber_service.preview_welcome(federation, text=federation.welcome_text).html
    )


@router.post(BASE + "/valkomstbrev/forhandsvisning")
async def welcome_draft_preview(request: Request, staff: AdminStaff) -> HTMLResponse:
    # The text as typed, not saved: the form's preview button posts it into the frame.
    fields = await verify_csrf(request, staff.who)
    text = _text(fields, "welcome_text")[:5000]
    return mail_preview(subscriber_service.preview_welcome(staff.federation, text=text).html)


@router.post(BASE + "/integritet", response_model=None)
async def publish_notice(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    values = {name: _text(fields, name) for name in ("form_text", "privacy_text")}

    def publish(data: PrivacyNoticeCreate) -> Awaitable[object]:
        return consent.publish_notice(
            session,
            federation=staff.federation,
            form_text=data.form_text,
            privacy_text=data.privacy_text,
            actor=_actor(staff),
        )

    return await _save(
        request,
        staff,
        session,
        values=values,
        validate=lambda: PrivacyNoticeCreate.model_validate(values),
        work=publish,
        done="integritet",
    )


@router.post(BASE + "/gallring", response_model=None)
async def save_retention(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    raw = fields.get("unsubscribed_retention_days", "").strip()
    values = {"retention_days": raw}
    if raw and not raw.isdigit():
        return await _page(
            request,
            staff,
            session,
            values=values,
            errors=["unsubscribed_retention_days"],
            status_code=422,
        )
    # Empty: the installation's default period.
    days = int(raw) if raw else None
    return await _save(
        request,
        staff,
        session,
        values=values,
        validate=lambda: FederationUpdate(unsubscribed_retention_days=days),
        work=_federation_change(session, staff),
        done="gallring",
    )
