"""What one SMTP result means for one outbox row: the typed result row, backoff, and the
order claimed rows go out in (round-robin between federations)."""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.clock import now
from app.delivery.models import DeliveryKind, DeliveryStatus, Priority
from app.delivery.repository import ResultRow
from app.delivery.smtp import BounceKind, Outcome, Relay, Result

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 3600.0
# SMTP replies received by dispatchers in this process, by class (2xx, 4xx, 5xx, none):
# /metrics exposes them (app.delivery.metrics). A plain counter, so that a cron dispatcher,
# whose counts nobody scrapes, does not import prometheus_client (0.07 s of its start-up).
REPLY_CLASSES: Counter[str] = Counter()


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


@dataclass(slots=True)
class Item:
    """A claimed, built delivery on its way to the relay."""

    id: int
    federation_id: int
    kind: DeliveryKind
    campaign_id: int | None
    subscriber_id: int | None
    attempts: int
    created_at: datetime
    recipient: str
    envelope_from: str
    # The message in SMTP wire form (app.rendering.wire), written after DATA as it is.
    data: bytes
    relay: Relay


@dataclass(slots=True)
class Settled:
    """A batch of results as rows to write and subscribers whose bounce count grows."""

    rows: list[ResultRow] = field(default_factory=list)
    hard: list[int] = field(default_factory=list)
    soft: list[int] = field(default_factory=list)


def result_row(
    delivery_id: int,
    status: DeliveryStatus,
    result: Result | None = None,
    *,
    next_at: datetime | None = None,
    sent_at: datetime | None = None,
    reply: str | None = None,
    queue_id: str | None = None,
    attempts_delta: int = 0,
) -> ResultRow:
    return ResultRow(
        delivery_id=delivery_id,
        status=status,
        next_attempt_at=next_at or now(),
        sent_at=sent_at,
        code=result.code if result else None,
        enhanced=result.enhanced if result else None,
        reply=(result.reply if result else None) or reply,
        queue_id=(result.queue_id if result else None) or queue_id,
        attempts_delta=attempts_delta,
    )


def released(retry_after: float = 0.0) -> Result:
    """Not attempted: the row goes back to the queue, due again after `retry_after` seconds."""
    return Result(Outcome.RELEASED, retry_after=retry_after or None)


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with ±20 % jitter so retries do not arrive in a herd."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return float(delay * random.uniform(0.8, 1.2))


def _deferred(item: Item, result: Result, ts: datetime, give_up: timedelta) -> ResultRow:
    if ts - item.created_at >= give_up:
        return result_row(item.id, DeliveryStatus.FAILED, result)
    return result_row(
        item.id,
        DeliveryStatus.DEFERRED,
        result,
        next_at=ts + timedelta(seconds=backoff_seconds(item.attempts)),
    )


def settle(
    batch: Sequence[tuple[Item, Result]],
    *,
    ts: datetime,
    give_up: timedelta,
    report: DispatchReport,
) -> Settled:
    """The row to write for each result, counted in the report."""
    settled = Settled()
    rows = settled.rows
    for item, result in batch:
        outcome = result.outcome
        if outcome is Outcome.SENT:
            rows.append(result_row(item.id, DeliveryStatus.SENT, result, sent_at=ts))
            report.sent += 1
        elif outcome is Outcome.RELEASED:
            # Not attempted: the claim's attempt is given back.
            rows.append(
                result_row(
                    item.id,
                    DeliveryStatus.QUEUED,
                    None,
                    next_at=ts + timedelta(seconds=result.retry_after or 0.0),
                    attempts_delta=-1,
                )
            )
            report.released += 1
        elif outcome is Outcome.SUPPRESSED or outcome is Outcome.CANCELLED:
            status = (
                DeliveryStatus.SUPPRESSED
                if outcome is Outcome.SUPPRESSED
                else DeliveryStatus.CANCELLED
            )
            rows.append(result_row(item.id, status, None))
            report.suppressed += 1
        elif outcome is Outcome.SENDER_BLOCKED:
            if item.kind is DeliveryKind.CAMPAIGN:
                # Not the recipient's fault: back to the queue, the campaign pauses.
                rows.append(
                    result_row(
                        item.id, DeliveryStatus.QUEUED, result, next_at=ts, attempts_delta=-1
                    )
                )
                report.released += 1
            else:
                rows.append(_deferred(item, result, ts, give_up))
                report.deferred += 1
            log.error("relay refused the sender for delivery %s: %s", item.id, result.reply)
        elif outcome is Outcome.DEFERRED:
            row = _deferred(item, result, ts, give_up)
            rows.append(row)
            if row.status is DeliveryStatus.FAILED:
                report.failed += 1
            else:
                report.deferred += 1
        elif outcome is Outcome.FAILED:
            rows.append(result_row(item.id, DeliveryStatus.FAILED, result))
            report.failed += 1
        else:
            rows.append(result_row(item.id, DeliveryStatus.UNKNOWN, result))
            report.unknown += 1
        if item.subscriber_id is not None and item.kind is not DeliveryKind.TEST:
            if result.bounce is BounceKind.HARD:
                settled.hard.append(item.subscriber_id)
            elif result.bounce is BounceKind.SOFT:
                settled.soft.append(item.subscriber_id)
    return settled


def round_robin(items: Sequence[Item]) -> list[Item]:
    """Order by priority, then alternate federations, so one federation's big campaign never
    starves another's confirmation mails."""
    per_federation: dict[tuple[int, int], int] = defaultdict(int)
    keyed = []
    for item in items:
        priority = (
            Priority.CAMPAIGN if item.kind is DeliveryKind.CAMPAIGN else Priority.TRANSACTIONAL
        )
        turn = per_federation[(priority, item.federation_id)]
        per_federation[(priority, item.federation_id)] += 1
        keyed.append(((int(priority), turn, item.federation_id), item))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]
