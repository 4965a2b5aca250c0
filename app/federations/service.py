"""Use cases for federations (tenants) and staff API keys."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.cache import Cache, clear_after_commit
from app.clock import now
from app.config import get_settings
from app.delivery import service as delivery_service
from app.delivery.smtp import Probe, ProbeStage
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.federations import relay, repository
from app.federations.models import ApiKey, Federation
from app.federations.schemas import (
    ApiKeyCreated,
    ApiKeyRead,
    EmbedSnippets,
    FederationCreate,
    FederationRead,
    FederationUpdate,
    relay_problem,
)
from app.messages import EMBED_TITLES
from app.security import new_api_key, token_hash

KEY_PREFIX_LENGTH = 12
# Every visitor page reads its federation; staff change one a few times a year.
_public_by_slug: Cache[Federation | None] = Cache("federations by slug")
_public_by_id: Cache[Federation | None] = Cache("federations by id")


def _changed(session: AsyncSession) -> None:
    clear_after_commit(session, _public_by_slug)
    clear_after_commit(session, _public_by_id)


async def create_federation(
    session: AsyncSession, *, data: FederationCreate, actor: Actor
) -> Federation:
    """Create a federation; 409 if the slug is taken."""
    if await repository.get_by_slug(session, data.slug) is not None:
        raise Conflict(f"A federation with slug {data.slug!r} already exists.")
    await _check_relay_target(data.smtp_host)
    _changed(session)
    federation = await repository.add(session, Federation(**data.model_dump()))
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.FEDERATION_CREATED,
        federation_id=federation.id,
        target_type="federation",
        target_id=federation.id,
        summary=f"{federation.name} ({federation.slug})",
    )
    return federation


async def get_or_create_federation(
    session: AsyncSession, *, data: FederationCreate
) -> tuple[Federation, bool]:
    """The federation with data.slug, created from data if missing (never overwritten)."""
    existing = await repository.get_by_slug(session, data.slug)
    if existing is not None:
        return existing, False
    _changed(session)
    return await repository.add(session, Federation(**data.model_dump())), True


async def find_federation(session: AsyncSession, *, slug: str) -> Federation | None:
    """The federation behind a slug, or None: the one lookup every domain goes through (each
    caller decides what a miss answers: a staff 404, a Swedish page, a CLI error)."""
    return await repository.get_by_slug(session, slug)


async def find_federation_by_id(session: AsyncSession, federation_id: int) -> Federation | None:
    """The federation with this id, or None (erased meanwhile)."""
    return await repository.get_by_id(session, federation_id)


async def public_federation(session: AsyncSession, *, slug: str) -> Federation | None:
    """find_federation for the visitor pages: a shared read-only copy, detached from any
    session, never older than the commit that changed it here (MAX_AGE_SECONDS elsewhere)."""

    async def load() -> Federation | None:
        return _detached(session, await repository.get_by_slug(session, slug))

    return await _public_by_slug.get(slug, load)


async def public_federation_by_id(session: AsyncSession, federation_id: int) -> Federation | None:
    """find_federation_by_id for the visitor pages and the mails they cause (see
    public_federation)."""

    async def load() -> Federation | None:
        return _detached(session, await repository.get_by_id(session, federation_id))

    return await _public_by_id.get(federation_id, load)


def cached_public_federation(slug: str) -> Federation | None:
    """The federation public_federation would answer now, from the cache alone: None when the
    slug is unknown or its entry is missing or older than the cache's MAX_AGE_SECONDS."""
    return _public_by_slug.peek(slug)


def _detached(session: AsyncSession, federation: Federation | None) -> Federation | None:
    if federation is not None:
        session.expunge(federation)
    return federation


async def get_federation(session: AsyncSession, *, slug: str) -> Federation:
    federation = await find_federation(session, slug=slug)
    if federation is None:
        raise NotFound(f"No federation with slug {slug!r}.")
    return federation


async def get_federation_by_id(session: AsyncSession, *, federation_id: int) -> Federation:
    federation = await repository.get_by_id(session, federation_id)
    if federation is None:
        raise NotFound("No such federation.")
    return federation


async def list_federations(session: AsyncSession) -> Sequence[Federation]:
    return await repository.list_all(session)


async def update_federation(
    session: AsyncSession,
    *,
    federation: Federation,
    changes: FederationUpdate,
    actor: Actor,
    by_admin: bool,
) -> Federation:
    """Apply the fields present in a PATCH; only an admin may change the relay override."""
    values = changes.model_dump(exclude_unset=True)
    if not by_admin and any(name in values for name in relay.RELAY_FIELDS):
        raise Forbidden("Only an admin key may set a federation's relay.")
    if values.get("smtp_host"):
        await _check_relay_target(values["smtp_host"])
    host = values.get("smtp_host", federation.smtp_host)
    security = values.get("smtp_security", federation.smtp_security)
    problem = relay_problem(host, security)
    if problem:
        raise Unprocessable(problem, details=[{"loc": ["body", "smtp_security"], "msg": problem}])
    for name, value in values.items():
        setattr(federation, name, value)
    await session.flush()
    _changed(session)
    if values:
        # Names the fields, not their values: a relay password never reaches the log.
        await audit_service.record(
            session,
            actor=actor,
            action=AuditAction.SETTINGS_CHANGED,
            federation_id=federation.id,
            target_type="federation",
            target_id=federation.id,
            summary="ändrade " + ", ".join(sorted(values)),
        )
    return federation


async def _check_relay_target(host: str | None) -> None:
    problem = await relay.target_problem(host) if host else None
    if problem:
        raise Unprocessable(problem, details=[{"loc": ["body", "smtp_host"], "msg": problem}])


async def probe_relay(federation: Federation) -> Probe:
    """Test the federation's saved relay (else the installation's) the way the dispatcher will
    connect; the host is checked like a saved one first, so the test is no port scanner."""
    if federation.smtp_host:
        problem = await relay.target_problem(federation.smtp_host)
        if problem:
            return Probe(ProbeStage.REFUSED, problem)
    return await delivery_service.probe_relay(
        host=federation.smtp_host,
        port=federation.smtp_port,
        security=federation.smtp_security,
        username=federation.smtp_username,
        password=federation.smtp_password,
    )


def federation_read(federation: Federation) -> FederationRead:
    """The public view of a federation: the relay password is never returned."""
    return FederationRead.model_validate(
        {
            **{
                name: getattr(federation, name)
                for name in FederationRead.model_fields
                if name != "smtp_password_set"
            },
            "smtp_password_set": bool(federation.smtp_password),
        }
    )


@dataclass
class NewKey:
    key: ApiKey
    raw: str


async def create_api_key(
    session: AsyncSession, *, federation: Federation | None, name: str, actor: Actor
) -> NewKey:
    """A new key for one federation (or an admin key when federation is None); the raw key
    is returned once and only its SHA-256 is stored."""
    raw = new_api_key()
    key = ApiKey(
        federation_id=federation.id if federation else None,
        name=name,
        prefix=raw[:KEY_PREFIX_LENGTH],
        key_hash=token_hash(raw),
        created_at=now(),
    )
    session.add(key)
    await session.flush()
    await _audit_key(session, actor, AuditAction.API_KEY_CREATED, key)
    return NewKey(key=key, raw=raw)


async def _audit_key(session: AsyncSession, actor: Actor, action: AuditAction, key: ApiKey) -> None:
    await audit_service.record(
        session,
        actor=actor,
        action=action,
        federation_id=key.federation_id,
        target_type="api_key",
        target_id=key.id,
        summary=f"{key.name} ({key.prefix}…)",
    )


async def list_api_keys(
    session: AsyncSession, *, federation: Federation | None
) -> Sequence[ApiKey]:
    if federation is None:
        return await repository.admin_keys(session)
    return await repository.keys_for_federation(session, federation.id)


async def revoke_api_key(
    session: AsyncSession, *, key_id: int, actor: Actor, federation_id: int | None = None
) -> ApiKey:
    """Revoke a key by id; revoking twice keeps the first time. With `federation_id`, only a
    key of that federation (404 for any other: a federation admin revokes only their own)."""
    key = await repository.key_by_id(session, key_id)
    if key is None or (federation_id is not None and key.federation_id != federation_id):
        raise NotFound(f"No API key with id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = now()
        await session.flush()
        await _audit_key(session, actor, AuditAction.API_KEY_REVOKED, key)
    return key


async def revoke_api_key_by_reference(
    session: AsyncSession, *, reference: str, actor: Actor
) -> ApiKey:
    """Revoke by numeric id, by the printed prefix, or by the whole key."""
    if reference.isdigit():
        return await revoke_api_key(session, key_id=int(reference), actor=actor)
    whole = await repository.key_by_hash(session, token_hash(reference))
    if whole is not None:
        return await revoke_api_key(session, key_id=whole.id, actor=actor)
    matches = await repository.keys_by_prefix(session, reference[:KEY_PREFIX_LENGTH])
    if len(reference) < KEY_PREFIX_LENGTH or not matches:
        raise NotFound(f"No API key matches {reference!r}.")
    if len(matches) > 1:
        raise Conflict(f"{len(matches)} keys share the prefix {reference!r}; use the id.")
    return await revoke_api_key(session, key_id=matches[0].id, actor=actor)


async def api_key_read(session: AsyncSession, key: ApiKey) -> ApiKeyRead:
    slug = None
    if key.federation_id is not None:
        federation = await find_federation_by_id(session, key.federation_id)
        slug = federation.slug if federation else None
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scope="admin" if key.federation_id is None else "federation",
        federation=slug,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


async def api_key_created(session: AsyncSession, new: NewKey) -> ApiKeyCreated:
    read = await api_key_read(session, new.key)
    return ApiKeyCreated(**read.model_dump(), key=new.raw)


def embed_snippets(federation: Federation) -> EmbedSnippets:
    """Ready-to-paste iframes for the sign-up form and the archive list, and the feed URL."""
    base = f"{get_settings().base_url}/f/{federation.slug}"
    name = html.escape(federation.name, quote=True)

    def iframe(url: str, title: str, height: str) -> str:
        return (
            f'<iframe src="{url}" title="{title} {name}" loading="lazy" '
            f'style="width:100%;max-width:40rem;height:{height};border:0"></iframe>'
        )

    return EmbedSnippets(
        form_url=f"{base}/prenumerera",
        form_iframe=iframe(f"{base}/prenumerera", EMBED_TITLES["form"], "44rem"),
        archive_url=f"{base}/arkiv",
        archive_iframe=iframe(f"{base}/arkiv/inbaddning", EMBED_TITLES["archive"], "30rem"),
        feed_url=f"{base}/arkiv.atom",
        frame_ancestors=list(federation.frame_ancestors or []),
    )
