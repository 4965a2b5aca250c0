"""Inställningar in Redaktionen (admins): the federation's details and colours with a contrast
check before saving, four eyes, the embed snippet, people and roles, and API keys. Its
subpages: Årsplan (arsplan.py), Inbäddning (inbaddning.py) and, for install admins, the relay
(utskicksserver.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.actors import Actor
from app.config import get_settings
from app.errors import AppError
from app.federations import service as federation_service
from app.federations.models import Federation
from app.federations.schemas import FederationUpdate
from app.http import CommittingRoute, SessionDep, send_after_commit
from app.rendering.colors import contrast
from app.rendering.transactional import action_color, safe_color, text_color_on
from app.users import service as user_service
from app.users.models import Role
from app.users.schemas import Staff
from app.users.sessions import AdminStaff, verify_csrf
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/installningar"
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
TEXT_FIELDS = (
    "name",
    "from_name",
    "from_email",
    "reply_to",
    "postal_address",
    "contact_email",
    "website_url",
    "logo_url",
    "brand_color",
    "accent_color",
    "timezone",
    "default_sign_off",
    "default_signature_name",
    "default_signature_title",
)
# Optional columns: an empty field clears them.
OPTIONAL = {
    "reply_to",
    "contact_email",
    "website_url",
    "logo_url",
    "default_signature_name",
    "default_signature_title",
}
# How new letters end (`default_sign_off`): the theme's line (null), none (empty), or the text.
SIGN_OFF_CHOICES = ("tema", "ingen", "egen")
NOTICES = {
    "sparat": "Inställningarna är sparade.",
    "inbjuden": "Personen är inbjuden och har fått en inloggningslänk.",
    "roll": "Rollen är ändrad.",
    "borttagen": "Personen är borttagen ur förbundet.",
    "aterkallad": "API-nyckeln är återkallad.",
    "last_admin": "Förbundet måste ha minst en administratör.",
    "invalid": "Kontrollera uppgifterna och försök igen.",
}


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _values(federation: Federation) -> dict[str, str]:
    values = {f: str(getattr(federation, f) or "") for f in TEXT_FIELDS}
    sign_off = federation.default_sign_off
    values["sign_off_choice"] = "tema" if sign_off is None else "egen" if sign_off else "ingen"
    return values


def _sign_off(values: dict[str, str]) -> str | None:
    """The form's choice as `default_sign_off` takes it (null: the theme's, empty: none)."""
    choice = values.get("sign_off_choice")
    if choice == "ingen":
        return ""
    if choice == "egen" and values.get("default_sign_off"):
        return values["default_sign_off"]
    return None


def _colour_check(values: dict[str, str]) -> list[dict[str, Any]]:
    """What the colours give, as the mails and pages use them: the header text on the brand
    colour and the buttons on white, with their contrast ratios (WCAG AA needs 4.5:1)."""
    brand = safe_color(values.get("brand_color"))
    on_brand = text_color_on(brand)
    action = action_color(brand)
    return [
        {
            "what": "Rubrikfältets text på profilfärgen",
            "fg": on_brand,
            "bg": brand,
            "ratio": contrast(on_brand, brand),
        },
        {
            "what": "Knappar och länkar på vit botten (färgen mörkas vid behov)",
            "fg": action,
            "bg": "#ffffff",
            "ratio": contrast(action, "#ffffff"),
        },
    ]


async def _page(
    request: Request,
    staff: Staff,
    session: SessionDep,
    *,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    new_key: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    federation = staff.federation
    shown = values or _values(federation)
    keys = await federation_service.list_api_keys(session, federation=federation)
    people = await user_service.people_of(session, federation=federation)
    base = get_settings().base_url
    key = request.query_params.get("klart") or request.query_params.get("fel") or ""
    return render_staff_page(
        request,
        "installningar.html",
        {
            "title": "Inställningar",
            "f": federation,
            "values": shown,
            "four_eyes": federation.four_eyes,
            "colours": _colour_check(shown),
            "errors": errors or [],
            "notice": NOTICES.get(key),
            "keys": keys,
            "new_key": new_key,
            "people": people,
            "roles": [r.value for r in Role],
            "embed": f'<iframe src="{base}/f/{federation.slug}/prenumerera" '
            'title="Prenumerera på nyhetsbrevet" width="100%" height="640" '
            'style="border:0"></iframe>',
            "form_url": f"{base}/f/{federation.slug}/prenumerera",
            "zone": federation.timezone,
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE)
async def settings_page(request: Request, staff: AdminStaff, session: SessionDep) -> HTMLResponse:
    return await _page(request, staff, session)


@router.post(BASE, response_model=None)
async def save_settings(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    values = {f: fields.get(f, "").strip() for f in TEXT_FIELDS}
    choice = fields.get("sign_off_choice", "")
    values["sign_off_choice"] = choice if choice in SIGN_OFF_CHOICES else "tema"
    if fields.get("atgard") == "kontrollera":
        # Only the contrast check: nothing is saved.
        return await _page(request, staff, session, values=values)
    changes: dict[str, Any] = {f: (v or None) if f in OPTIONAL else v for f, v in values.items()}
    del changes["sign_off_choice"]
    changes["default_sign_off"] = _sign_off(values)
    changes["four_eyes"] = fields.get("four_eyes") == "ja"
    try:
        update = FederationUpdate.model_validate(changes)
    except ValidationError as exc:
        wrong = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return await _page(request, staff, session, values=values, errors=wrong, status_code=422)
    try:
        async with session.begin_nested():
            await federation_service.update_federation(
                session,
                federation=staff.federation,
                changes=update,
                actor=_actor(staff),
                # The relay override, like an admin API key, is for install admins only.
                by_admin=staff.who.user.is_install_admin,
            )
    except AppError:
        return await _page(request, staff, session, values=values, errors=["*"], status_code=422)
    return RedirectResponse(f"{BASE}?klart=sparat", status_code=303)


@router.post(BASE + "/personer", response_model=None)
async def invite(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    role = fields.get("roll", "")
    if role not in Role.__members__.values():
        return RedirectResponse(f"{BASE}?fel=invalid#personer", status_code=303)
    try:
        async with session.begin_nested():
            invited = await user_service.invite_person(
                session,
                email=fields.get("email", ""),
                name=fields.get("namn", ""),
                federation=staff.federation,
                role=Role(role),
                actor=_actor(staff),
            )
    except AppError as exc:
        return RedirectResponse(f"{BASE}?fel={_people_error(exc)}#personer", status_code=303)
    send_after_commit(request, invited.delivery_id)
    return RedirectResponse(f"{BASE}?klart=inbjuden#personer", status_code=303)


async def _people_change(session: SessionDep, ok: str, work: Any) -> Response:
    try:
        async with session.begin_nested():
            await work
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return RedirectResponse(f"{BASE}?fel={_people_error(exc)}#personer", status_code=303)
    return RedirectResponse(f"{BASE}?klart={ok}#personer", status_code=303)


def _people_error(exc: AppError) -> str:
    """The page's notice for a refused change of people: its code ("last_admin") or invalid."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return str(details.get("code", "invalid"))


@router.post(BASE + "/personer/{user_id}/roll", response_model=None)
async def change_role(
    request: Request, user_id: Id, staff: AdminStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    role = fields.get("roll", "")
    if role not in Role.__members__.values():
        return RedirectResponse(f"{BASE}?fel=invalid#personer", status_code=303)
    return await _people_change(
        session,
        "roll",
        user_service.change_role(
            session,
            federation=staff.federation,
            user_id=user_id,
            role=Role(role),
            actor=_actor(staff),
        ),
    )


@router.post(BASE + "/personer/{user_id}/ta-bort", response_model=None)
async def remove(request: Request, user_id: Id, staff: AdminStaff, session: SessionDep) -> Response:
    await verify_csrf(request, staff.who)
    return await _people_change(
        session,
        "borttagen",
        user_service.remove_person(
            session, federation=staff.federation, user_id=user_id, actor=_actor(staff)
        ),
    )


@router.post(BASE + "/nycklar", response_model=None)
async def create_key(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    name = fields.get("namn", "").strip()[:200] or "api"
    new = await federation_service.create_api_key(
        session, federation=staff.federation, name=name, actor=_actor(staff)
    )
    # Shown once, on this answer only (no-store): only its hash is kept.
    return await _page(request, staff, session, new_key=new.raw)


@router.post(BASE + "/nycklar/{key_id}/aterkalla", response_model=None)
async def revoke_key(
    request: Request, key_id: Id, staff: AdminStaff, session: SessionDep
) -> Response:
    await verify_csrf(request, staff.who)
    await federation_service.revoke_api_key(
        session, key_id=key_id, federation_id=staff.federation.id, actor=_actor(staff)
    )
    return RedirectResponse(f"{BASE}?klart=aterkallad#nycklar", status_code=303)
