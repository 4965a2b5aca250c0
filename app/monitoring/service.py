"""Use cases: record a dispatcher's tick, read them for /metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.monitoring import repository
from app.monitoring.models import OUTCOMES, DispatcherTick


async def record_tick(session: AsyncSession, *, dispatcher: str, counts: Mapping[str, int]) -> None:
    """Note a finished dispatch run (its liveness) and add what it sent to the totals."""
    await repository.add_tick(
        session, dispatcher=dispatcher, at=now(), counts={k: counts.get(k, 0) for k in OUTCOMES}
    )


async def list_ticks(session: AsyncSession) -> Sequence[DispatcherTick]:
    return await repository.list_ticks(session)
