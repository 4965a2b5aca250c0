"""Suppression at send time: who may no longer be mailed, kept fresh while a run sends, so an
unsubscribe, an erasure or a cancel stops mail within seconds instead of at the next claim.

The run's own coroutine refreshes the view (workers never touch the database); a worker
waits for a fresh view before each MAIL FROM, so no transaction starts on a view older than
MAX_AGE_SECONDS. With a commit seen by the next refresh, that keeps the promise that nobody
gets a message whose transaction starts more than 2 s after their unsubscribe committed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery import repository as repo
from app.delivery.models import DeliveryKind
from app.delivery.outcomes import Item, released
from app.delivery.smtp import Outcome, Result

# The run refreshes at least this often while anything is queued or in flight ...
REFRESH_SECONDS = 0.75
# ... and a worker never starts a transaction on an older view.
MAX_AGE_SECONDS = 1.5


class Suppression:
    """The run's view of the subscribers and campaigns it is about to mail."""

    def __init__(self) -> None:
        self.subscribers: Counter[int] = Counter()
        self.campaigns: Counter[int] = Counter()
        self.blockers = repo.SendBlockers()
        self.taken_at = float("-inf")
        self.closed = False
        self._refreshed = asyncio.Event()

    def watch(self, item: Item) -> None:
        if item.subscriber_id is not None:
            self.subscribers[item.subscriber_id] += 1
        if item.campaign_id is not None:
            self.campaigns[item.campaign_id] += 1

    def unwatch(self, item: Item) -> None:
        if item.subscriber_id is not None:
            self.subscribers[item.subscriber_id] -= 1
            if self.subscribers[item.subscriber_id] <= 0:
                del self.subscribers[item.subscriber_id]
        if item.campaign_id is not None:
            self.campaigns[item.campaign_id] -= 1
            if self.campaigns[item.campaign_id] <= 0:
                del self.campaigns[item.campaign_id]

    def due(self) -> bool:
        """Whether the run should refresh now."""
        watching = bool(self.subscribers or self.campaigns)
        return watching and time.monotonic() - self.taken_at >= REFRESH_SECONDS

    async def refresh(self, session: AsyncSession) -> None:
        # Taken before the query: the view is at least as new as this moment.
        taken = time.monotonic()
        self.blockers = await repo.send_blockers(
            session, subscriber_ids=sorted(self.subscribers), campaign_ids=sorted(self.campaigns)
        )
        self.taken_at = taken
        refreshed, self._refreshed = self._refreshed, asyncio.Event()
        refreshed.set()

    def close(self) -> None:
        """The run is ending: no worker waits for another refresh."""
        self.closed = True
        self._refreshed.set()

    def needs_view(self, item: Item) -> bool:
        """Mail that names no subscriber and no campaign (a staff sign-in link) has nothing
        that could block it; no refresh is ever due for it alone, so it must not wait for one."""
        return item.subscriber_id is not None or item.campaign_id is not None

    async def wait_fresh(self, wake: asyncio.Event) -> bool:
        """Wait until the view is fresh enough to start a transaction on; False when the run
        is ending without one."""
        while time.monotonic() - self.taken_at > MAX_AGE_SECONDS:
            if self.closed:
                return False
            refreshed = self._refreshed
            wake.set()
            await refreshed.wait()
        return True

    def verdict(self, item: Item) -> Result | None:
        """Why this item must not go out now, as its result; None when it may."""
        blockers = self.blockers
        if item.kind is DeliveryKind.CAMPAIGN and item.campaign_id is not None:
            if item.campaign_id in blockers.cancelled_campaigns:
                return Result(Outcome.CANCELLED)
            if item.campaign_id in blockers.paused_campaigns:
                return released()
        if item.subscriber_id is None or item.kind is DeliveryKind.TEST:
            return None
        if item.subscriber_id in blockers.gone:
            return Result(Outcome.SUPPRESSED)
        if item.kind is DeliveryKind.CAMPAIGN and item.subscriber_id in blockers.unsubscribed:
            return Result(Outcome.SUPPRESSED)
        return None
