"""/metrics: HTTP requests and build info from this process; the outbox and the dispatchers'
ticks from the database at scrape time (cron dispatchers and workers are other processes)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from app.monitoring import build
from app.monitoring import service as monitoring_service
from app.monitoring.models import OUTCOMES, DispatcherTick

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "newsletter_http_requests",
    "HTTP requests answered by this process, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "newsletter_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    registry=REGISTRY,
)
HTTP_CACHED = Counter(
    "newsletter_http_cached_answers",
    "Of newsletter_http_requests, those answered from the in-process page caches before the "
    "framework (app/fast_path.py), by route template.",
    ["route"],
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "newsletter_build_info",
    "The running version (always 1).",
    ["version", "python"],
    registry=REGISTRY,
)
BUILD_INFO.labels(version=build.version(), python=build.python_version()).set(1)


class _Ticks(Collector):
    """The dispatcher_ticks rows read for this scrape, as metric families."""

    def __init__(self, rows: Sequence[DispatcherTick]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        last = GaugeMetricFamily(
            "newsletter_dispatcher_last_tick_timestamp_seconds",
            "When a dispatcher of this kind last finished a run (Unix time): alert when old.",
            labels=["dispatcher"],
        )
        ticks = CounterMetricFamily(
            "newsletter_dispatcher_ticks",
            "Dispatch runs finished, by kind of dispatcher (cron `dispatch` or `worker`).",
            labels=["dispatcher"],
        )
        outcomes = CounterMetricFamily(
            "newsletter_dispatched",
            "Messages handled by dispatchers of every process, by outcome.",
            labels=["dispatcher", "outcome"],
        )
        for row in self.rows:
            last.add_metric([row.dispatcher], row.last_tick_at.timestamp())
            ticks.add_metric([row.dispatcher], row.ticks)
            for outcome in OUTCOMES:
                outcomes.add_metric([row.dispatcher, outcome], getattr(row, outcome))
        yield from (last, ticks, outcomes)


async def render(session: AsyncSession) -> bytes:
    """The whole exposition text for a scrape."""
    from app.delivery import metrics as delivery_metrics

    outbox = await delivery_metrics.render(session)
    per_scrape = CollectorRegistry()
    per_scrape.register(_Ticks(await monitoring_service.list_ticks(session)))
    return outbox + generate_latest(REGISTRY) + generate_latest(per_scrape)
