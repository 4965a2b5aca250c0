"""Händelselogg: the federation's audit log as a filterable Swedish page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.audit import service
from app.audit.models import AuditAction
from app.http import CommittingRoute, SessionDep
from app.messages import AUDIT_ACTIONS
from app.users.sessions import CurrentStaff
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/redaktion/handelselogg")
async def audit_log_page(
    request: Request,
    staff: CurrentStaff,
    session: SessionDep,
    handelse: Annotated[str, Query(max_length=40)] = "",
    fran: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    # An unknown filter value shows everything rather than an error: it came from a URL.
    action = AuditAction(handelse) if handelse in AuditAction.__members__.values() else None
    page = await service.list_log(
        session,
        federation_id=staff.federation.id,
        actions=[action] if action else (),
        cursor=fran or None,
        limit=PAGE_SIZE,
    )
    return render_staff_page(
        request,
        "handelselogg.html",
        {
            "title": "Händelselogg",
            "entries": page.items,
            "next_cursor": page.next_cursor,
            "action": action,
            "labels": AUDIT_ACTIONS,
            "zone": staff.federation.timezone,
        },
        who=staff.who,
    )
