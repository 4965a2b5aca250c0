"""Staff API for the federation's year: seasonal rules that make drafts on the right day."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.clock import now
from app.federations.auth import CallerActor, CurrentFederation
from app.federations.models import Federation
from app.http import CommittingRoute, SessionDep
from app.openapi import IdPath, error_responses
from app.seasons import service
from app.seasons.models import SeasonalRule
from app.seasons.schemas import SeasonalRuleCreate, SeasonalRuleList, SeasonalRuleRead

router = APIRouter(
    prefix="/api/v1/federations/{slug}/seasonal-rules",
    tags=["seasonal rules"],
    route_class=CommittingRoute,
)


def _read(federation: Federation, rule: SeasonalRule) -> SeasonalRuleRead:
    read = SeasonalRuleRead.model_validate(rule)
    read.next_date = service.next_date(rule, service.local_today(federation, now()))
    return read


@router.post("", status_code=201, responses=error_responses(401, 404, 422), summary="Add a rule")
async def create_rule(
    data: SeasonalRuleCreate, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> SeasonalRuleRead:
    rule = await service.create_rule(session, federation=federation, data=data, actor=actor)
    return _read(federation, rule)


@router.get("", responses=error_responses(401, 404), summary="List rules with their next day")
async def list_rules(federation: CurrentFederation, session: SessionDep) -> SeasonalRuleList:
    rules = await service.list_rules(session, federation_id=federation.id)
    return SeasonalRuleList(items=[_read(federation, r) for r in rules])


@router.delete(
    "/{rule_id}", status_code=204, responses=error_responses(401, 404), summary="Remove a rule"
)
async def delete_rule(
    rule_id: IdPath, federation: CurrentFederation, session: SessionDep, actor: CallerActor
) -> Response:
    await service.delete_rule(session, federation_id=federation.id, rule_id=rule_id, actor=actor)
    return Response(status_code=204)
