"""The public archive: a federation's sent newsletters and their non-personal web versions."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.campaigns import service
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep
from app.messages import swedish_date
from app.openapi import IdPath
from app.web.pages import render_page


@dataclass(frozen=True)
class ArchiveEntry:
    id: int
    subject: str
    iso: str | None
    date: str | None


router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

# The web version is the mail's own HTML, whose styles are inline: allow inline style and
# nothing that runs.
WEB_VERSION_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


async def _entries(session: SessionDep, federation: Federation) -> list[ArchiveEntry]:
    entries = []
    for campaign in await service.archive_list(session, federation=federation):
        sent = campaign.started_at or campaign.send_at
        entries.append(
            ArchiveEntry(
                id=campaign.id,
                subject=campaign.subject,
                iso=sent.isoformat() if sent else None,
                date=swedish_date(sent, federation.timezone) if sent else None,
            )
        )
    return entries


@router.get("/f/{slug}/arkiv", response_class=HTMLResponse)
async def archive(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    federation = await service.public_federation(session, slug=slug)
    return render_page(
        request,
        "arkiv.html",
        {"title": "Tidigare nyhetsbrev", "campaigns": await _entries(session, federation)},
        federation=federation,
    )


@router.get("/f/{slug}/arkiv.atom")
async def archive_feed(slug: str, session: SessionDep) -> Response:
    federation = await service.public_federation(session, slug=slug)
    return Response(
        await service.archive_feed(session, federation=federation),
        media_type="application/atom+xml; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=600"},
    )


# Registered before /arkiv/{campaign_id}, which would otherwise claim the word.
@router.get("/f/{slug}/arkiv/inbaddning", response_class=HTMLResponse)
async def archive_embed(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    """The archive list alone, for an iframe on the federation's own site (its listed
    origins only, by frame-ancestors)."""
    federation = await service.public_federation(session, slug=slug)
    return render_page(
        request,
        "arkiv_inbaddning.html",
        {"title": "Tidigare nyhetsbrev", "campaigns": await _entries(session, federation)},
        federation=federation,
    )


@router.get("/f/{slug}/arkiv/{campaign_id}", response_class=HTMLResponse)
async def archived_campaign(
    slug: str, campaign_id: IdPath, session: SessionDep, forhandsvisning: str | None = None
) -> HTMLResponse:
    federation = await service.public_federation(session, slug=slug)
    body = await service.web_version(
        session, federation=federation, campaign_id=campaign_id, preview=forhandsvisning
    )
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": WEB_VERSION_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
