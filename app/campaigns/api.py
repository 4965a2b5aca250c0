"""Staff API for campaigns: drafts, preview, test sends, scheduling, cancelling, statistics."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from app.campaigns import service
from app.campaigns.models import Campaign
from app.campaigns.schemas import (
    CampaignCreate,
    CampaignList,
    CampaignPreview,
    CampaignRead,
    CampaignStats,
    CampaignUpdate,
    DeliveryFilter,
    DeliveryPage,
    DeliveryRead,
    MarkdownWarningRead,
    RequeueResult,
    ScheduleRequest,
    TestSendRequest,
    TestSendResult,
)
from app.federations.auth import CallerActor, CurrentFederation
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep, send_after_commit
from app.openapi import IdPath, component_schema
from app.rendering.markdown import MarkdownWarning

router = APIRouter(
    prefix="/api/v1/federations/{slug}/campaigns", tags=["campaigns"], route_class=CommittingRoute
)
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid API key"},
    404: {"description": "No such campaign or federation for this key"},
}
STATE_ERRORS: dict[int | str, dict[str, str]] = {
    **ERRORS,
    409: {"description": "The campaign is not in a state that allows this"},
    422: {"description": "Invalid input"},
}


def _read(federation: Federation, campaign: Campaign) -> CampaignRead:
    """The campaign with its times in UTC and in the federation's zone."""
    read = CampaignRead.model_validate(campaign)
    read.archive_url = service.public_archive_url(federation, campaign)
    zone = ZoneInfo(federation.timezone)
    read.timezone = federation.timezone
    read.send_at_local = campaign.send_at.astimezone(zone) if campaign.send_at else None
    read.started_at_local = campaign.started_at.astimezone(zone) if campaign.started_at else None
    read.finished_at_local = campaign.finished_at.astimezone(zone) if campaign.finished_at else None
    return read


async def _checked(session: SessionDep, federation: Federation, campaign: Campaign) -> CampaignRead:
    """The campaign with its Markdown warnings (one extra render)."""
    read = _read(federation, campaign)
    found = await service.warnings(session, federation=federation, campaign=campaign)
    read.warnings = _warnings(found)
    return read


def _warnings(found: list[MarkdownWarning]) -> list[MarkdownWarningRead]:
    return [MarkdownWarningRead(line=w.line, code=w.code, message=w.message) for w in found]


@router.post("", status_code=201, responses=STATE_ERRORS, summary="Create a draft")
async def create_campaign(
    data: CampaignCreate, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.create_campaign(session, federation=federation, data=data, actor=actor)
    return await _checked(session, federation, campaign)


@router.get("", responses=ERRORS, summary="List campaigns, newest first")
async def list_campaigns(federation: CurrentFederation, session: SessionDep) -> CampaignList:
    campaigns = await service.list_campaigns(session, federation_id=federation.id)
    return CampaignList(items=[_read(federation, c) for c in campaigns])


@router.get("/{campaign_id}", responses=ERRORS, summary="Get a campaign")
async def get_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep
) -> CampaignRead:
    campaign = await service.get_campaign(
        session, federation_id=federation.id, campaign_id=campaign_id
    )
    return await _checked(session, federation, campaign)


@router.patch("/{campaign_id}", responses=STATE_ERRORS, summary="Change a draft")
async def update_campaign(
    campaign_id: IdPath,
    data: CampaignUpdate,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
) -> CampaignRead:
    campaign = await service.update_campaign(
        session, federation=federation, campaign_id=campaign_id, data=data, actor=actor
    )
    return await _checked(session, federation, campaign)


@router.delete("/{campaign_id}", status_code=204, responses=STATE_ERRORS, summary="Delete a draft")
async def delete_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> Response:
    await service.delete_campaign(
        session, federation_id=federation.id, campaign_id=campaign_id, actor=actor
    )
    return Response(status_code=204)


@router.get(
    "/{campaign_id}/preview",
    responses={
        **ERRORS,
        200: {
            "content": {
                "text/html": {},
                "text/plain": {},
                "application/json": {"schema": component_schema(CampaignPreview)},
            }
        },
    },
    response_class=HTMLResponse,
    summary="The mail as sent, for the sample subscriber Anna Andersson",
    description="`format=json` gives both parts and the Markdown warnings; the HTML and text "
    "formats carry the number of warnings in `X-Markdown-Warnings`.",
)
async def preview_campaign(
    campaign_id: IdPath,
    federation: CurrentFederation,
    session: SessionDep,
    format: Annotated[Literal["html", "text", "json"], Query()] = "html",
) -> Response:
    text, html, found = await service.preview_campaign(
        session, federation=federation, campaign_id=campaign_id
    )
    counted = {"X-Markdown-Warnings": str(len(found))}
    if format == "json":
        preview = CampaignPreview(html=html, text=text, warnings=_warnings(found))
        return JSONResponse(preview.model_dump())
    if format == "text":
        return PlainTextResponse(text, headers=counted)
    # The preview is the mail itself: no scripts, and nothing else may run in its context.
    return HTMLResponse(
        html,
        headers={
            **counted,
            "Content-Security-Policy": "default-src 'none'; img-src https: http: data:; "
            "style-src 'unsafe-inline'; frame-ancestors 'none'",
        },
    )


@router.post("/{campaign_id}/test", status_code=202, responses=STATE_ERRORS, summary="Send a test")
async def send_test(
    campaign_id: IdPath,
    data: TestSendRequest,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
    request: Request,
) -> TestSendResult:
    deliveries = await service.send_test(
        session,
        federation=federation,
        campaign_id=campaign_id,
        addresses=[str(a) for a in data.addresses],
        actor=actor,
    )
    # Like a confirmation: out at once after the commit, not at the next dispatcher tick.
    send_after_commit(request, *(d.id for d in deliveries))
    return TestSendResult(queued=len(deliveries), delivery_ids=[d.id for d in deliveries])


@router.post("/{campaign_id}/schedule", responses=STATE_ERRORS, summary="Schedule sending")
async def schedule_campaign(
    campaign_id: IdPath,
    data: ScheduleRequest,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
) -> CampaignRead:
    campaign = await service.schedule_campaign(
        session, federation=federation, campaign_id=campaign_id, send_at=data.send_at, actor=actor
    )
    return _read(federation, campaign)


@router.post(
    "/{campaign_id}/unschedule", responses=STATE_ERRORS, summary="Back to draft (not sent)"
)
async def unschedule_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.unschedule_campaign(
        session, federation_id=federation.id, campaign_id=campaign_id, actor=actor
    )
    return _read(federation, campaign)


@router.post(
    "/{campaign_id}/duplicate",
    status_code=201,
    responses=STATE_ERRORS,
    summary="Copy into a new draft",
)
async def duplicate_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.duplicate_campaign(
        session, federation=federation, campaign_id=campaign_id, actor=actor
    )
    return await _checked(session, federation, campaign)


@router.post(
    "/{campaign_id}/pause",
    responses=STATE_ERRORS,
    summary="Pause a campaign that is sending (resume continues it)",
)
async def pause_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.pause_campaign(
        session, federation_id=federation.id, campaign_id=campaign_id, actor=actor
    )
    return _read(federation, campaign)


@router.post("/{campaign_id}/send-now", responses=STATE_ERRORS, summary="Send at once")
async def send_now(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.schedule_now(
        session, federation=federation, campaign_id=campaign_id, actor=actor
    )
    return _read(federation, campaign)


@router.post("/{campaign_id}/cancel", responses=STATE_ERRORS, summary="Cancel")
async def cancel_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.cancel_campaign(
        session, federation_id=federation.id, campaign_id=campaign_id, actor=actor
    )
    return _read(federation, campaign)


@router.post(
    "/{campaign_id}/resume",
    responses=STATE_ERRORS,
    summary="Resume a paused campaign (by staff, or after the relay refused the sender)",
)
async def resume_campaign(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> CampaignRead:
    campaign = await service.resume_campaign(
        session, federation_id=federation.id, campaign_id=campaign_id, actor=actor
    )
    return _read(federation, campaign)


@router.post(
    "/{campaign_id}/requeue-unknown",
    responses=STATE_ERRORS,
    summary="Send again the deliveries whose outcome is unknown",
)
async def requeue_unknown(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> RequeueResult:
    count = await service.requeue_unknown(
        session, federation_id=federation.id, campaign_id=campaign_id, actor=actor
    )
    return RequeueResult(requeued=count)


@router.get("/{campaign_id}/stats", responses=ERRORS, summary="Live delivery counts")
async def campaign_stats(
    campaign_id: IdPath, federation: CurrentFederation, session: SessionDep
) -> CampaignStats:
    campaign, recipients, counts = await service.campaign_stats(
        session, federation_id=federation.id, campaign_id=campaign_id
    )
    return CampaignStats(
        campaign_id=campaign.id, status=campaign.status, recipients=recipients, counts=counts
    )


@router.get(
    "/{campaign_id}/deliveries",
    responses={**ERRORS, 422: {"description": "Invalid filter or cursor"}},
    summary="Per-recipient outcomes, newest first (no message bodies)",
    description="`status` filters by a delivery state, or `bounced` for the failed ones the "
    "receiving side refused for good. Test sends are not listed.",
)
async def list_deliveries(
    campaign_id: IdPath,
    federation: CurrentFederation,
    session: SessionDep,
    status: Annotated[DeliveryFilter | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=100, description="From next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryPage:
    page = await service.list_deliveries(
        session,
        federation_id=federation.id,
        campaign_id=campaign_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return DeliveryPage(
        items=[DeliveryRead.model_validate(row) for row in page.items],
        next_cursor=page.next_cursor,
    )
