"""Delivery use cases: enqueue mail, dispatch due work (one cron tick), send one now,
recover after a crash, requeue unknowns, resume a paused campaign."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import random
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiosmtplib
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.campaigns.models import Campaign, CampaignStatus
from app.clock import now
from app.config import Settings, get_settings
from app.db import get_sessionmaker
from app.delivery import journal as journal_mod
from app.delivery import metrics
from app.delivery import repository as repo
from app.delivery.bounces import DeliveryStatusReport, verp_address
from app.delivery.journal import Journal, Phase
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.delivery.ratelimit import TokenBucket
from app.delivery.smtp import BounceKind, Connection, Outcome, Relay, Result
from app.errors import Conflict, NotFound
from app.federations.models import Federation
from app.security import token_from_seed

log = logging.getLogger(__name__)

BATCH_SIZE = 500
RESULT_BATCH = 500
RESULT_FLUSH_SECONDS = 0.5
RECOVERY_EVERY_SECONDS = 30.0
RELAY_DOWN_RETRY_SECONDS = 60.0
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 3600.0
TEST_TOKEN = "testutskick"


class PreparedCampaign(Protocol):
    def render(
        self, *, delivery_id: int, to_address: str, name: str | None, unsubscribe_token: str
    ) -> bytes: ...


async def _prepare_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int
) -> PreparedCampaign:
    # Imported at call time: campaigns depends on delivery (enqueue_test, requeue_unknown).
    campaigns_service = importlib.import_module("app.campaigns.service")
    prepared: PreparedCampaign = await campaigns_service.prepare_for_sending(
        session, federation_id=federation_id, campaign_id=campaign_id
    )
    return prepared


async def _build_transactional(session: AsyncSession, *, delivery: Delivery) -> tuple[str, bytes]:
    subscribers_service = importlib.import_module("app.subscribers.service")
    built: tuple[str, bytes] = await subscribers_service.build_transactional_mail(
        session, delivery=delivery
    )
    return built


# --------------------------------------------------------------------------- enqueue


async def enqueue_transactional(
    session: AsyncSession,
    *,
    federation_id: int,
    subscriber_id: int,
    kind: DeliveryKind,
    token_id: int | None = None,
) -> Delivery:
    """Queue a confirmation or self-service mail in the caller's transaction (sent first)."""
    if kind not in (DeliveryKind.CONFIRMATION, DeliveryKind.SELF_SERVICE):
        raise ValueError(f"not a transactional kind: {kind}")
    delivery = Delivery(
        federation_id=federation_id,
        kind=kind,
        subscriber_id=subscriber_id,
        token_id=token_id,
        priority=repo.TRANSACTIONAL_PRIORITY,
        next_attempt_at=now(),
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def enqueue_test(
    session: AsyncSession, *, federation_id: int, campaign_id: int, addresses: Sequence[str]
) -> list[Delivery]:
    """Queue a test send of a campaign to staff addresses."""
    deliveries = [
        Delivery(
            federation_id=federation_id,
            kind=DeliveryKind.TEST,
            campaign_id=campaign_id,
            to_address=address,
            priority=repo.TRANSACTIONAL_PRIORITY,
            next_attempt_at=now(),
        )
        for address in addresses
    ]
    session.add_all(deliveries)
    await session.flush()
    return deliveries


# --------------------------------------------------------------------------- staff actions


async def requeue_unknown(session: AsyncSession, *, federation_id: int, campaign_id: int) -> int:
    """Send again the campaign's deliveries whose outcome is unknown (staff decided to)."""
    campaign = await _campaign(session, federation_id=federation_id, campaign_id=campaign_id)
    ts = now()
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.federation_id == federation_id,
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.UNKNOWN,
        )
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=ts, updated_at=ts)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count and campaign.status == CampaignStatus.SENT:
        campaign.status = CampaignStatus.SENDING
        campaign.finished_at = None
    await session.flush()
    return count


async def resume_campaign(session: AsyncSession, *, federation_id: int, campaign_id: int) -> None:
    """Resume a campaign paused after the relay refused the sender (5.7.x)."""
    campaign = await _campaign(session, federation_id=federation_id, campaign_id=campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise Conflict("Utskicket är inte pausat.")
    campaign.status = CampaignStatus.SENDING
    campaign.paused_reason = None
    await session.flush()


async def _campaign(session: AsyncSession, *, federation_id: int, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.federation_id != federation_id:
        raise NotFound()
    return campaign


# --------------------------------------------------------------------------- dispatch


@dataclass
class DispatchReport:
    campaigns_started: int = 0
    fanned_out: int = 0
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unknown: int = 0
    suppressed: int = 0
    released: int = 0
    recovered_unknown: int = 0
    recovered_sent: int = 0
    recovered_requeued: int = 0
    campaigns_paused: list[int] = field(default_factory=list)
    campaigns_finished: list[int] = field(default_factory=list)
    relay_down: bool = False
    fan_out_seconds: float = 0.0
    elapsed: float = 0.0


Progress = Callable[[DispatchReport, dict[int, tuple[int, int]]], None]


@dataclass(slots=True)
class _Item:
    id: int
    federation_id: int
    kind: DeliveryKind
    campaign_id: int | None
    subscriber_id: int | None
    attempts: int
    created_at: datetime
    recipient: str
    envelope_from: str
    message: bytes
    relay: Relay


@dataclass(slots=True)
class _FederationInfo:
    relay: Relay
    domain: str
    bucket: TokenBucket


def new_owner() -> str:
    """A dispatcher run's claim id: host, pid and randomness (also its journal's name)."""
    host = socket.gethostname().split(".")[0][:32] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with ±20 % jitter so retries do not arrive in a herd."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return float(delay * random.uniform(0.8, 1.2))


class _Run:
    """One dispatcher run: claims in batches, sends over a pool of reused SMTP connections,
    records results in batches. All database work happens in the run's own coroutine, one
    session at a time; the SMTP workers never touch the database.

    Unlike the use cases above (which only flush), a run is its own transaction edge, like a
    CLI batch: a claim must be committed before any byte goes out, and results per batch."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        stop: asyncio.Event | None = None,
        deadline: float | None = None,
        progress: Progress | None = None,
        connections: int | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.owner = new_owner()
        self.report = DispatchReport()
        self.stop = stop
        self.deadline = deadline
        self.progress = progress
        self.connections = connections or settings.smtp_max_connections
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self.results: list[tuple[_Item, Result]] = []
        self.wake = asyncio.Event()
        self.in_flight = 0
        self.global_bucket = TokenBucket(settings.send_rate_per_second)
        self.global_relay = Relay.from_settings(settings)
        self.federations: dict[int, _FederationInfo] = {}
        self.prepared: dict[int, PreparedCampaign | Exception] = {}
        self.relays_down: set[Relay] = set()
        self.paused: set[int] = set()
        self.pause_reasons: dict[int, str] = {}
        self.touched_campaigns: set[int] = set()
        self.journal: Journal | None = None

    # -- lifecycle

    def _stopping(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline

    async def run(self, *, only_delivery: int | None = None) -> DispatchReport:
        started = time.monotonic()
        self.journal = Journal(self.settings.journal_dir, self.owner)
        clean = False
        workers = [asyncio.create_task(self._worker()) for _ in range(self.connections)]
        try:
            if only_delivery is None:
                await self._recover()
                await self._start_campaigns()
            await self._loop(only_delivery)
            clean = True
        finally:
            for _ in workers:
                self.queue.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._flush(final=True)
            if clean:
                with contextlib.suppress(Exception):
                    await self._finish_campaigns()
            # Keep the journal when results could not be written: recovery folds it later.
            self.journal.close(remove=clean and not self.results)
            self.report.elapsed = time.monotonic() - started
        return self.report

    async def _loop(self, only_delivery: int | None) -> None:
        exhausted = False
        low_water = max(self.connections * 4, BATCH_SIZE // 2)
        last_flush = time.monotonic()
        last_recovery = time.monotonic()
        while True:
            if self._stopping() or self.relays_down:
                exhausted = True
                self._release_queued()
            if len(self.results) >= RESULT_BATCH or (
                self.results and time.monotonic() - last_flush >= RESULT_FLUSH_SECONDS
            ):
                await self._flush()
                last_flush = time.monotonic()
            if not exhausted and self.queue.qsize() < low_water:
                claimed = await self._claim(only_delivery)
                if claimed == 0 or only_delivery is not None:
                    exhausted = True
                continue
            if exhausted and self.queue.empty() and self.in_flight == 0:
                if not self.results:
                    return
                await self._flush()
                continue
            if only_delivery is None and time.monotonic() - last_recovery >= RECOVERY_EVERY_SECONDS:
                await self._recover()
                last_recovery = time.monotonic()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=RESULT_FLUSH_SECONDS)

    def _release_queued(self) -> None:
        while True:
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if item is None:  # pragma: no cover - sentinels are only queued at the end
                self.queue.put_nowait(None)
                return
            delay = RELAY_DOWN_RETRY_SECONDS if item.relay in self.relays_down else 0.0
            self.results.append(
                (item, Result(Outcome.RELEASED, reply=None, code=None))
                if delay == 0
                else (item, _released(delay))
            )

    # -- claiming and building

    async def _start_campaigns(self) -> None:
        async with self.sessionmaker() as session:
            ts = now()
            due = await repo.due_campaigns(session, now=ts)
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

    async def _claim(self, only_delivery: int | None) -> int:
        ts = now()
        lease_until = ts + timedelta(seconds=self.settings.lease_seconds)
        async with self.sessionmaker() as session:
            ids: list[int] = []
            if only_delivery is not None:
                ids = await repo.claim(
                    session,
                    owner=self.owner,
                    lease_until=lease_until,
                    now=ts,
                    limit=1,
                    delivery_id=only_delivery,
                )
            else:
                feds = await repo.active_federations(session, now=ts)
                if feds:
                    share = max(10, BATCH_SIZE // len(feds))
                    for federation_id in feds:
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
        for item in _round_robin(items):
            self.queue.put_nowait(item)
        return len(ids)

    async def _load_federations(self, session: AsyncSession, ids: set[int]) -> None:
        missing = ids - self.federations.keys()
        for fed in await repo.federations(session, ids=missing):
            self.federations[fed.id] = _federation_info(fed, self.global_relay, self.settings)

    async def _build(
        self, session: AsyncSession, rows: Sequence[repo.ClaimedRow]
    ) -> tuple[list[_Item], list[dict[str, Any]]]:
        items: list[_Item] = []
        failures: list[dict[str, Any]] = []
        for row in rows:
            try:
                recipient, message = await self._render(session, row)
            except Exception as exc:
                log.exception("delivery %s could not be built", row.id)
                failures.append(_row(row.id, DeliveryStatus.FAILED, reply=f"not built: {exc}"))
                continue
            info = self.federations[row.federation_id]
            items.append(
                _Item(
                    id=row.id,
                    federation_id=row.federation_id,
                    kind=row.kind,
                    campaign_id=row.campaign_id,
                    subscriber_id=row.subscriber_id,
                    attempts=row.attempts,
                    created_at=row.created_at,
                    recipient=recipient,
                    envelope_from=verp_address(row.id, info.domain),
                    message=message,
                    relay=info.relay,
                )
            )
        return items, failures

    async def _render(self, session: AsyncSession, row: repo.ClaimedRow) -> tuple[str, bytes]:
        if row.kind in (DeliveryKind.CONFIRMATION, DeliveryKind.SELF_SERVICE):
            delivery = await session.get(Delivery, row.id)
            assert delivery is not None
            return await _build_transactional(session, delivery=delivery)
        assert row.campaign_id is not None
        prepared = self.prepared.get(row.campaign_id)
        if prepared is None:
            try:
                prepared = await _prepare_campaign(
                    session, federation_id=row.federation_id, campaign_id=row.campaign_id
                )
            except Exception as exc:
                prepared = exc
            self.prepared[row.campaign_id] = prepared
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
        message = prepared.render(
            delivery_id=row.id, to_address=recipient, name=name, unsubscribe_token=token
        )
        return recipient, message

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
                self.results.append((item, result))
                metrics.SMTP_REPLIES.labels(reply_class=result.reply_class).inc()
                self.wake.set()
        finally:
            if connection is not None:
                await connection.close()

    async def _send(
        self, item: _Item, connection: Connection | None
    ) -> tuple[Result, Connection | None]:
        if item.relay in self.relays_down:
            return _released(RELAY_DOWN_RETRY_SECONDS), connection
        if item.kind is DeliveryKind.CAMPAIGN and item.campaign_id in self.paused:
            return Result(Outcome.RELEASED), connection
        await self.global_bucket.acquire()
        await self.federations[item.federation_id].bucket.acquire()
        if connection is None or connection.relay != item.relay:
            if connection is not None:
                await connection.close()
            connection = Connection(item.relay)
        journal = self.journal
        assert journal is not None
        try:
            result = await connection.send(
                item.envelope_from,
                item.recipient,
                item.message,
                on_wire=lambda: journal.mark(item.id, Phase.ON_WIRE),
            )
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
        if (
            result.outcome is Outcome.SENDER_BLOCKED
            and item.campaign_id is not None
            and item.kind is DeliveryKind.CAMPAIGN
        ):
            self.paused.add(item.campaign_id)
            self.pause_reasons.setdefault(
                item.campaign_id, f"Reläet avvisade avsändaren: {result.reply}"
            )
        return result, connection

    # -- results

    async def _flush(self, *, final: bool = False) -> None:
        if not self.results:
            return
        batch, self.results = self.results, []
        ts = now()
        give_up = timedelta(hours=self.settings.deferred_give_up_hours)
        rows: list[dict[str, Any]] = []
        hard: list[int] = []
        soft: list[int] = []
        report = self.report
        for item, result in batch:
            outcome = result.outcome
            if outcome is Outcome.SENT:
                rows.append(_row(item.id, DeliveryStatus.SENT, result, sent_at=ts))
                report.sent += 1
            elif outcome is Outcome.RELEASED:
                # Not attempted: the claim's attempt is given back.
                rows.append(
                    _row(
                        item.id,
                        DeliveryStatus.QUEUED,
                        None,
                        next_at=ts + timedelta(seconds=result_delay(result)),
                        attempts_delta=-1,
                    )
                )
                report.released += 1
            elif outcome is Outcome.SENDER_BLOCKED:
                if item.kind is DeliveryKind.CAMPAIGN:
                    # Not the recipient's fault: back to the queue, the campaign pauses.
                    rows.append(
                        _row(item.id, DeliveryStatus.QUEUED, result, next_at=ts, attempts_delta=-1)
                    )
                    report.released += 1
                else:
                    rows.append(_deferred(item, result, ts, give_up))
                    report.deferred += 1
                log.error("relay refused the sender for delivery %s: %s", item.id, result.reply)
            elif outcome is Outcome.DEFERRED:
                row = _deferred(item, result, ts, give_up)
                rows.append(row)
                if row["b_status"] == DeliveryStatus.FAILED.value:
                    report.failed += 1
                else:
                    report.deferred += 1
            elif outcome is Outcome.FAILED:
                rows.append(_row(item.id, DeliveryStatus.FAILED, result))
                report.failed += 1
            else:
                rows.append(_row(item.id, DeliveryStatus.UNKNOWN, result))
                report.unknown += 1
            if item.subscriber_id is not None and item.kind is not DeliveryKind.TEST:
                if result.bounce is BounceKind.HARD:
                    hard.append(item.subscriber_id)
                elif result.bounce is BounceKind.SOFT:
                    soft.append(item.subscriber_id)
        try:
            async with self.sessionmaker() as session:
                await repo.write_results(session, owner=self.owner, rows=rows, now=ts)
                await repo.record_bounces(session, hard=hard, soft=soft, now=ts)
                if self.pause_reasons:
                    paused = await repo.pause_campaigns(session, reasons=self.pause_reasons, now=ts)
                    for campaign_id in paused:
                        log.error(
                            "campaign %s paused: %s", campaign_id, self.pause_reasons[campaign_id]
                        )
                    report.campaigns_paused += paused
                    self.pause_reasons = {}
                await session.commit()
        except BaseException:
            self.results = batch + self.results
            raise
        if self.progress is not None and not final:
            await self._report_progress()

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

    async def _recover(self) -> None:
        """Settle rows left `sending` by a dispatcher that died: its journal tells which were
        on the wire (unknown), which the relay accepted (sent) and which never left (queued).
        A dead local dispatcher is recognised at once by its unlocked journal; another host's
        only when its lease has expired (without its journal, all those rows are unknown)."""
        ts = now()
        directory = self.settings.journal_dir
        async with self.sessionmaker() as session:
            for owner, lease_until, _count in await repo.sending_owners(session):
                if owner == self.owner:
                    continue
                path = journal_mod.journal_path(directory, owner) if owner else None
                local = path is not None and path.exists()
                expired = lease_until is None or lease_until <= ts
                if local and path is not None and journal_mod.is_abandoned(path):
                    pass
                elif not expired:
                    continue
                replay = journal_mod.replay(path) if local and path is not None else None
                ids = await repo.sending_ids(session, owner=owner)
                rows: list[dict[str, Any]] = []
                for delivery_id in ids:
                    phase = replay.phases.get(delivery_id) if replay else Phase.ON_WIRE
                    if phase is Phase.SENT:
                        assert replay is not None
                        qid = replay.queue_ids.get(delivery_id)
                        rows.append(
                            _row(
                                delivery_id,
                                DeliveryStatus.SENT,
                                None,
                                sent_at=ts,
                                reply="250 (from the journal of a dispatcher that stopped)",
                                queue_id=qid,
                            )
                        )
                        self.report.recovered_sent += 1
                    elif phase is Phase.ON_WIRE:
                        rows.append(
                            _row(
                                delivery_id,
                                DeliveryStatus.UNKNOWN,
                                None,
                                reply="dispatcher stopped while the message was being sent",
                            )
                        )
                        self.report.recovered_unknown += 1
                    else:
                        rows.append(
                            _row(
                                delivery_id,
                                DeliveryStatus.QUEUED,
                                None,
                                next_at=ts,
                                attempts_delta=-1,
                            )
                        )
                        self.report.recovered_requeued += 1
                await repo.write_results(session, owner=None, rows=rows, now=ts)
                await session.commit()
                if rows:
                    log.warning(
                        "recovered %s deliveries of stopped dispatcher %s", len(rows), owner
                    )
                if local and path is not None:
                    path.unlink(missing_ok=True)
        # Journals of runs that died with nothing left in `sending` are of no further use.
        if directory.exists():
            for path in directory.glob(f"*{journal_mod.SUFFIX}"):
                if path.stem != self.owner and journal_mod.is_abandoned(path):
                    async with self.sessionmaker() as session:
                        if not await repo.sending_ids(session, owner=path.stem):
                            path.unlink(missing_ok=True)


def _released(delay: float) -> Result:
    return Result(Outcome.RELEASED, reply=f"retry in {delay:.0f} s")


def result_delay(result: Result) -> float:
    if result.reply and result.reply.startswith("retry in "):
        return float(result.reply.split()[2])
    return 0.0


def _row(
    delivery_id: int,
    status: DeliveryStatus,
    result: Result | None = None,
    *,
    next_at: datetime | None = None,
    sent_at: datetime | None = None,
    reply: str | None = None,
    queue_id: str | None = None,
    attempts_delta: int = 0,
) -> dict[str, Any]:
    return {
        "b_id": delivery_id,
        "b_status": status.value,
        "b_next": next_at or now(),
        "b_sent_at": sent_at,
        "b_code": result.code if result else None,
        "b_enhanced": result.enhanced if result else None,
        "b_reply": (result.reply if result else None) or reply,
        "b_queue_id": (result.queue_id if result else None) or queue_id,
        "b_attempts_delta": attempts_delta,
    }


def _deferred(item: _Item, result: Result, ts: datetime, give_up: timedelta) -> dict[str, Any]:
    if ts - item.created_at >= give_up:
        return _row(item.id, DeliveryStatus.FAILED, result)
    return _row(
        item.id,
        DeliveryStatus.DEFERRED,
        result,
        next_at=ts + timedelta(seconds=backoff_seconds(item.attempts)),
    )


def _round_robin(items: Sequence[_Item]) -> list[_Item]:
    """Order by priority, then alternate federations, so one federation's big campaign never
    starves another's confirmation mails."""
    per_federation: dict[tuple[int, int], int] = defaultdict(int)
    keyed = []
    for item in items:
        priority = (
            repo.TRANSACTIONAL_PRIORITY
            if item.kind is not DeliveryKind.CAMPAIGN
            else (repo.CAMPAIGN_PRIORITY)
        )
        turn = per_federation[(priority, item.federation_id)]
        per_federation[(priority, item.federation_id)] += 1
        keyed.append(((priority, turn, item.federation_id), item))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]


def _federation_info(fed: Federation, global_relay: Relay, settings: Settings) -> _FederationInfo:
    relay = global_relay.with_override(
        host=fed.smtp_host,
        port=fed.smtp_port,
        security=fed.smtp_security,
        username=fed.smtp_username,
        password=fed.smtp_password,
    )
    domain = settings.bounce_mailbox_domain or fed.from_email.rpartition("@")[2] or "localhost"
    rate = fed.send_rate_per_second or 0.0
    return _FederationInfo(relay=relay, domain=domain, bucket=TokenBucket(rate))


async def dispatch_once(
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
    run = _Run(
        settings=get_settings(),
        sessionmaker=sessionmaker or get_sessionmaker(),
        stop=stop,
        deadline=deadline,
        progress=progress,
        connections=connections,
    )
    return await run.run()


async def recover(
    *, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> DispatchReport:
    """Settle deliveries left `sending` by dispatchers that died (also done by every run)."""
    run = _Run(settings=get_settings(), sessionmaker=sessionmaker or get_sessionmaker())
    await run._recover()
    return run.report


async def send_now(delivery_id: int) -> None:
    """Best-effort immediate send of one delivery (after a sign-up commits). Claims the row
    like any dispatcher, so a concurrently running dispatcher never sends it twice; on any
    failure it stays queued or deferred for the next tick."""
    try:
        run = _Run(settings=get_settings(), sessionmaker=get_sessionmaker(), connections=1)
        await run.run(only_delivery=delivery_id)
    except Exception:
        log.exception("send_now(%s) failed; the dispatcher will retry", delivery_id)


async def run_worker_loop(
    stop_event: asyncio.Event,
    interval: float = 2.0,
    on_tick: Callable[[DispatchReport], Awaitable[None]] | None = None,
) -> None:
    """Dispatch in a loop until stop_event is set (the worker command, dev mode); on_tick hears
    of each finished run (the worker records it for /metrics)."""
    while not stop_event.is_set():
        try:
            report = await dispatch_once(stop=stop_event)
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


async def queue_snapshot(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(federation slug, status, count) of all deliveries, for /metrics."""
    return await repo.counts_by_state(session)


async def record_bounce_report(session: AsyncSession, *, report: DeliveryStatusReport) -> bool:
    """Apply a DSN that arrived after the relay accepted the message: a permanent failure marks
    the delivery `failed` and counts a bounce (5.1.x hard: no more mail). Returns whether
    anything changed; delays, successes and repeats change nothing."""
    if not report.is_failure:
        return False
    subscriber_id = await repo.fail_sent_delivery(
        session,
        delivery_id=report.delivery_id,
        enhanced=report.status,
        reply=(report.diagnostic or "DSN: failed")[:2000],
        now=now(),
    )
    if subscriber_id is None:
        return False
    hard = [subscriber_id] if report.is_hard else []
    soft = [] if report.is_hard else [subscriber_id]
    await repo.record_bounces(session, hard=hard, soft=soft, now=now())
    return True
