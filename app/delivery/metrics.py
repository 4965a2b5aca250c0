"""Prometheus metrics: SMTP reply classes (counted as sent) and the outbox by state (read from
the database at scrape time)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

REGISTRY = CollectorRegistry()
SMTP_REPLIES = Counter(
    "newsletter_smtp_replies",
    "SMTP replies received by dispatchers in this process, by class (2xx, 4xx, 5xx, none).",
    ["reply_class"],
    registry=REGISTRY,
)
DELIVERIES = Gauge(
    "newsletter_deliveries",
    "Deliveries by federation and state.",
    ["federation", "state"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "newsletter_queue_depth",
    "Deliveries waiting to be sent (queued, deferred or in flight).",
    registry=REGISTRY,
)


async def render(session: AsyncSession) -> bytes:
    """The exposition text, with the outbox gauges refreshed from the database."""
    from app.delivery import repository

    rows = await repository.counts_by_state(session)
    DELIVERIES.clear()
    depth = 0
    for slug, state, count in rows:
        DELIVERIES.labels(federation=slug, state=state).set(count)
        if state in ("queued", "deferred", "sending"):
            depth += count
    QUEUE_DEPTH.set(depth)
    return generate_latest(REGISTRY)
