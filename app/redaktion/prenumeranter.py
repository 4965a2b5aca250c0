"""Redaktionen's Prenumeranter pages: search and filter, detail with the consent history and
bounce state, add, edit the name, list hygiene (unsubscribe on request, resend the confirmation,
reset the bounce state), erase after a confirmation step, CSV import with its report, CSV export.

The same services as the staff API; a handler reads the form, names the actor and chooses the
page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from app import messages
from app.actors import Actor
from app.errors import AppError
from app.http import CommittingRoute, SessionDep
from app.subscribers import export, import_jobs, rights, service
from app.subscribers.models import BounceState, ImportJobStatus, SubscriptionStatus
from app.subscribers.schemas import (
    CreateMode,
    ListFilters,
    StaffUnsubscribe,
    SubscriberCreate,
    SubscriberUpdate,
)
from app.users.schemas import Staff
from app.users.sessions import CurrentStaff, RedaktorStaff, verify_csrf
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/prenumeranter"
SubscriberId = Annotated[int, Path(ge=1, le=2**31 - 1)]
JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE_SIZE = 50
MAX_IMPORT_BYTES = 50 * 1024 * 1024
# The list's "Visa" choice beside the statuses: addresses with a bounce state.
BOUNCED = "studsade"


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _common(staff: Staff) -> dict[str, object]:
    return {
        "status_labels": messages.SUBSCRIPTION_STATUSES,
        "bounce_labels": messages.BOUNCE_STATES,
        "zone": staff.federation.timezone,
    }


def _filters(q: str, status: str) -> tuple[ListFilters, str]:
    """The list's search and "Visa" choice as service filters, and the choice as understood
    (an unknown value shows everyone rather than an error: it can only come from a hand-made
    URL)."""
    if status == BOUNCED:
        return ListFilters(q=q.strip() or None, bounced=True), BOUNCED
    if status in SubscriptionStatus.__members__.values():
        return ListFilters(q=q.strip() or None, status=SubscriptionStatus(status)), status
    return ListFilters(q=q.strip() or None), ""


@router.get(BASE)
async def subscriber_list(
    request: Request,
    staff: CurrentStaff,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    fran: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    filters, chosen = _filters(q, status)
    page = await service.list_subscribers(
        session, federation=staff.federation, filters=filters, cursor=fran or None, limit=PAGE_SIZE
    )
    return render_staff_page(
        request,
        "prenumeranter.html",
        {
            "title": "Prenumeranter",
            "items": page.items,
            "next_cursor": page.next_cursor,
            "first_page": not fran,
            "q": q,
            "status": chosen,
            "bounced": BOUNCED,
            "bounced_label": messages.BOUNCED_FILTER,
            "formats": messages.EXPORT_FORMATS,
            "notice": messages.SUBSCRIBER_NOTICES.get(request.query_params.get("klart", "")),
            **_common(staff),
        },
        who=staff.who,
    )


def _new_form(
    request: Request, staff: Staff, values: dict[str, str], error: str | None, status_code: int
) -> HTMLResponse:
    return render_staff_page(
        request,
        "prenumerant_ny.html",
        {
            "title": "Lägg till prenumerant",
            "values": values,
            "error": messages.SUBSCRIBER_ERRORS.get(error or ""),
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE + "/ny")
async def new_subscriber_form(request: Request, staff: RedaktorStaff) -> HTMLResponse:
    values = {"email": "", "name": "", "mode": "pending", "consent_note": ""}
    return _new_form(request, staff, values, None, 200)


@router.post(BASE + "/ny", response_model=None)
async def add_subscriber(request: Request, staff: RedaktorStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    values = {k: fields.get(k, "").strip() for k in ("email", "name", "mode", "consent_note")}
    try:
        data = SubscriberCreate(
            email=values["email"],
            name=values["name"] or None,
            status=CreateMode.CONFIRMED if values["mode"] == "confirmed" else CreateMode.PENDING,
            consent_note=values["consent_note"] or None,
        )
    except ValidationError as exc:
        fields_wrong = {str(e["loc"][-1]) for e in exc.errors() if e.get("loc")}
        error = "consent_note" if "consent_note" in str(exc) or not fields_wrong else "invalid"
        return _new_form(request, staff, values, error, 422)
    try:
        async with session.begin_nested():
            subscriber = await service.create_subscriber(
                session, federation=staff.federation, data=data, actor=_actor(staff)
            )
    except AppError as exc:
        error = exc.code if exc.code in messages.SUBSCRIBER_ERRORS else "invalid"
        return _new_form(request, staff, values, error, exc.status_code)
    return RedirectResponse(f"{BASE}/{subscriber.id}?klart=tillagd", status_code=303)


@router.get(BASE + "/export")
async def export_subscribers(
    staff: RedaktorStaff,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    format: Annotated[str, Query(max_length=20)] = "",
) -> StreamingResponse:
    filters, _ = _filters(q, status)
    chosen = export.ExportFormat.EXCEL if format == "excel" else export.ExportFormat.CSV
    return StreamingResponse(
        await export.export_csv(
            session, federation_id=staff.federation.id, format=chosen, filters=filters
        ),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{staff.federation.slug}'
            '-prenumeranter.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get(BASE + "/import")
async def import_form(request: Request, staff: RedaktorStaff) -> HTMLResponse:
    return render_staff_page(
        request,
        "prenumeranter_import.html",
        {"title": "Importera prenumeranter", "error": None},
        who=staff.who,
    )


async def _queue(
    request: Request, staff: Staff, session: SessionDep, form: FormData
) -> tuple[int | None, str | None]:
    fields = await verify_csrf(request, staff.who)
    upload = form.get("fil")
    mode = CreateMode.CONFIRMED if fields.get("mode") == "confirmed" else CreateMode.PENDING
    note = fields.get("consent_note", "").strip() or None
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, "file"
    if mode is CreateMode.CONFIRMED and note is None:
        return None, "consent_note"
    try:
        job = await import_jobs.queue_import(
            session,
            federation=staff.federation,
            source=upload.file,
            filename=upload.filename,
            mode=mode,
            consent_note=note,
            method="staff_import",
            actor=_actor(staff),
        )
    except AppError:
        return None, "file"
    return job.id, None


@router.post(BASE + "/import", response_model=None)
async def import_subscribers(
    request: Request, staff: RedaktorStaff, session: SessionDep
) -> Response:
    """Queue the file for the worker and show its job page (the import itself can take
    minutes for a large file)."""
    declared = request.headers.get("content-length", "")
    job_id: int | None = None
    error: str | None = "file"
    if not (declared.isdigit() and int(declared) > MAX_IMPORT_BYTES):
        form = await request.form(max_files=1, max_fields=10)
        try:
            job_id, error = await _queue(request, staff, session, form)
        finally:
            await form.close()
    if job_id is not None:
        return RedirectResponse(f"{BASE}/import/{job_id}", status_code=303)
    return render_staff_page(
        request,
        "prenumeranter_import.html",
        {
            "title": "Importera prenumeranter",
            "error": messages.SUBSCRIBER_ERRORS.get(error or ""),
        },
        who=staff.who,
        status_code=422,
    )


async def _job_page(
    request: Request, staff: Staff, session: SessionDep, job_id: int, template: str
) -> HTMLResponse:
    job = await import_jobs.get_import_job(
        session, federation_id=staff.federation.id, job_id=job_id
    )
    context = {
        "title": "Import av prenumeranter",
        "job": job,
        "report": import_jobs.job_report(job),
        "labels": messages.IMPORT_PROBLEMS,
        "job_statuses": messages.IMPORT_JOB_STATUSES,
        "failure": messages.IMPORT_FAILURES.get(job.failure or ""),
        "in_progress": job.status in (ImportJobStatus.QUEUED, ImportJobStatus.RUNNING),
    }
    return render_staff_page(request, template, context, who=staff.who)


@router.get(BASE + "/import/{job_id}")
async def import_job(
    request: Request, job_id: JobId, staff: RedaktorStaff, session: SessionDep
) -> HTMLResponse:
    """An import's progress, then its report."""
    return await _job_page(request, staff, session, job_id, "prenumeranter_importjobb.html")


@router.get(BASE + "/import/{job_id}/framsteg")
async def import_job_progress(
    request: Request, job_id: JobId, staff: RedaktorStaff, session: SessionDep
) -> HTMLResponse:
    """The progress panel alone (htmx polls it; without JavaScript the page refreshes)."""
    return await _job_page(request, staff, session, job_id, "_import_framsteg.html")


async def _detail(
    request: Request,
    staff: Staff,
    session: SessionDep,
    subscriber_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    subscriber = await service.get_subscriber(
        session, federation=staff.federation, subscriber_id=subscriber_id
    )
    history = await service.consent_history(
        session, federation=staff.federation, subscriber_id=subscriber_id
    )
    return render_staff_page(
        request,
        "prenumerant.html",
        {
            "title": subscriber.email,
            "s": subscriber,
            "history": history,
            "events": messages.CONSENT_EVENTS,
            "methods": messages.CONSENT_METHODS,
            "bounce_ok": BounceState.OK,
            "notice": _notice(request.query_params.get("klart", "")),
            "error": messages.LIST_HYGIENE_ERRORS.get(error or ""),
            **_common(staff),
        },
        who=staff.who,
        status_code=status_code,
    )


def _notice(key: str) -> str | None:
    return messages.SUBSCRIBER_NOTICES.get(key) or messages.LIST_HYGIENE_NOTICES.get(key)


@router.get(BASE + "/{subscriber_id}")
async def subscriber_page(
    request: Request, subscriber_id: SubscriberId, staff: CurrentStaff, session: SessionDep
) -> HTMLResponse:
    return await _detail(request, staff, session, subscriber_id)


@router.post(BASE + "/{subscriber_id}", response_model=None)
async def edit_name(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    name = fields.get("name", "").strip()[:200]
    await service.update_subscriber(
        session,
        federation=staff.federation,
        subscriber_id=subscriber_id,
        changes=SubscriberUpdate(name=name or None),
        actor=_actor(staff),
    )
    return RedirectResponse(f"{BASE}/{subscriber_id}?klart=sparad", status_code=303)


async def _action_page(
    request: Request,
    staff: Staff,
    session: SessionDep,
    subscriber_id: int,
    template: str,
    context: dict[str, object],
    status_code: int = 200,
) -> HTMLResponse:
    """A page about one subscriber before an action: the confirmation step, or its form again."""
    subscriber = await service.get_subscriber(
        session, federation=staff.federation, subscriber_id=subscriber_id
    )
    return render_staff_page(
        request,
        template,
        {"s": subscriber, **_common(staff), **context},
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE + "/{subscriber_id}/radera")
async def erase_confirmation(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> HTMLResponse:
    return await _action_page(
        request, staff, session, subscriber_id, "prenumerant_radera.html",
        {"title": "Radera prenumerant"},
    )  # fmt: skip


@router.post(BASE + "/{subscriber_id}/radera", response_model=None)
async def erase(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    await verify_csrf(request, staff.who)
    await rights.erase_subscriber(
        session, federation=staff.federation, subscriber_id=subscriber_id, actor=_actor(staff)
    )
    return RedirectResponse(f"{BASE}?klart=raderad", status_code=303)


@router.get(BASE + "/{subscriber_id}/avsluta")
async def unsubscribe_confirmation(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> HTMLResponse:
    return await _action_page(
        request, staff, session, subscriber_id, "prenumerant_avsluta.html",
        {"title": "Avsluta prenumerationen", "note": "", "error": None},
    )  # fmt: skip


@router.post(BASE + "/{subscriber_id}/avsluta", response_model=None)
async def unsubscribe(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    fields = await verify_csrf(request, staff.who)
    note = fields.get("note", "")
    try:
        data = StaffUnsubscribe(note=note or None)
    except ValidationError:
        error = messages.LIST_HYGIENE_ERRORS["note"]
        return await _action_page(
            request, staff, session, subscriber_id, "prenumerant_avsluta.html",
            {"title": "Avsluta prenumerationen", "note": note, "error": error}, 422,
        )  # fmt: skip
    # Which notice to show is the page's concern; the service itself changes nothing twice.
    before = await service.get_subscriber(
        session, federation=staff.federation, subscriber_id=subscriber_id
    )
    done = "redan_avslutad" if before.status == SubscriptionStatus.UNSUBSCRIBED else "avslutad"
    await service.unsubscribe_on_request(
        session,
        federation=staff.federation,
        subscriber_id=subscriber_id,
        note=data.note or None,
        actor=_actor(staff),
    )
    return RedirectResponse(f"{BASE}/{subscriber_id}?klart={done}", status_code=303)


@router.post(BASE + "/{subscriber_id}/bekraftelse", response_model=None)
async def resend_confirmation(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    await verify_csrf(request, staff.who)
    try:
        async with session.begin_nested():
            await service.resend_confirmation(
                session,
                federation=staff.federation,
                subscriber_id=subscriber_id,
                actor=_actor(staff),
            )
    except AppError as exc:
        if exc.code not in messages.LIST_HYGIENE_ERRORS:
            raise
        return await _detail(
            request, staff, session, subscriber_id, error=exc.code, status_code=exc.status_code
        )
    return RedirectResponse(f"{BASE}/{subscriber_id}?klart=bekraftelse", status_code=303)


@router.get(BASE + "/{subscriber_id}/studsar")
async def reset_bounces_confirmation(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> HTMLResponse:
    return await _action_page(
        request, staff, session, subscriber_id, "prenumerant_studsar.html",
        {"title": "Nollställ studsar"},
    )  # fmt: skip


@router.post(BASE + "/{subscriber_id}/studsar", response_model=None)
async def reset_bounces(
    request: Request, subscriber_id: SubscriberId, staff: RedaktorStaff, session: SessionDep
) -> Response:
    await verify_csrf(request, staff.who)
    await service.reset_bounces(
        session, federation=staff.federation, subscriber_id=subscriber_id, actor=_actor(staff)
    )
    return RedirectResponse(f"{BASE}/{subscriber_id}?klart=studsar", status_code=303)
