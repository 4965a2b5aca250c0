"""Bilder in Redaktionen: the federation's image library, uploads (re-encoded by the images
service) and the choice of logo.

Who may do what, by SPEC §9's roles: a redaktör writes letters, and photos are part of a
letter, so every member of staff may upload and see the library. The logo is the federation's
branding in every mail and page, like the rest of Inställningar, so only an admin may choose
it (the API's logo upload is likewise a settings change)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from app import messages
from app.actors import Actor
from app.errors import AppError
from app.http import CommittingRoute, SessionDep
from app.images import service
from app.images.processing import MAX_UPLOAD_BYTES
from app.users import service as user_service
from app.users.models import Role
from app.users.schemas import Staff
from app.users.sessions import AdminStaff, RedaktorStaff, verify_csrf
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/installningar/bilder"
ImageId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOTICES = {
    "uppladdad": "Bilden är uppladdad.",
    "logotyp": "Bilden är nu förbundets logotyp.",
}


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _is_admin(staff: Staff) -> bool:
    return user_service.has_role(staff.role, Role.ADMIN)


async def _page(
    request: Request,
    staff: Staff,
    session: SessionDep,
    *,
    errors: list[str] | None = None,
    alt_text: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    federation = staff.federation
    images = await service.list_images(session, federation_id=federation.id)
    rows = [
        {
            "id": image.id,
            "url": service.public_url(federation, image),
            "alt": image.alt_text,
            "width": image.width,
            "height": image.height,
            "kb": max(1, round(image.byte_size / 1024)),
            "format": image.format.upper(),
            "created_at": image.created_at,
            "is_logo": service.is_logo(federation, image),
        }
        for image in images
    ]
    return render_staff_page(
        request,
        "bilder.html",
        {
            "title": "Bilder",
            "f": federation,
            "images": rows,
            "can_choose_logo": _is_admin(staff),
            "errors": {key: messages.IMAGE_ERRORS[key] for key in errors or []},
            "alt_text": alt_text,
            "notice": NOTICES.get(request.query_params.get("klart", "")),
            "zone": federation.timezone,
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE)
async def images_page(request: Request, staff: RedaktorStaff, session: SessionDep) -> HTMLResponse:
    return await _page(request, staff, session)


def _problem(exc: AppError) -> str:
    details: Any = exc.details if isinstance(exc.details, dict) else {}
    key = str(details.get("reason") or details.get("field") or "invalid")
    return key if key in messages.IMAGE_ERRORS else "invalid"


@router.post(BASE, response_model=None)
async def upload(request: Request, staff: RedaktorStaff, session: SessionDep) -> Response:
    form = await request.form(max_files=1, max_fields=10)
    try:
        return await _upload(request, staff, session, form)
    finally:
        # The spooled upload is closed here, whatever the outcome.
        await form.close()


async def _upload(request: Request, staff: Staff, session: SessionDep, form: FormData) -> Response:
    fields = await verify_csrf(request, staff.who)
    as_logo = fields.get("logotyp") == "ja"
    if as_logo:
        # Checked before anything is stored: a redaktör's upload does not half happen.
        user_service.require_role(staff.access, Role.ADMIN)
    alt_text = fields.get("alt_text", "")
    file = form.get("fil")
    if not isinstance(file, UploadFile) or not file.filename:
        missing = ["file"] + ([] if alt_text.strip() else ["alt_text"])
        return await _page(
            request, staff, session, errors=missing, alt_text=alt_text, status_code=422
        )
    # One byte past the limit is enough for the service to refuse it as too large.
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        async with session.begin_nested():
            store = service.upload_logo if as_logo else service.upload_image
            await store(
                session,
                federation=staff.federation,
                data=data,
                alt_text=alt_text,
                actor=_actor(staff),
            )
    except AppError as exc:
        problem = _problem(exc)
        return await _page(
            request,
            staff,
            session,
            errors=[problem],
            alt_text=alt_text,
            status_code=413 if problem == "too_large" else 422,
        )
    done = "logotyp" if as_logo else "uppladdad"
    return RedirectResponse(f"{BASE}?klart={done}", status_code=303)


@router.post(BASE + "/{image_id}/logotyp", response_model=None)
async def choose_logo(
    request: Request, image_id: ImageId, staff: AdminStaff, session: SessionDep
) -> Response:
    await verify_csrf(request, staff.who)
    await service.use_as_logo(
        session, federation=staff.federation, image_id=image_id, actor=_actor(staff)
    )
    return RedirectResponse(f"{BASE}?klart=logotyp", status_code=303)
