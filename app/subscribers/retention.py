"""Retention: delete what the rules say may no longer be kept, and log every run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.clock import now
from app.config import get_settings
from app.federations import service as federation_service
from app.subscribers import repository
from app.subscribers.models import RetentionRun

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass
class PurgeSummary:
    unconfirmed: int = 0
    unsubscribed: int = 0
    tokens: int = 0
    client_data: int = 0
    audit: int = 0


async def purge(session: AsyncSession) -> PurgeSummary:
    """Apply the retention settings to every federation; running it again finds nothing new.

    - sign-ups never confirmed within unconfirmed_retention_days are deleted (with their
      tokens and consent records; their confirmation mails keep no address);
    - subscribers unsubscribed longer ago than the federation's unsubscribed_retention_days
      (default: the setting) are deleted the same way;
    - tokens expired more than expired_token_retention_days ago are deleted;
    - IP address and user agent on consent records older than ip_retention_days are cleared;
    - audit log rows older than audit_retention_days are deleted (also the install-wide ones,
      logged as a run without a federation).
    Each federation gets one RetentionRun row per rule, also when nothing was due, so the
    log shows that the rule ran (Swedish archive law may require the decision per federation).
    """
    settings = get_settings()
    current = now()
    summary = PurgeSummary()
    audit_cutoff = current - timedelta(days=settings.audit_retention_days)
    for federation in await federation_service.list_federations(session):
        fid = federation.id
        unconfirmed = 0
        cutoff = current - timedelta(days=settings.unconfirmed_retention_days)
        while ids := await repository.stale_pending_ids(
            session, federation_id=fid, created_before=cutoff, limit=BATCH
        ):
            await repository.forget_deliveries(
                session, federation_id=fid, subscriber_ids=ids, email=None
            )
            unconfirmed += await repository.delete_subscribers(
                session, federation_id=fid, subscriber_ids=ids
            )
        unsubscribed = 0
        days = federation.unsubscribed_retention_days or settings.unsubscribed_retention_days
        while ids := await repository.departed_ids(
            session,
            federation_id=fid,
            unsubscribed_before=current - timedelta(days=days),
            limit=BATCH,
        ):
            await repository.forget_deliveries(
                session, federation_id=fid, subscriber_ids=ids, email=None
            )
            unsubscribed += await repository.delete_subscribers(
                session, federation_id=fid, subscriber_ids=ids
            )
        tokens = await repository.delete_expired_tokens(
            session,
            federation_id=fid,
            expired_before=current - timedelta(days=settings.expired_token_retention_days),
        )
        client_data = await repository.prune_client_data(
            session,
            federation_id=fid,
            occurred_before=current - timedelta(days=settings.ip_retention_days),
        )
        audit = await audit_service.purge(session, federation_id=fid, before=audit_cutoff)
        counts = {
            "unconfirmed_subscribers": unconfirmed,
            "unsubscribed_subscribers": unsubscribed,
            "expired_tokens": tokens,
            "consent_client_data": client_data,
            "audit_log": audit,
        }
        for kind, count in counts.items():
            session.add(RetentionRun(federation_id=fid, ran_at=current, kind=kind, count=count))
        # The log says what the retention_runs rows say, from the same counts.
        log.info(
            "retention for %s: %s",
            federation.slug,
            ", ".join(f"{kind} {count}" for kind, count in counts.items()),
        )
        summary.unconfirmed += unconfirmed
        summary.unsubscribed += unsubscribed
        summary.tokens += tokens
        summary.client_data += client_data
        summary.audit += audit
    install_wide = await audit_service.purge(session, federation_id=None, before=audit_cutoff)
    session.add(
        RetentionRun(federation_id=None, ran_at=current, kind="audit_log", count=install_wide)
    )
    summary.audit += install_wide
    await session.flush()
    return summary


async def recent_runs(
    session: AsyncSession, *, federation_id: int, limit: int = 8
) -> Sequence[RetentionRun]:
    """The federation's newest retention log rows (one per rule and run), newest first."""
    return await repository.recent_retention_runs(session, federation_id=federation_id, limit=limit)
