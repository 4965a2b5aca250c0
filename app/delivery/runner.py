"""The dispatcher run: claim → build → send → record, over a pool of reused SMTP connections.

A run is a transaction edge, like a CLI batch (the use cases in `service` only flush): a claim
must be committed before any byte goes out, so that a crash leaves rows `sending` with a
journal that says nothing was on the wire, and results are committed per batch so that a
crash loses at most one batch of outcomes (the journal recovers those)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import messages
from app.clock import now
from app.config import Settings, get_settings
from app.db import get_sessionmaker
from app.delivery import repository as repo
from app.delivery.bounces import verp_address
from app.delivery.journal import Journal, Phase
from app.delivery.models import TRANSACTIONAL_KINDS, Delivery, DeliveryKind, DeliveryStatus
from app.delivery.outcomes import (
    REPLY_CLASSES,
    DispatchReport,
    Item,
    Settled,
    released,
    result_row,
    round_robin,
    settle,
)
from app.delivery.ports import MailBuilders, PreparedCampaign
from app.delivery.ratelimit import TokenBucket
from app.delivery.recovery import recover_stopped
from app.delivery.smtp import Connection, Outcome, Relay, Result
from app.delivery.sqlite_rounds import SqliteRounds
from app.delivery.suppression import Suppression
from app.federations.models import Federation
from app.rendering.wire import to_wire
from app.security import token_from_seed

log = logging.getLogger(__name__)

BATCH_SIZE = 500
RESULT_BATCH = 500
RESULT_FLUSH_SECONDS = 0.5
RECOVERY_EVERY_SECONDS = 30.0
# A live run holds its rows for another lease every third of a lease (LEASE_SECONDS).
RENEWALS_PER_LEASE = 3
RELAY_DOWN_RETRY_SECONDS = 60.0
# The same 5.7.x policy refusal for this many different recipients of one federation is the
# sender's problem (its domain or IP is blocked), not theirs: the campaign pauses.
SENDER_PROBLEM_RECIPIENTS = 3
TEST_TOKEN = "testutskick"


Progress = Callable[[DispatchReport, dict[int, tuple[int, int]]], None]


@dataclass(slots=True)
class FederationInfo:
    relay: Relay
    domain: str
    bucket: TokenBucket


def new_owner() -> str:
    """A dispatcher run's claim id: host, pid and randomness (also its journal's name)."""
    host = socket.gethostname().split(".")[0][:32] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


class Run:
    """One dispatcher run: claims in batches, sends over a pool of reused SMTP connections,
    records results in batches. All database work happens in the run's own coroutine, one
    session at a time; the SMTP workers never touch the database. It commits itself (see the
    module docstring: the run is a transaction edge)."""

    def __init__(
        self,
        *,
        builders: MailBuilders,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        stop: asyncio.Event | None = None,
        deadline: float | None = None,
        progress: Progress | None = None,
        connections: int | None = None,
    ) -> None:
        self.builders = builders
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.owner = new_owner()
        self.report = DispatchReport()
        self.stop = stop
        self.deadline = deadline
        self.progress = progress
        self.connections = connections or settings.smtp_max_connections
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self.results: list[tuple[Item, Result]] = []
        self.wake = asyncio.Event()
        self.in_flight = 0
        self.global_bucket = TokenBucket(settings.send_rate_per_second)
        self.global_relay = Relay.from_settings(settings)
        self.federations: dict[int, FederationInfo] = {}
        # Per (campaign, test send?): a test send has its own subject and links.
        self.prepared: dict[tuple[int, bool], PreparedCampaign | Exception] = {}
        self.relays_down: set[Relay] = set()
        self.paused: set[int] = set()
        self.pause_reasons: dict[int, str] = {}
        self.touched_campaigns: set[int] = set()
        self.policy_refusals: dict[tuple[int, str | None], set[str]] = {}
        self.suppression = Suppression()
        # Deliveries about to start DATA, waiting for the group commit that marks them.
        self.wire_waiting: dict[int, asyncio.Future[None]] = {}
        self.progress_at = float("-inf")
        self.journal: Journal | None = None
        self.round_connection: AsyncConnection | SqliteRounds | None = None
        self.round_driver: Any = None
        self.claiming: asyncio.Task[int] | None = None
        # Only the dispatcher's own runs hold a connection for their rounds: the web app's
        # sends after a commit may overlap in numbers (a silent relay holds each up to the
        # SMTP timeout) and would take the pool's connections from the requests.
        self.holds_connection = False

    # -- lifecycle

    def _stopping(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline

    async def run(
        self, *, only: Sequence[int] | None = None, claimed: asyncio.Event | None = None
    ) -> DispatchReport:
        """Send what is due, or with `only` just those deliveries (one claim, then send);
        `claimed` is set once that claim is committed (or the run ended without one)."""
        started = time.monotonic()
        self.holds_connection = only is None
        self.journal = Journal(self.settings.journal_dir, self.owner)
        clean = False
        workers = [asyncio.create_task(self._worker()) for _ in range(self.connections)]
        try:
            if only is None:
                await self._recover()
                await self._start_campaigns()
            await self._loop(only, claimed)
            clean = True
        finally:
            if self.claiming is not None:
                # Ended by an error while a claim was under way: let the claim end (its rows
                # are committed and queued, then released below like the rest of the queue).
                await asyncio.wait([self.claiming])
                if not self.claiming.cancelled():
                    self.claiming.exception()  # the run's own error is the one raised
            if claimed is not None:
                claimed.set()
            self.suppression.close()
            _fail_waiting(self.wire_waiting)
            for _ in workers:
                self.queue.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._flush(final=True)
            await self._close_round_connection()
            # Only the dispatcher's own runs finish campaigns: one of given deliveries (the web
            # app's sends after a commit) leaves that to them.
            if clean and only is None:
                with contextlib.suppress(Exception):
                    await self._finish_campaigns()
            # Keep the journal when results could not be written: recovery folds it later.
            self.journal.close(remove=clean and not self.results)
            self.report.elapsed = time.monotonic() - started
        return self.report

    async def _loop(self, only: Sequence[int] | None, claimed: asyncio.Event | None) -> None:
        exhausted = False
        low_water = max(self.connections * 4, BATCH_SIZE // 2)
        last_flush = time.monotonic()
        last_recovery = time.monotonic()
        last_renewal = time.monotonic()

        def after_claim(count: int) -> bool:
            """Whether claiming is over."""
            if claimed is not None:
                claimed.set()
            return count == 0 or only is not None

        while True:
            # Cleared before the work, not after it: a worker's signal during the work (a
            # result, a wish to go on the wire) then ends the wait below at once.
            self.wake.clear()
            if self.claiming is not None and self.claiming.done():
                task, self.claiming = self.claiming, None
                # A failed claim ends the run, as it always did.
                exhausted = after_claim(task.result()) or exhausted
            if self.wire_waiting:
                await self._group_commit()
            if time.monotonic() - last_renewal >= self.settings.lease_seconds / RENEWALS_PER_LEASE:
                await self._renew_leases()
                last_renewal = time.monotonic()
            if self.suppression.due():
                async with self.sessionmaker() as session:
                    await self.suppression.refresh(session)
            if self._stopping():
                exhausted = True
                self._release_queued()
            elif self.relays_down:
                # Back-off is per relay: only mail for a relay that is down goes back.
                self._release_queued(down_only=True)
            if len(self.results) >= RESULT_BATCH or (
                self.results and time.monotonic() - last_flush >= RESULT_FLUSH_SECONDS
            ):
                await self._flush()
                last_flush = time.monotonic()
            if not exhausted and self.claiming is None and self.queue.qsize() < low_water:
                if not await self._claims_beside():
                    exhausted = after_claim(await self._claim(only))
                    continue
                # With rounds on a connection of their own, the claim (its queries, and
                # building up to 500 messages) runs beside this loop: the rounds of the
                # connections still sending go on meanwhile instead of all of them waiting for
                # it. It ends by waking the loop.
                self.claiming = asyncio.create_task(self._claim(only))
                self.claiming.add_done_callback(lambda _: self.wake.set())
                continue
            if exhausted and self.claiming is None and self.queue.empty() and self.in_flight == 0:
                if not self.results:
                    return
                await self._flush()
                continue
            if only is None and time.monotonic() - last_recovery >= RECOVERY_EVERY_SECONDS:
                await self._recover()
                last_recovery = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=RESULT_FLUSH_SECONDS)

    def _release_queued(self, *, down_only: bool = False) -> None:
        keep: list[Item] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is None:  # pragma: no cover - sentinels are only queued at the end
                self.queue.put_nowait(None)
                break
            if item.relay in self.relays_down:
                self._done(item, released(RELAY_DOWN_RETRY_SECONDS))
            elif down_only:
                keep.append(item)
            else:
                self._done(item, released())
        for item in keep:
            self.queue.put_nowait(item)

    def _done(self, item: Item, result: Result) -> None:
        self.suppression.unwatch(item)
        self.results.append((item, result))

    # -- claiming and building

    async def _start_campaigns(self) -> None:
        async with self.sessionmaker() as session:
            ts = now()
            hours = self.settings.overdue_hold_hours
            overdue_before = ts - timedelta(hours=hours)
            held = await repo.hold_overdue(
                session,
                overdue_before=overdue_before,
                reason=messages.HELD_OVERDUE.format(hours=hours),
                now=ts,
            )
            for campaign_id in held:
                log.warning(
                    "campaign %s is overdue by more than %s h: held for staff", campaign_id, hours
                )
            await session.commit()
            due = await repo.due_campaigns(session, now=ts, overdue_before=overdue_before)
            for campaign_id, federation_id in due:
                began = time.monotonic()
                count = await repo.start_campaign(
                    session, federation_id=federation_id, campaign_id=campaign_id, now=ts
                )
                await session.commit()
                if count is not None:
                    seconds = time.monotonic() - began
                    self.report.campaigns_started += 1
                    self.report.fanned_out += count
                    self.report.fan_out_seconds += seconds
                    log.info(
                        "campaign %s started: %s recipients, fan-out %.2f s",
                        campaign_id,
                        count,
                        seconds,
                    )
            await repo.cancel_waiting(session, now=ts)
            await session.commit()

    async def _claim(self, only: Sequence[int] | None) -> int:
        ts = now()
        lease_until = ts + timedelta(seconds=self.settings.lease_seconds)
        async with self.sessionmaker() as session:
            ids: list[int] = []
            if only is not None:
                ids = await repo.claim(
                    session,
                    owner=self.owner,
                    lease_until=lease_until,
                    now=ts,
                    limit=len(only),
                    delivery_ids=only,
                )
            else:
                feds = await repo.active_federations(session, now=ts)
                if feds:
                    share = max(10, BATCH_SIZE // len(feds))
                    for federation_id in feds:
                        known = self.federations.get(federation_id)
                        if known is not None and known.relay in self.relays_down:
                            continue
                        ids += await repo.claim(
                            session,
                            owner=self.owner,
                            lease_until=lease_until,
                            now=ts,
                            limit=share,
                            federation_id=federation_id,
                        )
            if not ids:
                await session.commit()
                return 0
            self.report.claimed += len(ids)
            self.report.suppressed += await repo.settle_unsendable(session, ids=ids, now=ts)
            await repo.ensure_unsubscribe_tokens(session, ids=ids)
            rows = await repo.load_claimed(session, ids=ids, owner=self.owner)
            await self._load_federations(session, {r.federation_id for r in rows})
            items, failures = await self._build(session, rows)
            if failures:
                await repo.write_results(session, owner=self.owner, rows=failures, now=ts)
                self.report.failed += len(failures)
            # Committed before any byte goes out: a crash now leaves rows `sending` with a
            # journal that says nothing was on the wire, and recovery puts them back.
            await session.commit()
        for item in round_robin(items):
            self.suppression.watch(item)
            self.queue.put_nowait(item)
        return len(ids)

    async def _load_federations(self, session: AsyncSession, ids: set[int]) -> None:
        missing = ids - self.federations.keys()
        for fed in await repo.federations(session, ids=missing):
            self.federations[fed.id] = _federation_info(fed, self.global_relay, self.settings)

    async def _build(
        self, session: AsyncSession, rows: Sequence[repo.ClaimedRow]
    ) -> tuple[list[Item], list[repo.ResultRow]]:
        items: list[Item] = []
        failures: list[repo.ResultRow] = []
        for row in rows:
            try:
                recipient, data = await self._render(session, row)
            except Exception as exc:
                log.exception("delivery %s could not be built", row.id)
                failures.append(
                    result_row(row.id, DeliveryStatus.FAILED, reply=f"not built: {exc}")
                )
                continue
            info = self.federations[row.federation_id]
            items.append(
                Item(
                    id=row.id,
                    federation_id=row.federation_id,
                    kind=row.kind,
                    campaign_id=row.campaign_id,
                    subscriber_id=row.subscriber_id,
                    attempts=row.attempts,
                    created_at=row.created_at,
                    recipient=recipient,
                    envelope_from=verp_address(row.id, info.domain),
                    data=data,
                    relay=info.relay,
                )
            )
        return items, failures

    async def _render(self, session: AsyncSession, row: repo.ClaimedRow) -> tuple[str, bytes]:
        if row.kind in TRANSACTIONAL_KINDS:
            delivery = await session.get(Delivery, row.id)
            assert delivery is not None
            recipient, message = await self.builders.transactional(session, delivery=delivery)
            return recipient, to_wire(message)
        staff_builder = {
            DeliveryKind.SIGN_IN: self.builders.sign_in,
            DeliveryKind.DRAFT_NOTICE: self.builders.draft_notice,
        }.get(row.kind)
        if staff_builder is not None:
            delivery = await session.get(Delivery, row.id)
            assert delivery is not None
            recipient, message = await staff_builder(session, delivery=delivery)
            return recipient, to_wire(message)
        assert row.campaign_id is not None
        key = (row.campaign_id, row.kind is DeliveryKind.TEST)
        prepared = self.prepared.get(key)
        if prepared is None:
            try:
                prepared = await self.builders.campaign(
                    session,
                    federation_id=row.federation_id,
                    campaign_id=row.campaign_id,
                    test=key[1],
                )
            except Exception as exc:
                prepared = exc
            self.prepared[key] = prepared
        if isinstance(prepared, Exception):
            raise prepared
        if row.kind is DeliveryKind.TEST:
            recipient = row.to_address or ""
            token = TEST_TOKEN
            name = None
        else:
            self.touched_campaigns.add(row.campaign_id)
            recipient = row.email or ""
            token = token_from_seed(row.token_seed or "")
            name = row.name
        data = prepared.render_wire(
            delivery_id=row.id, to_address=recipient, name=name, unsubscribe_token=token
        )
        return recipient, data

    # -- sending

    async def _worker(self) -> None:
        connection: Connection | None = None
        try:
            while True:
                item = await self.queue.get()
                if item is None:
                    return
                self.in_flight += 1
                try:
                    result, connection = await self._send(item, connection)
                except Exception as exc:  # a bug must not lose track of a claimed row
                    log.exception("delivery %s: unexpected error", item.id)
                    result = Result(Outcome.UNKNOWN, reply=f"internal error: {exc}"[:2000])
                finally:
                    self.in_flight -= 1
                self._done(item, result)
                REPLY_CLASSES[result.reply_class] += 1
                self.wake.set()
        finally:
            if connection is not None:
                await connection.close()

    async def _send(
        self, item: Item, connection: Connection | None
    ) -> tuple[Result, Connection | None]:
        if item.relay in self.relays_down:
            return released(RELAY_DOWN_RETRY_SECONDS), connection
        if item.kind is DeliveryKind.CAMPAIGN and item.campaign_id in self.paused:
            return released(), connection
        await self.global_bucket.acquire()
        await self.federations[item.federation_id].bucket.acquire()
        if connection is None or connection.relay != item.relay:
            if connection is not None:
                await connection.close()
            connection = Connection(item.relay)
        journal = self.journal
        assert journal is not None
        try:
            await connection.open()
            # Just before MAIL FROM, on a fresh view: an unsubscribe stops this very message.
            if self.suppression.needs_view(item) and not await self.suppression.wait_fresh(
                self.wake
            ):
                return released(), connection
            blocked = self.suppression.verdict(item)
            if blocked is not None:
                return blocked, connection
            result = await connection.send(
                item.envelope_from,
                item.recipient,
                item.data,
                on_wire=lambda: self._on_wire(item.id),
            )
        except WireNotMarked:
            return released(), connection
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Could not connect (or the greeting was refused): the relay is down. Stop
            # claiming and back off instead of spinning through the queue.
            connection.drop()
            if item.relay not in self.relays_down:
                log.warning("relay %s:%s unreachable: %s", item.relay.host, item.relay.port, exc)
            self.relays_down.add(item.relay)
            self.report.relay_down = True
            code = getattr(exc, "code", None)
            return (
                Result(Outcome.DEFERRED, code=code, reply=f"relay unreachable: {exc}"[:2000]),
                connection,
            )
        if result.outcome is Outcome.SENT:
            journal.mark(item.id, Phase.SENT, result.queue_id)
        elif result.outcome is not Outcome.UNKNOWN:
            journal.mark(item.id, Phase.DONE)
        if result.policy:
            result = self._policy_refusal(item, result)
        if (
            result.outcome is Outcome.SENDER_BLOCKED
            and item.campaign_id is not None
            and item.kind is DeliveryKind.CAMPAIGN
        ):
            self.paused.add(item.campaign_id)
            self.pause_reasons.setdefault(
                item.campaign_id, messages.PAUSED_SENDER_REFUSED.format(reply=result.reply)
            )
        return result, connection

    async def _on_wire(self, delivery_id: int) -> None:
        """Wait until the database says this delivery is on the wire (see _group_commit)."""
        if self.suppression.closed:
            raise WireNotMarked
        done = asyncio.get_running_loop().create_future()
        self.wire_waiting[delivery_id] = done
        self.wake.set()
        await done
        assert self.journal is not None
        self.journal.mark(delivery_id, Phase.ON_WIRE)

    async def _group_commit(self) -> None:
        """Mark every delivery waiting to start DATA in one statement, with the results so far,
        in one commit. A worker asks for its next mark only after its last result is in
        self.results, so after a crash at most one row per connection is on the wire without a
        result: that many `unknown` at most, found by a dispatcher on any host."""
        waiting, self.wire_waiting = self.wire_waiting, {}
        try:
            marked = await self._flush(wire=sorted(waiting))
        except BaseException:
            _fail_waiting(waiting)
            raise
        lost = 0
        for delivery_id, done in waiting.items():
            if done.done():
                continue
            if delivery_id in marked:
                done.set_result(None)
            else:
                # No longer this run's: its lease ran out (the process stood still longer than
                # a lease, or could not renew it) and another dispatcher settled or took it.
                done.set_exception(WireNotMarked())
                lost += 1
        if lost:
            log.warning("%s deliveries no longer held by this run were not sent by it", lost)

    def _policy_refusal(self, item: Item, result: Result) -> Result:
        """One recipient's 5.7.x refusal fails that recipient; the same code for several
        different recipients of the federation is a sender problem (see classify)."""
        refused = self.policy_refusals.setdefault((item.federation_id, result.enhanced), set())
        refused.add(item.recipient)
        if len(refused) < SENDER_PROBLEM_RECIPIENTS:
            return result
        return replace(result, outcome=Outcome.SENDER_BLOCKED, policy=False)

    # -- results

    async def _flush(self, *, final: bool = False, wire: Sequence[int] = ()) -> frozenset[int]:
        """Write the results so far and mark `wire` on the wire; the ids marked."""
        if not self.results and not wire:
            return frozenset()
        batch, self.results = self.results, []
        ts = now()
        give_up = timedelta(hours=self.settings.deferred_give_up_hours)
        settled = settle(batch, ts=ts, give_up=give_up, report=self.report)
        try:
            # A round with no bounces and no pauses: one statement on the run's connection.
            simple = not (settled.hard or settled.soft or self.pause_reasons)
            connection = await self._round_connection() if simple else None
            if connection is not None:
                marked = await self._write_round(connection, settled.rows, wire, ts)
            else:
                marked = await self._write_in_session(settled, wire, ts)
        except BaseException:
            self.results = batch + self.results
            raise
        # Group commits come once per message round: progress at most once a second.
        if self.progress is not None and not final and time.monotonic() - self.progress_at >= 1:
            self.progress_at = time.monotonic()
            await self._report_progress()
        return marked

    async def _write_in_session(
        self, settled: Settled, wire: Sequence[int], ts: datetime
    ) -> frozenset[int]:
        report = self.report
        async with self.sessionmaker() as session:
            marked = await repo.write_round(
                session, owner=self.owner, rows=settled.rows, wire=wire, now=ts
            )
            await repo.record_bounces(session, hard=settled.hard, soft=settled.soft, now=ts)
            if self.pause_reasons:
                paused = await repo.pause_campaigns(session, reasons=self.pause_reasons, now=ts)
                for campaign_id in paused:
                    log.error(
                        "campaign %s paused: %s", campaign_id, self.pause_reasons[campaign_id]
                    )
                report.campaigns_paused += paused
                self.pause_reasons = {}
            await session.commit()
        return marked

    async def _round_connection(self) -> AsyncConnection | SqliteRounds | None:
        """The run's own connection for its rounds: no pool check-out, ping or session per
        round. On PostgreSQL in autocommit, so a round is one statement and one round trip
        (the check-out, ping, BEGIN and COMMIT were four of the five round trips of each group
        commit, and the commits were most of the dispatcher's wall time); on SQLite a plain
        connection in a thread of its own, a round one hand-off to it (app.delivery.
        sqlite_rounds). None for the web app's runs, where the app's sessions are not an
        engine's (tests bind them to one outer transaction), and for a SQLite database no
        second connection can open (in memory)."""
        if self.round_connection is None:
            if not self.holds_connection:
                return None
            bind = self.sessionmaker.kw.get("bind")
            if not isinstance(bind, AsyncEngine):
                return None
            if bind.dialect.name == "sqlite":
                self.round_connection = SqliteRounds.for_engine(bind)
                return self.round_connection
            connection = await bind.connect()
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            # Rounds go through asyncpg itself (repo.write_round_asyncpg).
            self.round_driver = (await connection.get_raw_connection()).driver_connection
            # One plan for every round: with the arrays' real lengths PostgreSQL judged a plan
            # of their own cheaper each time and planned every round again (0.1 ms of its CPU
            # in each round's 0.35, bench/round.py). The generic plan finds the rows by primary
            # key (test_a_round_finds_its_rows_by_primary_key). Reset before the pool has it.
            await self.round_driver.execute("SET plan_cache_mode = force_generic_plan")
            self.round_connection = connection
        return self.round_connection

    async def _claims_beside(self) -> bool:
        """Whether a claim runs beside the loop: with rounds on a PostgreSQL connection of
        their own. SQLite has one writer: a claim's transaction beside the loop would hold the
        lock every round needs, so there the loop claims in line."""
        return isinstance(await self._round_connection(), AsyncConnection)

    async def _write_round(
        self,
        connection: AsyncConnection | SqliteRounds,
        rows: Sequence[repo.ResultRow],
        wire: Sequence[int],
        ts: datetime,
    ) -> frozenset[int]:
        """The round on the run's own connection; the ids it marked on the wire."""
        if isinstance(connection, SqliteRounds):
            try:
                return await connection.write(owner=self.owner, rows=rows, wire=wire, now=ts)
            except BaseException:
                await self._close_round_connection()  # a fresh one for the next round
                raise
        for attempt in (1, 2):
            try:
                return await repo.write_round_asyncpg(
                    self.round_driver, owner=self.owner, rows=rows, wire=wire, now=ts
                )
            except BaseException as exc:
                # A lost connection (a database restart, a killed backend): asyncpg's
                # connection has closed under it, SQLAlchemy's own test for a disconnect. It
                # is what the pool's ping caught when each round checked one out: the round
                # goes again, once, on a fresh one. Writing it twice is harmless: only rows
                # still `sending` and held by this run take a result, and a wire mark is set
                # again to the same time.
                lost = bool(self.round_driver.is_closed())
                # Never reused after an error.
                self.round_connection = None
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                if not isinstance(exc, Exception):
                    raise
                error = DBAPIError("write_round", None, exc, connection_invalidated=lost)
                if not lost or attempt == 2:
                    raise error from exc
                log.warning("database connection lost during a round; writing it again")
                fresh = await self._round_connection()
                assert isinstance(fresh, AsyncConnection)
                connection = fresh
        raise AssertionError("the second attempt returns or raises")

    async def _close_round_connection(self) -> None:
        if self.round_connection is not None:
            connection, self.round_connection = self.round_connection, None
            with contextlib.suppress(Exception):
                if isinstance(connection, AsyncConnection):
                    try:
                        await self.round_driver.execute("RESET plan_cache_mode")
                    except Exception:
                        # Not back to the pool with the round's setting: the pool drops it.
                        await connection.invalidate()
                await connection.close()

    async def _report_progress(self) -> None:
        assert self.progress is not None
        async with self.sessionmaker() as session:
            progress = await repo.campaign_progress(
                session, campaign_ids=sorted(self.touched_campaigns)
            )
        self.progress(self.report, progress)

    async def _finish_campaigns(self) -> None:
        async with self.sessionmaker() as session:
            finished = await repo.finish_campaigns(session, now=now())
            await session.commit()
        for campaign_id in finished:
            log.info("campaign %s sent", campaign_id)
        self.report.campaigns_finished += finished
        if self.progress is not None:
            await self._report_progress()

    # -- crash recovery

    async def _renew_leases(self) -> None:
        """A claim can take longer than a lease to send (a federation's send rate, a slow
        relay): while this run is alive its rows stay its own, so that no dispatcher on another
        host takes them over as a dead one's and sends them a second time."""
        async with self.sessionmaker() as session:
            await repo.renew_leases(
                session,
                owner=self.owner,
                lease_until=now() + timedelta(seconds=self.settings.lease_seconds),
            )
            await session.commit()

    async def _recover(self) -> None:
        await recover_stopped(
            self.sessionmaker,
            settings=self.settings,
            owner=self.owner,
            report=self.report,
        )


class WireNotMarked(Exception):
    """The run is ending (or its database failed) before the mark, or the row is no longer the
    run's (its lease ran out): nothing went out."""


def _fail_waiting(waiting: dict[int, asyncio.Future[None]]) -> None:
    for done in waiting.values():
        if not done.done():
            done.set_exception(WireNotMarked())


def _federation_info(fed: Federation, global_relay: Relay, settings: Settings) -> FederationInfo:
    relay = global_relay.with_override(
        host=fed.smtp_host,
        port=fed.smtp_port,
        security=fed.smtp_security,
        username=fed.smtp_username,
        password=fed.smtp_password,
    )
    domain = settings.bounce_mailbox_domain or fed.from_email.rpartition("@")[2] or "localhost"
    rate = fed.send_rate_per_second or 0.0
    return FederationInfo(relay=relay, domain=domain, bucket=TokenBucket(rate))


async def dispatch_once(
    builders: MailBuilders,
    *,
    max_seconds: float | None = None,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    connections: int | None = None,
) -> DispatchReport:
    """One cron tick: start due campaigns, send everything due, return when nothing is left
    (or after max_seconds, or when `stop` is set). Safe while other dispatchers run."""
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    run = Run(
        builders=builders,
        settings=get_settings(),
        sessionmaker=sessionmaker or get_sessionmaker(),
        stop=stop,
        deadline=deadline,
        progress=progress,
        connections=connections,
    )
    return await run.run()


async def send_now(builders: MailBuilders, delivery_id: int) -> None:
    """Best-effort immediate send of one delivery (after the commit that queued it). Claims the
    row like any dispatcher, so a concurrently running dispatcher never sends it twice; on any
    failure it stays queued or deferred for the next tick."""
    await send_batch(builders, [delivery_id])


async def send_batch(
    builders: MailBuilders, delivery_ids: Sequence[int], *, claimed: asyncio.Event | None = None
) -> None:
    """send_now for several deliveries in one run: one claim, connections shared, one group
    commit per round of messages. `claimed` is set once the claim is committed (or failed)."""
    try:
        settings = get_settings()
        run = Run(
            builders=builders,
            settings=settings,
            sessionmaker=get_sessionmaker(),
            connections=min(len(delivery_ids), settings.smtp_max_connections),
        )
        await run.run(only=delivery_ids, claimed=claimed)
    except Exception:
        log.exception("sending %s now failed; the dispatcher will retry", list(delivery_ids))
    finally:
        if claimed is not None:
            claimed.set()


async def run_worker_loop(
    builders: MailBuilders,
    stop_event: asyncio.Event,
    interval: float = 2.0,
    on_tick: Callable[[DispatchReport], Awaitable[None]] | None = None,
) -> None:
    """Dispatch in a loop until stop_event is set (the worker command, dev mode); on_tick hears
    of each finished run (the worker records it for /metrics)."""
    while not stop_event.is_set():
        try:
            report = await dispatch_once(builders, stop=stop_event)
            if on_tick is not None:
                await on_tick(report)
            if report.sent or report.failed or report.deferred:
                log.info(
                    "dispatched: %s sent, %s deferred, %s failed, %s unknown",
                    report.sent,
                    report.deferred,
                    report.failed,
                    report.unknown,
                )
        except Exception:
            log.exception("dispatch failed; retrying in %s s", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)
