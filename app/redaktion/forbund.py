"""Install admins in Redaktionen: create a federation (the switcher on Översikt reaches all)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.actors import Actor
from app.errors import AppError, NotFound
from app.federations import service as federation_service
from app.federations.schemas import FederationCreate
from app.http import CommittingRoute, SessionDep
from app.users import service as user_service
from app.users.schemas import SignedIn
from app.users.sessions import CurrentPerson, verify_csrf
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/forbund/nytt"
FIELDS = ("slug", "name", "from_name", "from_email", "postal_address")


def _install_admin(who: SignedIn) -> SignedIn:
    # Same answer as a page that does not exist: others learn nothing of it.
    if not who.user.is_install_admin:
        raise NotFound()
    return who


def _form(
    request: Request, who: SignedIn, values: dict[str, str], errors: list[str], status: int
) -> HTMLResponse:
    return render_staff_page(
        request,
        "forbund_nytt.html",
        {"title": "Nytt förbund", "values": values, "errors": errors},
        who=who,
        status_code=status,
    )


@router.get(BASE)
async def new_federation_form(request: Request, who: CurrentPerson) -> HTMLResponse:
    _install_admin(who)
    return _form(request, who, dict.fromkeys(FIELDS, ""), [], 200)


@router.post(BASE, response_model=None)
async def create_federation(request: Request, who: CurrentPerson, session: SessionDep) -> Response:
    _install_admin(who)
    fields = await verify_csrf(request, who)
    values = {f: fields.get(f, "").strip() for f in FIELDS}
    try:
        data = FederationCreate.model_validate(values)
    except ValidationError as exc:
        wrong = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return _form(request, who, values, wrong, 422)
    try:
        async with session.begin_nested():
            federation = await federation_service.create_federation(
                session,
                data=data,
                actor=Actor.person(user_id=who.user.id, email=who.user.email),
            )
    except AppError:
        return _form(request, who, values, ["slug"], 409)
    await user_service.switch_federation(session, who=who, slug=federation.slug, refresh=True)
    return RedirectResponse("/redaktion/installningar", status_code=303)
