"""In-process caches for rows that change rarely (federations, privacy notices) read on every
public page; dropped after the commit that changes them, and re-read after a short time anyway
so other worker processes see a change too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

V = TypeVar("V")

# How long another worker process may show the old value after a change; the process that made
# the change drops it at once. Short enough for staff editing a federation, long enough that a
# busy form page reads the database about once a second per worker instead of per request.
MAX_AGE_SECONDS = 2.0

# Unknown slugs are cached too (as None); a flood of them empties the cache instead of growing it.
MAX_ENTRIES = 1000
_PENDING = "app.cache.pending"
# The clock every cache reads unless given its own (tests move it on).
monotonic = time.monotonic


class Cache(Generic[V]):
    """key -> value, each entry read at most once per MAX_AGE_SECONDS."""

    def __init__(
        self, name: str, *, keep_none: bool = True, clock: Callable[[], float] | None = None
    ) -> None:
        self.name = name
        # False: a None (not there yet) is not kept, so the next reader looks again.
        self.keep_none = keep_none
        self.clock = clock or (lambda: monotonic())
        self._entries: dict[Hashable, tuple[float, V]] = {}
        # Loads under way: a busy page's requests that find the entry old share one read
        # instead of all reading (and rendering) at once, a stall every MAX_AGE_SECONDS.
        self._loading: dict[Hashable, asyncio.Future[tuple[bool, V | None]]] = {}
        self._generation = 0
        _ALL.append(self)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        entry = self._entries.get(key)
        current = self.clock()
        if entry is not None and current - entry[0] < MAX_AGE_SECONDS:
            return entry[1]
        flight = self._loading.get(key)
        if flight is not None:
            # shield: a reader that gives up must not cancel the others' answer.
            loaded, shared = await asyncio.shield(flight)
            if loaded:
                return cast(V, shared)
            # The load failed for its own request: read for this one.
        return await self._load(key, load, current)

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[V]], current: float) -> V:
        generation = self._generation
        flight: asyncio.Future[tuple[bool, V | None]] = asyncio.get_running_loop().create_future()
        self._loading[key] = flight
        value: V | None = None
        loaded = False
        try:
            value = await load()
            loaded = True
        finally:
            flight.set_result((loaded, value))
            if self._loading.get(key) is flight:
                del self._loading[key]
        # A change committed while this load ran cleared the cache: keep no value read before it.
        if generation == self._generation and (value is not None or self.keep_none):
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (current, value)
        return value

    def peek(self, key: Hashable) -> V | None:
        """The fresh cached value, or None without loading."""
        entry = self._entries.get(key)
        if entry is not None and self.clock() - entry[0] < MAX_AGE_SECONDS:
            return entry[1]
        return None

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        # A reader after the change must not share a load that began before it.
        self._loading.clear()


_ALL: list[Cache[Any]] = []


def clear_all() -> None:
    """Forget every cached value (tests, and after a change)."""
    for cache in _ALL:
        cache.clear()


def clear_after_commit(session: AsyncSession, cache: Cache[V]) -> None:
    """Drop `cache` now and again once this session's transaction commits (a request that read
    the old row before the commit must not keep it)."""
    cache.clear()
    if session.in_transaction():
        session.sync_session.info.setdefault(_PENDING, set()).add(cache)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for cache in session.info.pop(_PENDING, ()):
        cache.clear()


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back change has nothing to drop; a later commit in this session is another change.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
