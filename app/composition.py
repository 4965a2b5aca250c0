"""Wires the domains into the delivery engine: the campaigns and subscribers builders go into
the runner here, so delivery depends only on its own ports (app.delivery.ports). The CLI, the
worker, the dev server and the web app's after-commit send call delivery through this module,
and the worker loop runs the subscribers' CSV import jobs beside the dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.service import prepare_for_sending
from app.delivery import recovery, runner
from app.delivery.after_commit import AfterCommitSends
from app.delivery.models import Delivery
from app.delivery.outcomes import DispatchReport
from app.delivery.ports import MailBuilders

# The builders of mail other than campaigns are imported when first called: a cron tick of
# `newsletter dispatch` that sends a campaign never needs them, and importing their services
# cost it about 0.05 s of CPU (bench/results-speed.md, "Session of 2026-11-27, third").


async def _transactional(session: AsyncSession, *, delivery: Delivery) -> tuple[str, bytes]:
    from app.subscribers.service import build_transactional_mail

    return await build_transactional_mail(session, delivery=delivery)


async def _sign_in(session: AsyncSession, *, delivery: Delivery) -> tuple[str, bytes]:
    from app.users.service import build_sign_in_mail

    return await build_sign_in_mail(session, delivery=delivery)


async def _draft_notice(session: AsyncSession, *, delivery: Delivery) -> tuple[str, bytes]:
    from app.seasons.service import build_draft_notice_mail

    return await build_draft_notice_mail(session, delivery=delivery)


BUILDERS = MailBuilders(
    campaign=prepare_for_sending,
    transactional=_transactional,
    sign_in=_sign_in,
    draft_notice=_draft_notice,
)


async def dispatch_once(
    *,
    max_seconds: float | None = None,
    stop: asyncio.Event | None = None,
    progress: runner.Progress | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    connections: int | None = None,
) -> DispatchReport:
    """One cron tick (see app.delivery.runner.dispatch_once)."""
    return await runner.dispatch_once(
        BUILDERS,
        max_seconds=max_seconds,
        stop=stop,
        progress=progress,
        sessionmaker=sessionmaker,
        connections=connections,
    )


async def send_now(delivery_id: int) -> None:
    """Best-effort immediate send of one delivery (the CLI's, after its commit)."""
    await runner.send_now(BUILDERS, delivery_id)


_after_commit = AfterCommitSends(
    lambda ids, claimed: runner.send_batch(BUILDERS, ids, claimed=claimed)
)


async def send_after_commit(delivery_id: int) -> None:
    """The web app's best-effort send right after a commit, coalesced with the others of this
    process (app.delivery.after_commit); the dispatcher sends what it could not."""
    await _after_commit.send(delivery_id)


async def run_worker_loop(
    stop_event: asyncio.Event,
    interval: float = 2.0,
    on_tick: Callable[[DispatchReport], Awaitable[None]] | None = None,
) -> None:
    """Dispatch and run CSV import jobs in a loop until stop_event is set (the worker command,
    dev mode). The two loops run side by side: a long import never holds up a send."""
    from app.subscribers import import_jobs

    await asyncio.gather(
        runner.run_worker_loop(BUILDERS, stop_event, interval=interval, on_tick=on_tick),
        import_jobs.run_loop(stop_event, interval=interval),
    )


async def recover(
    *, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> DispatchReport:
    """Settle deliveries left `sending` by dispatchers that died (also done by every run)."""
    return await recovery.recover(owner=runner.new_owner(), sessionmaker=sessionmaker)
