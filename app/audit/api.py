"""Staff API: a federation's audit log (cursor paginated, newest first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.models import AuditAction
from app.audit.schemas import AuditEntryRead, AuditPage
from app.federations.auth import CurrentFederation
from app.http import CommittingRoute, SessionDep
from app.openapi import STAFF_ERRORS

router = APIRouter(
    prefix="/api/v1/federations/{slug}/audit-log", tags=["audit"], route_class=CommittingRoute
)


@router.get("", response_model=AuditPage, responses=STAFF_ERRORS)
async def list_audit_log(
    federation: CurrentFederation,
    session: SessionDep,
    action: Annotated[list[AuditAction] | None, Query(description="Only these actions.")] = None,
    cursor: Annotated[str | None, Query(max_length=100, description="From next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Every change by a person or an API key in this federation, newest first."""
    page = await service.list_log(
        session, federation_id=federation.id, actions=action or (), cursor=cursor, limit=limit
    )
    return AuditPage(
        items=[AuditEntryRead.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
