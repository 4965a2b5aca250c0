"""Staff API: federations, their API keys and their audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.audit.schemas import AuditEntryRead, AuditPage
from app.federations import service
from app.federations.auth import AdminKey, CallerActor, CallerKey, CurrentFederation, SlugPath
from app.federations.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    EmbedSnippets,
    FederationCreate,
    FederationRead,
    FederationUpdate,
)
from app.http import CommittingRoute, SessionDep
from app.openapi import STAFF_ERRORS, IdPath, error_responses

router = APIRouter(prefix="/api/v1", tags=["federations"], route_class=CommittingRoute)


@router.post(
    "/federations",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
    summary="Create a federation (admin)",
)
async def create_federation(
    body: FederationCreate, session: SessionDep, _admin: AdminKey, actor: CallerActor
) -> FederationRead:
    federation = await service.create_federation(session, data=body, actor=actor)
    return service.federation_read(federation)


@router.get("/federations", responses=error_responses(401, 403), summary="List federations (admin)")
async def list_federations(session: SessionDep, _admin: AdminKey) -> list[FederationRead]:
    return [service.federation_read(f) for f in await service.list_federations(session)]


@router.get(
    "/federations/{slug}", responses=error_responses(401, 404, 422), summary="Get a federation"
)
async def get_federation(federation: CurrentFederation) -> FederationRead:
    return service.federation_read(federation)


@router.patch(
    "/federations/{slug}",
    responses=error_responses(401, 403, 404, 422),
    summary="Update a federation (the relay override: admin only)",
)
async def update_federation(
    body: FederationUpdate,
    federation: CurrentFederation,
    session: SessionDep,
    actor: CallerActor,
    key: CallerKey,
) -> FederationRead:
    updated = await service.update_federation(
        session,
        federation=federation,
        changes=body,
        actor=actor,
        by_admin=key.federation_id is None,
    )
    return service.federation_read(updated)


@router.get(
    "/federations/{slug}/embed",
    responses=error_responses(401, 404, 422),
    summary="Snippets for the federation's own site: form, archive list, feed",
)
async def embed_snippets(federation: CurrentFederation) -> EmbedSnippets:
    return service.embed_snippets(federation)


@router.get(
    "/federations/{slug}/keys",
    responses=error_responses(401, 403, 404, 422),
    summary="List a federation's API keys (admin)",
    tags=["keys"],
)
async def list_keys(slug: SlugPath, session: SessionDep, _admin: AdminKey) -> list[ApiKeyRead]:
    federation = await service.get_federation(session, slug=slug)
    keys = await service.list_api_keys(session, federation=federation)
    return [await service.api_key_read(session, key) for key in keys]


@router.post(
    "/federations/{slug}/keys",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 422),
    summary="Create an API key for a federation (admin); the key is shown once",
    tags=["keys"],
)
async def create_key(
    slug: SlugPath, body: ApiKeyCreate, session: SessionDep, _admin: AdminKey, actor: CallerActor
) -> ApiKeyCreated:
    federation = await service.get_federation(session, slug=slug)
    new = await service.create_api_key(session, federation=federation, name=body.name, actor=actor)
    return await service.api_key_created(session, new)


@router.delete(
    "/keys/{key_id}",
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke an API key (admin)",
    tags=["keys"],
)
async def revoke_key(
    key_id: IdPath, session: SessionDep, _admin: AdminKey, actor: CallerActor
) -> ApiKeyRead:
    key = await service.revoke_api_key(session, key_id=key_id, actor=actor)
    return await service.api_key_read(session, key)


@router.get(
    "/federations/{slug}/audit-log",
    response_model=AuditPage,
    responses=STAFF_ERRORS,
    summary="The federation's audit log, newest first (cursor paginated)",
    tags=["audit"],
)
async def list_audit_log(
    federation: CurrentFederation,
    session: SessionDep,
    action: Annotated[list[AuditAction] | None, Query(description="Only these actions.")] = None,
    cursor: Annotated[str | None, Query(max_length=100, description="From next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Every change by a person or an API key in this federation."""
    page = await audit_service.list_log(
        session, federation_id=federation.id, actions=action or (), cursor=cursor, limit=limit
    )
    return AuditPage(
        items=[AuditEntryRead.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
