"""Staff API: a federation's subscribers (list, create, get, update, erase, import, export)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.formparsers import MultiPartParser

from app.errors import PayloadTooLarge, Unprocessable
from app.federations.auth import CallerActor, CurrentFederation
from app.http import CommittingRoute, SessionDep
from app.openapi import IdPath, error_responses
from app.subscribers import export, import_jobs, importer, rights, service
from app.subscribers.schemas import (
    ConfirmationQueued,
    CreateMode,
    ImportJobRead,
    ImportReport,
    ListFilters,
    StaffUnsubscribe,
    SubscriberCreate,
    SubscriberPage,
    SubscriberRead,
    SubscriberUpdate,
)

router = APIRouter(
    prefix="/api/v1/federations/{slug}/subscribers",
    tags=["subscribers"],
    route_class=CommittingRoute,
)

MAX_IMPORT_BYTES = 50 * 1024 * 1024
# Multipart framing around the file: boundaries, part headers, the two small fields.
_MULTIPART_SLACK = 64 * 1024

_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, UTF-8 (BOM allowed), `,` or `;`; columns "
                            "email, name and any others (kept as attributes). At most 50 MB.",
                        },
                        "mode": {"type": "string", "enum": ["pending", "confirmed"]},
                        "consent_note": {"type": "string", "maxLength": 2000},
                    },
                },
                "encoding": {"file": {"contentType": "text/csv"}},
            }
        },
    }
}


@router.get("", responses=error_responses(401, 404, 422), summary="List subscribers")
async def list_subscribers(
    federation: CurrentFederation,
    session: SessionDep,
    filters: Annotated[ListFilters, Depends()],
    cursor: Annotated[str | None, Query(max_length=100, description="From next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SubscriberPage:
    page = await service.list_subscribers(
        session, federation=federation, filters=filters, cursor=cursor, limit=limit
    )
    return SubscriberPage(
        items=[SubscriberRead.model_validate(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 404, 409, 422),
    summary="Add a subscriber (sends a confirmation mail unless status is confirmed)",
)
async def create_subscriber(
    body: SubscriberCreate, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> SubscriberRead:
    subscriber = await service.create_subscriber(
        session, federation=federation, data=body, actor=actor
    )
    return SubscriberRead.model_validate(subscriber)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "CSV with columns email, name, status, created_at, confirmed_at, "
            "unsubscribed_at, attributes (JSON).",
        },
        **error_responses(401, 404, 422),
    },
    summary="Export subscribers as CSV (streamed)",
    description="`format=excel` gives semicolon-separated UTF-8 with a byte-order mark, which "
    "Swedish Excel opens correctly by double-click. The filters are those of the list.",
)
async def export_subscribers(
    federation: CurrentFederation,
    session: SessionDep,
    filters: Annotated[ListFilters, Depends()],
    format: export.ExportFormat = export.ExportFormat.CSV,
) -> StreamingResponse:
    return StreamingResponse(
        await export.export_csv(
            session, federation_id=federation.id, format=format, filters=filters
        ),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{federation.slug}-prenumeranter.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/import",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses={
        200: {"model": ImportReport, "description": "With `wait=true`: the finished import."},
        202: {
            "model": ImportJobRead,
            "description": "The import is queued; follow Location for progress and report.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 404, 413, 422),
    },
    summary="Import subscribers from CSV (multipart upload, at most 50 MB)",
    description="The file is checked (encoding, header, CSV syntax) and queued: the answer is "
    "202 with the job, and a worker imports it, committing as it goes. "
    "`GET …/subscribers/imports/{job_id}` gives progress and, when done, the report. "
    "`wait=true` imports within the request and answers 200 with the report, as the first "
    "version of this endpoint did (for small files; a large one can outlast HTTP timeouts).",
    openapi_extra=_IMPORT_BODY,
)
async def import_subscribers(
    request: Request,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
    wait: Annotated[
        bool, Query(description="Import within the request and answer with the report.")
    ] = False,
) -> JSONResponse:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES + _MULTIPART_SLACK:
        raise PayloadTooLarge("The file is larger than 50 MB.")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Unprocessable("Send the file as multipart/form-data in a field named file.")
    form = await _read_form(request)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Unprocessable(
                "Send the file in a multipart field named file.",
                details=[{"loc": ["body", "file"], "msg": "required"}],
            )
        raw_mode = form.get("mode") or CreateMode.PENDING.value
        if raw_mode not in (CreateMode.PENDING.value, CreateMode.CONFIRMED.value):
            raise Unprocessable(
                "mode must be pending or confirmed.",
                details=[{"loc": ["body", "mode"], "msg": "pending or confirmed"}],
            )
        note = form.get("consent_note")
        consent_note = note if isinstance(note, str) and note.strip() else None
        if wait:
            report = await importer.import_csv(
                session,
                federation=federation,
                source=upload.file,
                mode=CreateMode(str(raw_mode)),
                consent_note=consent_note,
                method="api_import",
                actor=actor,
            )
            return JSONResponse(report.model_dump(mode="json"))
        job = await import_jobs.queue_import(
            session,
            federation=federation,
            source=upload.file,
            filename=upload.filename,
            mode=CreateMode(str(raw_mode)),
            consent_note=consent_note,
            method="api_import",
            actor=actor,
        )
    finally:
        await form.close()
    return JSONResponse(
        import_jobs.job_read(job).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"{router.prefix.format(slug=federation.slug)}/imports/{job.id}"},
    )


@router.get(
    "/imports/{job_id}",
    responses=error_responses(401, 404, 422),
    summary="An import job: status, progress (rows_done of rows_total) and the report",
)
async def get_import_job(
    job_id: IdPath, federation: CurrentFederation, session: SessionDep
) -> ImportJobRead:
    job = await import_jobs.get_import_job(session, federation_id=federation.id, job_id=job_id)
    return import_jobs.job_read(job)


async def _read_form(request: Request) -> Any:
    """Parse the multipart body as it streams in (the file spools to disk past 1 MB), and
    stop with 413 as soon as it passes the limit, whatever Content-Length claimed."""
    received = 0

    async def limited() -> Any:
        nonlocal received
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_IMPORT_BYTES + _MULTIPART_SLACK:
                raise PayloadTooLarge("The file is larger than 50 MB.")
            yield chunk

    parser = MultiPartParser(request.headers, limited(), max_files=1, max_fields=10)
    try:
        return await parser.parse()
    except PayloadTooLarge:
        raise
    except Exception as exc:
        # MultiPartException and malformed framing: the client's fault, never a 500.
        raise Unprocessable(f"The multipart body could not be read: {exc}") from None


@router.get(
    "/{subscriber_id}", responses=error_responses(401, 404, 422), summary="Get a subscriber"
)
async def get_subscriber(
    subscriber_id: IdPath, federation: CurrentFederation, session: SessionDep
) -> SubscriberRead:
    subscriber = await service.get_subscriber(
        session, federation=federation, subscriber_id=subscriber_id
    )
    return SubscriberRead.model_validate(subscriber)


@router.patch(
    "/{subscriber_id}",
    responses=error_responses(401, 404, 422),
    summary="Update a subscriber's name and attributes",
)
async def update_subscriber(
    subscriber_id: IdPath,
    body: SubscriberUpdate,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
) -> SubscriberRead:
    subscriber = await service.update_subscriber(
        session, federation=federation, subscriber_id=subscriber_id, changes=body, actor=actor
    )
    return SubscriberRead.model_validate(subscriber)


@router.post(
    "/{subscriber_id}/unsubscribe",
    responses=error_responses(401, 404, 422),
    summary="Unsubscribe on the person's request (nothing is erased)",
)
async def unsubscribe_subscriber(
    subscriber_id: IdPath,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
    body: StaffUnsubscribe | None = None,
) -> SubscriberRead:
    subscriber = await service.unsubscribe_on_request(
        session,
        federation=federation,
        subscriber_id=subscriber_id,
        note=body.note if body else None,
        actor=actor,
    )
    return SubscriberRead.model_validate(subscriber)


@router.post(
    "/{subscriber_id}/resend-confirmation",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 404, 409, 422),
    summary="Send a pending subscriber a new confirmation mail",
)
async def resend_confirmation(
    subscriber_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> ConfirmationQueued:
    delivery_id = await service.resend_confirmation(
        session, federation=federation, subscriber_id=subscriber_id, actor=actor
    )
    return ConfirmationQueued(delivery_id=delivery_id)


@router.post(
    "/{subscriber_id}/reset-bounces",
    responses=error_responses(401, 404, 422),
    summary="Clear the bounce state (the address works again)",
)
async def reset_bounces(
    subscriber_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> SubscriberRead:
    subscriber = await service.reset_bounces(
        session, federation=federation, subscriber_id=subscriber_id, actor=actor
    )
    return SubscriberRead.model_validate(subscriber)


@router.delete(
    "/{subscriber_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 404, 422),
    summary="Erase a subscriber (removes personal data everywhere; the address is suppressed)",
)
async def erase_subscriber(
    subscriber_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> Response:
    await rights.erase_subscriber(
        session, federation=federation, subscriber_id=subscriber_id, actor=actor
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
