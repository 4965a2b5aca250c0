"""Översikt, Redaktionen's first page: the federation's campaigns by state, the next send in
local time, subscriber counts, recent sign-ups and anything that needs attention."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import messages
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.http import CommittingRoute, SessionDep
from app.subscribers import service as subscriber_service
from app.users.sessions import CurrentPerson
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

# Sent campaigns looked at for unknown outcomes and failures (the newest first).
RECENT_SENT = 5


@router.get("/redaktion")
async def overview(request: Request, who: CurrentPerson, session: SessionDep) -> HTMLResponse:
    context: dict[str, object] = {"title": "Översikt", "has_federation": who.current is not None}
    access = who.current
    if access is not None:
        federation = access.federation
        campaigns = await campaign_service.list_campaigns(session, federation_id=federation.id)
        by_status: dict[str, int] = {}
        for c in campaigns:
            by_status[c.status] = by_status.get(c.status, 0) + 1
        upcoming = sorted(
            (c for c in campaigns if c.status == CampaignStatus.SCHEDULED and c.send_at),
            key=lambda c: c.send_at or c.created_at,
        )
        attention: list[tuple[object, str]] = []
        watched = [c for c in campaigns if c.status == CampaignStatus.PAUSED] + [
            c for c in campaigns if c.status in (CampaignStatus.SENDING, CampaignStatus.SENT)
        ][:RECENT_SENT]
        for c in watched:
            _, _, counts = await campaign_service.campaign_stats(
                session, federation_id=federation.id, campaign_id=c.id
            )
            if c.status == CampaignStatus.PAUSED:
                attention.append((c, "är pausat: " + (c.paused_reason or "mejlservern vägrade")))
            if counts.get("unknown"):
                attention.append((c, f"{counts['unknown']} mejl med okänt utfall"))
            if counts.get("failed"):
                attention.append((c, f"{counts['failed']} mejl misslyckades"))
        subscribers = await subscriber_service.overview(session, federation=federation)
        context.update(
            {
                "by_status": by_status,
                "status_labels": messages.CAMPAIGN_STATUS,
                "next_send": upcoming[0] if upcoming else None,
                "attention": attention,
                "subscriber_counts": subscribers.counts,
                "subscriber_labels": messages.SUBSCRIPTION_STATUSES,
                "recent": subscribers.recent,
                "zone": federation.timezone,
            }
        )
    return render_staff_page(request, "oversikt.html", context, who=who)
