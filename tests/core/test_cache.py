"""The in-process cache for rarely changing rows: fresh within its age, dropped on commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache import MAX_AGE_SECONDS, Cache, clear_after_commit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Loader:
    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        return self.value


class TestCache:
    async def test_a_value_is_read_once_while_fresh(self, clock: Clock) -> None:
        cache: Cache[str] = Cache("t", clock=clock)
        load = Loader("a")
        assert await cache.get("k", load) == "a"
        clock.now += MAX_AGE_SECONDS / 2
        assert await cache.get("k", load) == "a"
        assert load.calls == 1

    async def test_another_workers_change_is_seen_after_the_max_age(self, clock: Clock) -> None:
        cache: Cache[str] = Cache("t", clock=clock)
        load = Loader("old")
        await cache.get("k", load)
        load.value = "new"
        clock.now += MAX_AGE_SECONDS
        assert await cache.get("k", load) == "new"

    async def test_a_value_read_before_a_clear_is_not_kept(self, clock: Clock) -> None:
        cache: Cache[str] = Cache("t", clock=clock)

        async def load_then_change() -> str:
            # Another request commits a change (and clears) while this one is reading.
            cache.clear()
            return "old"

        assert await cache.get("k", load_then_change) == "old"
        assert await cache.get("k", Loader("new")) == "new"


class TestClearAfterCommit:
    async def test_a_value_cached_during_the_transaction_is_dropped_at_commit(
        self, session: AsyncSession
    ) -> None:
        cache: Cache[str] = Cache("t")
        await session.execute(text("SELECT 1"))
        clear_after_commit(session, cache)
        # A concurrent reader caches the row as it was before this transaction commits.
        await cache.get("k", Loader("old"))
        await session.commit()
        assert await cache.get("k", Loader("new")) == "new"

    async def test_a_rollback_leaves_nothing_to_drop_later(self, session: AsyncSession) -> None:
        cache: Cache[str] = Cache("t")
        await session.execute(text("SELECT 1"))
        clear_after_commit(session, cache)
        await session.rollback()
        await cache.get("k", Loader("kept"))
        await session.commit()
        assert await cache.get("k", Loader("other")) == "kept"
