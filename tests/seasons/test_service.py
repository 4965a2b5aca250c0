"""Seasonal rules through the API and the runner: the right day, once, from last year's letter."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.delivery.models import Delivery, DeliveryKind
from app.seasons import service
from tests.fixtures.factories import Tenant

SOMMAR = {
    "name": "Sommarhälsning",
    "theme": "sommar",
    "anchor": "midsommarafton",
    "days_before": 7,
    "notify_emails": ["chefen@sf-norra.example.se"],
}


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=7, tzinfo=UTC)


async def _rule(api: httpx.AsyncClient, tenant: Tenant, **overrides: object) -> dict[str, object]:
    response = await api.post(
        f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules",
        json={**SOMMAR, **overrides},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _drafts(session: AsyncSession, tenant: Tenant) -> list[Campaign]:
    result = await session.execute(
        select(Campaign)
        .where(Campaign.federation_id == tenant.federation.id, Campaign.status == "draft")
        .order_by(Campaign.id)
    )
    return list(result.scalars())


class TestRules:
    async def test_rule_lists_its_next_day(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        rule = await _rule(api, tenant)
        assert rule["next_date"] is not None
        listed = await api.get(
            f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules", headers=tenant.headers
        )
        assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]

    async def test_date_anchor_needs_a_real_date(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        base = f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules"
        for bad in (
            {"anchor": "date"},
            {"anchor": "date", "anchor_month": 2, "anchor_day": 30},
            {"anchor": "date", "anchor_month": 2, "anchor_day": 29},
            {"anchor": "julafton", "anchor_month": 12, "anchor_day": 1},
            {"notify_emails": []},
        ):
            response = await api.post(base, json={**SOMMAR, **bad}, headers=tenant.headers)
            assert response.status_code == 422, bad
            assert "error" in response.json()

    async def test_another_federation_cannot_delete(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        rule = await _rule(api, tenant)
        foreign = f"/api/v1/federations/{other_tenant.federation.slug}/seasonal-rules/{rule['id']}"
        assert (await api.delete(foreign, headers=other_tenant.headers)).status_code == 404
        own = f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules/{rule['id']}"
        assert (await api.delete(own, headers=tenant.headers)).status_code == 204


class TestRunner:
    async def test_draft_on_the_day_once_with_a_mail_to_the_owner(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _rule(api, tenant)
        # Midsommarafton 2027 is 25 June: the draft is due on 18 June.
        assert await service.run_due_rules(session, at=_at("2027-06-17")) == []
        created = await service.run_due_rules(session, at=_at("2027-06-18"))
        assert len(created) == 1
        assert await service.run_due_rules(session, at=_at("2027-06-18")) == []
        assert await service.run_due_rules(session, at=_at("2027-06-20")) == []
        (draft,) = await _drafts(session, tenant)
        assert draft.id == created[0].campaign_id
        assert draft.theme == Theme.SOMMAR
        assert draft.subject == "Sommarhälsning 2027"
        assert "## Det här har hänt" in draft.body_markdown
        mails = (
            await session.execute(select(Delivery).where(Delivery.campaign_id == draft.id))
        ).scalars()
        assert [(m.kind, m.to_address) for m in mails] == [
            (DeliveryKind.DRAFT_NOTICE, "chefen@sf-norra.example.se")
        ]

    async def test_next_year_starts_from_last_years_letter(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _rule(api, tenant)
        last_year = Campaign(
            federation_id=tenant.federation.id,
            subject="Sommarhälsning från förbundschefen",
            preheader="Ett halvår av samverkan",
            theme=Theme.SOMMAR,
            body_markdown="Förra sommarens brev, att bygga vidare på.",
            status=CampaignStatus.SENT,
            send_at=_at("2026-06-12"),
            started_at=_at("2026-06-12"),
        )
        session.add(last_year)
        await session.flush()
        await service.run_due_rules(session, at=_at("2027-06-18"))
        (draft,) = await _drafts(session, tenant)
        assert draft.subject == last_year.subject
        assert draft.body_markdown == last_year.body_markdown

    async def test_a_runner_down_for_weeks_does_not_send_summer_in_autumn(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _rule(api, tenant)
        assert await service.run_due_rules(session, at=_at("2027-09-01")) == []
        assert len(await service.run_due_rules(session, at=_at("2027-06-30"))) == 1

    async def test_arsskiftesbrev_on_the_last_working_day_before_20_december(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _rule(
            api,
            tenant,
            name="Årsskiftesbrev",
            theme="arsskifte",
            anchor="date",
            anchor_month=12,
            anchor_day=20,
            days_before=1,
            weekday_only=True,
        )
        assert await service.run_due_rules(session, at=_at("2027-12-16")) == []
        assert len(await service.run_due_rules(session, at=_at("2027-12-17"))) == 1
