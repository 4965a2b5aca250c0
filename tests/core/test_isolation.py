"""Federation isolation in work no staff request starts: the seasonal runner serves every
federation at once, and each federation's draft is made from its own letters only."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.seasons import service as season_service
from tests.fixtures.factories import Tenant


class TestSeasonalDrafts:
    async def test_a_draft_never_starts_from_another_federations_letter(
        self,
        api: httpx.AsyncClient,
        session: AsyncSession,
        tenant: Tenant,
        other_tenant: Tenant,
    ) -> None:
        rule = await api.post(
            f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules",
            json={
                "name": "Sommarhälsning",
                "theme": "sommar",
                "anchor": "midsommarafton",
                "days_before": 7,
                "notify_emails": ["chefen@sf-norra.example.se"],
            },
            headers=tenant.headers,
        )
        assert rule.status_code == 201, rule.text
        # Södra sent a summer letter last year; Norra has none of its own.
        june = datetime(2026, 6, 12, 7, tzinfo=UTC)
        session.add(
            Campaign(
                federation_id=other_tenant.federation.id,
                subject="Södras sommarbrev",
                theme=Theme.SOMMAR,
                body_markdown="Södras eget brev, bara för Södras läsare.",
                status=CampaignStatus.SENT,
                send_at=june,
                started_at=june,
            )
        )
        await session.flush()
        await season_service.run_due_rules(session, at=datetime(2027, 6, 18, 7, tzinfo=UTC))
        drafts = await session.scalars(
            select(Campaign).where(
                Campaign.federation_id == tenant.federation.id,
                Campaign.status == CampaignStatus.DRAFT,
            )
        )
        (draft,) = drafts
        assert draft.subject != "Södras sommarbrev"
        assert "Södras" not in draft.body_markdown
