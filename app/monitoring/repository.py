"""Queries on dispatcher_ticks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.monitoring.models import OUTCOMES, DispatcherTick


async def add_tick(
    session: AsyncSession, *, dispatcher: str, at: datetime, counts: Mapping[str, int]
) -> None:
    """Insert the row or add to it in one statement, so concurrent dispatchers never lose a
    count (both dialects have the same ON CONFLICT … DO UPDATE)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {name: counts.get(name, 0) for name in OUTCOMES}
    statement = insert(DispatcherTick).values(
        dispatcher=dispatcher, last_tick_at=at, ticks=1, **values
    )
    statement = statement.on_conflict_do_update(
        index_elements=[DispatcherTick.dispatcher],
        set_={
            "last_tick_at": statement.excluded.last_tick_at,
            "ticks": DispatcherTick.ticks + 1,
            **{name: getattr(DispatcherTick, name) + statement.excluded[name] for name in OUTCOMES},
        },
    )
    await session.execute(statement)


async def list_ticks(session: AsyncSession) -> Sequence[DispatcherTick]:
    rows = await session.execute(select(DispatcherTick).order_by(DispatcherTick.dispatcher))
    return rows.scalars().all()
