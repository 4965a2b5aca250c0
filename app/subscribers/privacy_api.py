"""Staff API for the federation's texts: the form's consent sentence and the privacy notice,
saved as versions (each save is a new version; consent records point at the one shown)."""

from __future__ import annotations

from fastapi import APIRouter

from app.federations.auth import CallerActor, CurrentFederation
from app.http import CommittingRoute, SessionDep
from app.openapi import error_responses
from app.subscribers import consent
from app.subscribers.schemas import PrivacyNoticeCreate, PrivacyNoticeList, PrivacyNoticeRead

router = APIRouter(
    prefix="/api/v1/federations/{slug}/privacy-notices",
    tags=["privacy notices"],
    route_class=CommittingRoute,
)


@router.get("", responses=error_responses(401, 404), summary="Every version, newest first")
async def list_notices(federation: CurrentFederation, session: SessionDep) -> PrivacyNoticeList:
    notices = await consent.list_notices(session, federation=federation)
    return PrivacyNoticeList(items=[PrivacyNoticeRead.model_validate(n) for n in notices])


@router.post(
    "",
    status_code=201,
    responses=error_responses(401, 404, 409, 422),
    summary="Save the form wording and privacy notice as a new version",
)
async def publish_notice(
    data: PrivacyNoticeCreate,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
) -> PrivacyNoticeRead:
    notice = await consent.publish_notice(
        session,
        federation=federation,
        form_text=data.form_text,
        privacy_text=data.privacy_text,
        actor=actor,
    )
    return PrivacyNoticeRead.model_validate(notice)
