"""Seasonal rules through the API and the runner: the right day, once, from last year's letter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.seasons import repository, service
from app.seasons.models import SeasonalRule
from tests.fixtures.factories import Tenant

SOMMAR = {
    "name": "Sommarhälsning",
    "theme": "sommar",
    "anchor": "midsommarafton",
    "days_before": 7,
    "notify_emails": ["chefen@sf-norra.example.se"],
}

# On New Year's Day itself: due at midnight in the federation's zone.
NYARSHALSNING = {
    "name": "Nyårshälsning",
    "theme": "arsskifte",
    "anchor": "date",
    "anchor_month": 1,
    "anchor_day": 1,
    "days_before": 0,
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


async def _listed(api: httpx.AsyncClient, tenant: Tenant) -> dict[str, object]:
    """The tenant's one rule as the API lists it (with its next date as of now())."""
    response = await api.get(
        f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules", headers=tenant.headers
    )
    (rule,) = response.json()["items"]
    return dict(rule)


def _letter(federation: Federation, subject: str, started: str, **overrides: object) -> Campaign:
    """A letter of an earlier year, sent unless the overrides say otherwise."""
    values: dict[str, object] = {
        "federation_id": federation.id,
        "subject": subject,
        "theme": Theme.SOMMAR,
        "body_markdown": f"Brödtexten i {subject.lower()}.",
        "status": CampaignStatus.SENT,
        "send_at": _at(started),
        "started_at": _at(started),
    }
    values.update(overrides)
    return Campaign(**values)


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
            {"anchor": "date", "anchor_month": 6},
            {"anchor": "date", "anchor_day": 20},
            {"notify_emails": []},
        ):
            response = await api.post(base, json={**SOMMAR, **bad}, headers=tenant.headers)
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "validation_error", bad
        assert (await api.get(base, headers=tenant.headers)).json()["items"] == []

    async def test_days_before_over_180_is_named(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        base = f"/api/v1/federations/{tenant.federation.slug}/seasonal-rules"
        response = await api.post(base, json={**SOMMAR, "days_before": 181}, headers=tenant.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["loc"] == ["body", "days_before"]

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
        # Due on 18 June; the catch-up lasts 21 days, to 9 July inclusive.
        assert await service.run_due_rules(session, at=_at("2027-07-10")) == []
        assert len(await service.run_due_rules(session, at=_at("2027-07-09"))) == 1

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


class TestTimeZone:
    async def test_the_day_begins_at_midnight_in_stockholm(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _rule(api, tenant)
        # 22:30 UTC on 17 June is half past midnight on 18 June in Stockholm (CEST).
        midnight = _at("2027-06-17").replace(hour=22, minute=30)
        assert len(await service.run_due_rules(session, at=midnight)) == 1

    async def test_a_federation_in_another_zone_gets_its_draft_on_its_own_day(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        tenant.federation.timezone = "Europe/London"
        await session.commit()
        await _rule(api, tenant)
        evening = _at("2027-06-17").replace(hour=22, minute=30)  # 23:30 on 17 June in London
        assert await service.run_due_rules(session, at=evening) == []
        midnight = evening.replace(hour=23)  # 00:30 on 18 June in London
        assert len(await service.run_due_rules(session, at=midnight)) == 1

    async def test_a_new_year_rule_fires_when_the_year_has_turned_in_stockholm(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _rule(api, tenant, **NYARSHALSNING)
        assert len(await service.run_due_rules(session, at=_at("2026-01-01"))) == 1
        # 23:30 UTC on New Year's Eve is already 1 January 2027 in Stockholm.
        created = await service.run_due_rules(
            session, at=_at("2026-12-31").replace(hour=23, minute=30)
        )
        assert len(created) == 1
        drafts = await _drafts(session, tenant)
        assert [d.subject for d in drafts] == ["Nyårshälsning 2026", "Nyårshälsning 2027"]


class TestOnceAYear:
    async def test_a_rule_another_runner_fired_meanwhile_makes_no_second_draft(
        self,
        api: httpx.AsyncClient,
        session: AsyncSession,
        tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await _rule(api, tenant)
        read_rules = repository.pending

        async def then_fired_elsewhere(
            session_: AsyncSession, *, year: int
        ) -> list[tuple[SeasonalRule, Federation]]:
            found = list(await read_rules(session_, year=year))
            # Another runner makes this year's draft after this one read the rules.
            await session_.execute(
                update(SeasonalRule)
                .values(last_created_year=2027)
                .execution_options(synchronize_session=False)
            )
            return found

        monkeypatch.setattr(repository, "pending", then_fired_elsewhere)
        assert await service.run_due_rules(session, at=_at("2027-06-18")) == []
        assert await _drafts(session, tenant) == []


class TestNextDate:
    async def test_the_next_date_through_the_summer(
        self,
        api: httpx.AsyncClient,
        session: AsyncSession,
        tenant: Tenant,
        frozen_clock: None,
    ) -> None:
        clock.freeze(_at("2027-06-01"))
        await _rule(api, tenant)
        assert (await _listed(api, tenant))["next_date"] == "2027-06-18"
        # The day passed while the runner was down: it still fires, so the next date is today.
        clock.freeze(_at("2027-06-25"))
        assert (await _listed(api, tenant))["next_date"] == "2027-06-25"
        (created,) = await service.run_due_rules(session, at=clock.now())
        await session.commit()
        listed = await _listed(api, tenant)
        # Midsommarafton 2028 is 23 June.
        assert listed["next_date"] == date(2028, 6, 16).isoformat()
        assert (listed["last_created_year"], listed["last_campaign_id"]) == (
            2027,
            created.campaign_id,
        )


class TestStartingText:
    async def test_the_latest_sent_letter_of_the_theme_in_the_federation_itself(
        self,
        api: httpx.AsyncClient,
        session: AsyncSession,
        tenant: Tenant,
        other_tenant: Tenant,
    ) -> None:
        own, other = tenant.federation, other_tenant.federation
        session.add_all(
            [
                _letter(own, "Sommarhälsning 2026", "2026-06-12"),
                # Each of these would win if its rule were not kept:
                _letter(own, "Sommarhälsning 2025", "2025-06-13"),  # older
                _letter(own, "Julhälsning 2026", "2026-12-11", theme=Theme.JUL),  # other theme
                _letter(own, "Inställt sommarbrev", "2026-08-03", status=CampaignStatus.CANCELLED),
                _letter(other, "Södras sommarhälsning", "2026-09-01"),  # another federation
            ]
        )
        await session.commit()
        await _rule(api, tenant)
        await service.run_due_rules(session, at=_at("2027-06-18"))
        (draft,) = await _drafts(session, tenant)
        assert (draft.subject, draft.body_markdown) == (
            "Sommarhälsning 2026",
            "Brödtexten i sommarhälsning 2026.",
        )
