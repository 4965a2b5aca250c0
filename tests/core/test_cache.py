"""The in-process cache for rarely changing rows: fresh within its age, dropped on commit."""

from __future__ import annotations

import asyncio

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


class Gate:
    """A load that waits until the test opens it, then answers `value` (or fails)."""

    def __init__(self, value: str, *, fail: bool = False) -> None:
        self.value = value
        self.fail = fail
        self.calls = 0
        self.open = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        await self.open.wait()
        if self.fail:
            raise RuntimeError("the database went away")
        return self.value


async def started(*coros: object) -> list[asyncio.Task[str]]:
    tasks = [asyncio.ensure_future(c) for c in coros]  # type: ignore[call-overload]
    await asyncio.sleep(0)
    return tasks


class TestConcurrentReaders:
    async def test_readers_of_an_old_entry_share_one_load(self, clock: Clock) -> None:
        cache: Cache[str] = Cache("t", clock=clock)
        load = Gate("a")
        tasks = await started(*(cache.get("k", load) for _ in range(5)))
        load.open.set()
        assert await asyncio.gather(*tasks) == ["a"] * 5
        assert load.calls == 1

    async def test_a_reader_after_a_clear_reads_again(self, clock: Clock) -> None:
        cache: Cache[str] = Cache("t", clock=clock)
        before = Gate("old")
        (early,) = await started(cache.get("k", before))
        cache.clear()  # a change committed while the early read runs
        after = Gate("new")
        (late,) = await started(cache.get("k", after))
        before.open.set()
        after.open.set()
        assert await early == "old"
        assert await late == "new"
        assert await cache.get("k", Loader("newer")) == "new"

    async def test_a_failed_load_leaves_the_others_to_read_for_themselves(
        self, clock: Clock
    ) -> None:
        cache: Cache[str] = Cache("t", clock=clock)
        failing = Gate("x", fail=True)
        (first,) = await started(cache.get("k", failing))
        second = Loader("b")
        (waiting,) = await started(cache.get("k", second))
        failing.open.set()
        with pytest.raises(RuntimeError):
            await first
        assert await waiting == "b"
        assert second.calls == 1

    async def test_a_reader_that_gives_up_leaves_the_load_to_the_others(self, clock: Clock) -> None:
        cache: Cache[str] = Cache("t", clock=clock)
        load = Gate("a")
        first, impatient = await started(cache.get("k", load), cache.get("k", load))
        impatient.cancel()
        load.open.set()
        assert await first == "a"
        with pytest.raises(asyncio.CancelledError):
            await impatient
        assert load.calls == 1


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
