"""Prometheus metrics: SMTP reply classes (counted as sent) and the outbox by state (read from
the database at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.outcomes import REPLY_CLASSES


class _SmtpReplies(Collector):
    """The dispatchers' reply counts (app.delivery.outcomes.REPLY_CLASSES), read at scrape
    time: the dispatcher counts in a plain Counter and never imports prometheus_client."""

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "newsletter_smtp_replies",
            "SMTP replies received by dispatchers in this process, by class (2xx, 4xx, 5xx, none).",
            labels=["reply_class"],
        )
        for reply_class, count in sorted(REPLY_CLASSES.items()):
            family.add_metric([reply_class], count)
        yield family


REGISTRY = CollectorRegistry()
REGISTRY.register(_SmtpReplies())
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
