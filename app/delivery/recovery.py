"""Settling the rows of dispatchers that died. The database tells which were on the wire
(`wire_at`, set in a group commit before DATA: unknown) and which never left (queued), so a
dispatcher on another host with no shared disk recovers them. A local journal, when this host
has it, is an optimisation on top: it also knows which the relay accepted (sent)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import now
from app.config import Settings, get_settings
from app.db import get_sessionmaker
from app.delivery import journal as journal_mod
from app.delivery import repository as repo
from app.delivery.journal import Phase
from app.delivery.models import DeliveryStatus
from app.delivery.outcomes import DispatchReport, result_row

log = logging.getLogger(__name__)

RECOVERED_SENT_REPLY = "250 (from the journal of a dispatcher that stopped)"
RECOVERED_UNKNOWN_REPLY = "dispatcher stopped while the message was being sent"


async def recover_stopped(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    owner: str,
    report: DispatchReport,
) -> None:
    """Settle rows left `sending` by a dispatcher other than `owner` that died. A dead local
    dispatcher is recognised at once by its unlocked journal; another host's only when its
    lease has expired. Commits per dispatcher settled, like the run that calls it."""
    ts = now()
    journal_dir = settings.journal_dir
    async with sessionmaker() as session:
        for stopped, lease_until, _count in await repo.sending_owners(session):
            if stopped == owner:
                continue
            path = journal_mod.journal_path(journal_dir, stopped) if stopped else None
            local = path is not None and path.exists()
            expired = lease_until is None or lease_until <= ts
            if local and path is not None:
                # The journal's lock tells for certain: a dispatcher alive on this host keeps
                # its rows whatever its lease says, and a dead one's are settled at once.
                if not journal_mod.is_abandoned(path):
                    continue
            elif not expired:
                continue
            replay = journal_mod.replay(path) if local and path is not None else None
            ids = await repo.sending_ids(session, owner=stopped)
            rows: list[repo.ResultRow] = []
            for delivery_id, on_wire in ids.items():
                phase = (replay.phases.get(delivery_id) if replay else None) or (
                    Phase.ON_WIRE if on_wire else Phase.DONE
                )
                if phase is Phase.SENT:
                    assert replay is not None
                    rows.append(
                        result_row(
                            delivery_id,
                            DeliveryStatus.SENT,
                            None,
                            sent_at=ts,
                            reply=RECOVERED_SENT_REPLY,
                            queue_id=replay.queue_ids.get(delivery_id),
                        )
                    )
                    report.recovered_sent += 1
                elif phase is Phase.ON_WIRE:
                    rows.append(
                        result_row(
                            delivery_id, DeliveryStatus.UNKNOWN, None, reply=RECOVERED_UNKNOWN_REPLY
                        )
                    )
                    report.recovered_unknown += 1
                else:
                    rows.append(
                        result_row(
                            delivery_id, DeliveryStatus.QUEUED, None, next_at=ts, attempts_delta=-1
                        )
                    )
                    report.recovered_requeued += 1
            await repo.write_results(session, owner=None, rows=rows, now=ts)
            await session.commit()
            if rows:
                log.warning("recovered %s deliveries of stopped dispatcher %s", len(rows), stopped)
            if local and path is not None:
                path.unlink(missing_ok=True)
    # Journals of runs that died with nothing left in `sending` are of no further use.
    if journal_dir.exists():
        for path in journal_dir.glob(f"*{journal_mod.SUFFIX}"):
            if path.stem != owner and journal_mod.is_abandoned(path):
                async with sessionmaker() as session:
                    if not await repo.sending_ids(session, owner=path.stem):
                        path.unlink(missing_ok=True)


async def recover(
    *, owner: str, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> DispatchReport:
    """Settle deliveries left `sending` by dispatchers that died (also done by every run)."""
    report = DispatchReport()
    await recover_stopped(
        sessionmaker or get_sessionmaker(), settings=get_settings(), owner=owner, report=report
    )
    return report
