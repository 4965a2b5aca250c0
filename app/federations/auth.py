"""Bearer API keys for the staff API: who is calling, and which federation they may reach.

Use in routes:

    from app.federations.auth import AdminKey, CurrentFederation

    @router.get("/api/v1/federations/{slug}/campaigns")
    async def list_campaigns(federation: CurrentFederation, session: SessionDep) -> ...:
        ...  # federation is the Federation row named by {slug}, already authorised

- ``CurrentFederation`` (for routes with a ``{slug}`` path parameter) resolves the federation
  for the caller's key. A federation key reaches only its own federation; an admin key
  reaches every federation. Another federation's slug answers 404 exactly as a nonexistent
  one, so a key cannot probe which federations exist.
- ``AdminKey`` requires an admin key (403 for a valid federation key).
- ``CallerKey`` is any valid key; ``CallerActor`` is the same key as the audit log's actor.
Missing, unknown or revoked keys answer 401 with ``WWW-Authenticate: Bearer``. Each use
records ``last_used_at`` (at most once a minute, to keep reads from becoming writes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.actors import Actor
from app.clock import now
from app.errors import Forbidden, NotFound, Unauthorized
from app.federations import repository
from app.federations import service as federation_service
from app.federations.models import ApiKey, Federation
from app.http import SessionDep
from app.security import constant_time_equal, token_hash

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A staff API key from `newsletter apikey create`: `Authorization: Bearer nb_…`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]

TOUCH_INTERVAL = timedelta(minutes=1)


async def caller_key(session: SessionDep, credentials: Credentials) -> ApiKey:
    """The valid, unrevoked key presented as `Authorization: Bearer <key>`."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    digest = token_hash(credentials.credentials)
    key = await repository.key_by_hash(session, digest)
    # The lookup is by hash, so timing reveals nothing about the key; compare anyway.
    if key is None or not constant_time_equal(key.key_hash, digest):
        raise Unauthorized()
    if key.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.")
    at = now()
    if key.last_used_at is None or at - key.last_used_at >= TOUCH_INTERVAL:
        key.last_used_at = at
    return key


CallerKey = Annotated[ApiKey, Depends(caller_key)]


async def admin_key(key: CallerKey) -> ApiKey:
    """The caller's key, which must be an admin key."""
    if key.federation_id is not None:
        raise Forbidden("This endpoint needs an admin key.")
    return key


AdminKey = Annotated[ApiKey, Depends(admin_key)]


async def caller_actor(key: CallerKey) -> Actor:
    """The calling key as the audit log names it (services record changes with it)."""
    return Actor.key(api_key_id=key.id, name=key.name, prefix=key.prefix)


CallerActor = Annotated[Actor, Depends(caller_actor)]

SlugPath = Annotated[
    str,
    Path(description="The federation's slug.", examples=["sf-norra"], max_length=63),
]


async def federation_for_key(slug: SlugPath, session: SessionDep, key: CallerKey) -> Federation:
    """The federation named by {slug}, if the caller's key may reach it; else 404."""
    federation = await federation_service.find_federation(session, slug=slug)
    if federation is None:
        raise NotFound("Federation not found.")
    if key.federation_id is not None and key.federation_id != federation.id:
        # Same answer as a nonexistent slug: no key learns which other federations exist.
        raise NotFound("Federation not found.")
    return federation


CurrentFederation = Annotated[Federation, Depends(federation_for_key)]
