"""The web app's sends right after a commit (confirmations, self-service links), coalesced per
process: deliveries queued while one run is claiming are claimed together by the next run.

A run per mail costs a claim transaction, an SMTP connection, a group commit per message and a
results commit; on a busy sign-up form that was most of the CPU behind each answer. Here a run
claims everything that has arrived since the previous run claimed, so the fixed costs are paid
per batch, and batches grow with the load by themselves. Runs overlap once they have claimed:
a slow relay holds up only its own run's mail, never the next batch's claim. Each caller still
returns when its own delivery's run has ended, as with one run per mail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

# (delivery ids, an event to set once their claim is committed or has failed, whatever
# happens): a run that catches its own errors (runner.send_batch).
SendBatch = Callable[[Sequence[int], asyncio.Event], Coroutine[Any, Any, None]]


class AfterCommitSends:
    def __init__(self, send_batch: SendBatch) -> None:
        self._send_batch = send_batch
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._claimer: asyncio.Task[None] | None = None
        # The loop keeps only weak references to tasks: these are the runs under way.
        self._runs: set[asyncio.Task[None]] = set()

    async def send(self, delivery_id: int) -> None:
        """Send this delivery soon, with whatever else is waiting; return once its run ended."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        claimer = self._claimer
        if claimer is not None and claimer.get_loop() is not loop:
            # A loop that ended (a test's): its claimer and callers will never run again.
            claimer, self._waiting = None, []
        self._waiting.append((delivery_id, done))
        if claimer is None or claimer.done():
            self._claimer = loop.create_task(self._claim_batches())
        # The run goes on if this caller is cancelled: it belongs to the batch, not to it.
        await done

    async def _claim_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            claimed = asyncio.Event()
            run = asyncio.get_running_loop().create_task(
                self._send_batch([i for i, _ in batch], claimed)
            )
            self._runs.add(run)
            run.add_done_callback(self._runs.discard)
            run.add_done_callback(partial(_finish, batch))
            # The next batch starts once this one has claimed (or failed to): meanwhile it grows.
            await claimed.wait()


def _finish(batch: Sequence[tuple[int, asyncio.Future[None]]], _run: asyncio.Task[None]) -> None:
    for _, done in batch:
        if not done.done():
            done.set_result(None)
