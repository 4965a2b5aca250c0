"""/metrics: what cron dispatchers and workers did (read from the database at scrape time),
their liveness, HTTP requests by route template, and build info."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import db
from app.monitoring import service as monitoring_service
from tests.fixtures.cli import newsletter
from tests.fixtures.settings import Configure

SCRAPER = {"Authorization": "Bearer skrapa"}


@pytest.fixture(autouse=True)
def _metrics_token(configure: Configure) -> None:
    configure(metrics_token="skrapa")  # /metrics is not public (tests/core/test_health.py)


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in /metrics"
    return float(match.group(1))


class TestDispatcherTicks:
    async def test_ticks_add_up_and_report_liveness(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        before = time.time()
        await monitoring_service.record_tick(
            session, dispatcher="worker", counts={"sent": 3, "failed": 1}
        )
        await monitoring_service.record_tick(session, dispatcher="worker", counts={"sent": 2})
        await session.commit()

        text = (await client.get("/metrics", headers=SCRAPER)).text

        assert _value(text, 'newsletter_dispatcher_ticks_total{dispatcher="worker"}') == 2
        assert _value(text, 'newsletter_dispatched_total{dispatcher="worker",outcome="sent"}') == 5
        failed = 'newsletter_dispatched_total{dispatcher="worker",outcome="failed"}'
        assert _value(text, failed) == 1
        last_tick = 'newsletter_dispatcher_last_tick_timestamp_seconds{dispatcher="worker"}'
        last = _value(text, last_tick)
        assert last >= before - 1

    async def test_cron_dispatch_in_another_process_reaches_metrics(self, tmp_path: Path) -> None:
        from app.main import create_app

        url = f"sqlite+aiosqlite:///{tmp_path}/cron.db"
        assert newsletter(url, "db", "upgrade").returncode == 0
        for _ in range(2):
            result = newsletter(url, "dispatch")
            assert result.returncode == 0, result.stderr

        engine = db.make_engine(url)
        db.use_sessionmaker(async_sessionmaker(engine, expire_on_commit=False))
        try:
            transport = httpx.ASGITransport(app=create_app(embedded_services=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                text = (await client.get("/metrics", headers=SCRAPER)).text
        finally:
            db.use_sessionmaker(None)
            await engine.dispose()
        assert _value(text, 'newsletter_dispatcher_ticks_total{dispatcher="dispatch"}') == 2


class TestHttpMetrics:
    async def test_requests_counted_by_route_template_not_path(
        self, client: httpx.AsyncClient
    ) -> None:
        sample = 'newsletter_http_requests_total{method="GET",route="/u/{token}",status="404"}'
        before_text = (await client.get("/metrics", headers=SCRAPER)).text
        before = _value(before_text, sample) if sample in before_text else 0.0

        await client.get("/u/hemlig-token-123")
        text = (await client.get("/metrics", headers=SCRAPER)).text

        assert _value(text, sample) == before + 1
        assert "hemlig-token-123" not in text
        assert 'newsletter_http_request_duration_seconds_count{route="/u/{token}"}' in text

    async def test_build_info(self, client: httpx.AsyncClient) -> None:
        text = (await client.get("/metrics", headers=SCRAPER)).text
        assert re.search(
            r'^newsletter_build_info\{python="3\.\d+\.\d+",version="[^"]+"\} 1\.0$',
            text,
            re.MULTILINE,
        )
