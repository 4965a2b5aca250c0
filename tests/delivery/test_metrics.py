"""/metrics: the outbox by federation and state, and SMTP reply classes."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app import composition
from tests.fixtures.factories import make_campaign, make_world
from tests.fixtures.settings import Configure
from tests.fixtures.smtp import SmtpRecorder


class TestMetrics:
    async def test_deliveries_by_state_and_reply_classes(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        fault_smtp: SmtpRecorder,
        configure: Configure,
    ) -> None:
        configure(metrics_token="skrapa")
        world = await make_world(session, n=3, slug="metrik")
        fault_smtp.fail(world.address(0), "rcpt:550 5.1.1 No such user")
        await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()

        response = await client.get("/metrics", headers={"Authorization": "Bearer skrapa"})

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert 'newsletter_deliveries{federation="metrik",state="sent"} 2.0' in text
        assert 'newsletter_deliveries{federation="metrik",state="failed"} 1.0' in text
        assert "newsletter_queue_depth 0.0" in text
        assert 'newsletter_smtp_replies_total{reply_class="5xx"}' in text
