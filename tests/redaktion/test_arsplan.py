"""Årsplan in Redaktionen: admins add and remove seasonal rules, an ansvarig may look, and the
owners get a short notice mail through the outbox when the draft is made."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, composition
from app.audit.models import AuditAction, AuditEntry
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.federations.models import Federation
from app.seasons import service
from app.seasons.models import SeasonalRule
from app.users.models import Role
from tests.fixtures.factories import make_federation
from tests.fixtures.smtp import SmtpRecorder
from tests.fixtures.staff import as_role

BASE = "/redaktion/installningar/arsplan"
OWNER = "chefen@norr.example.se"
SOMMAR = {
    "name": "Sommarhälsning",
    "theme": "sommar",
    "anchor": "midsommarafton",
    "anchor_month": "",
    "anchor_day": "",
    "days_before": "7",
    "notify_emails": f"{OWNER}\nkansliet@norr.example.se",
}


@pytest.fixture
async def federation(session: AsyncSession, frozen_clock: None) -> Federation:
    # 1 June 2027: midsommarafton is 25 June, so a rule 7 days before fires on 18 June.
    clock.freeze(datetime(2027, 6, 1, 8, tzinfo=UTC))
    return await make_federation(session, "norr")


async def rules_of(session: AsyncSession, federation: Federation) -> list[SeasonalRule]:
    result = await session.execute(
        select(SeasonalRule).where(SeasonalRule.federation_id == federation.id)
    )
    return list(result.scalars())


class TestAddRule:
    async def test_admin_adds_a_rule_and_sees_its_next_day(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        added = await client.post(BASE, data={"csrf": csrf, **SOMMAR})
        assert added.status_code == 303, added.text
        page = await client.get(added.headers["location"])
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "7 dagar före midsommarafton" in page.text
        assert '<time datetime="2027-06-18">18 juni 2027</time>' in page.text
        assert "Europe/Stockholm" in page.text
        (rule,) = await rules_of(session, federation)
        assert rule.notify_emails == [OWNER, "kansliet@norr.example.se"]
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.target_type == "seasonal_rule")
        )
        assert entry is not None
        assert entry.action == AuditAction.SETTINGS_CHANGED
        assert entry.summary == "lade till säsongsregeln 'Sommarhälsning'"
        assert OWNER not in entry.summary

    async def test_last_working_day_before_a_fixed_date(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        form = {
            **SOMMAR,
            "name": "Årsskiftesbrev",
            "theme": "arsskifte",
            "anchor": "date",
            "anchor_month": "12",
            "anchor_day": "20",
            "days_before": "1",
            "weekday_only": "ja",
        }
        assert (await client.post(BASE, data={"csrf": csrf, **form})).status_code == 303
        page = await client.get(BASE)
        assert "1 dag före 20 december, närmaste arbetsdag före" in page.text
        # 19 December 2027 is a Sunday: back to Friday the 17th.
        assert '<time datetime="2027-12-17">' in page.text

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"name": ""}, "Skriv ett namn på brevet."),
            ({"days_before": "181"}, "mellan 0 och 180"),
            ({"days_before": "sju"}, "mellan 0 och 180"),
            ({"notify_emails": "inte-en-adress"}, "giltiga e-postadresser"),
            ({"notify_emails": ""}, "giltiga e-postadresser"),
            ({"anchor": "date", "anchor_month": "2", "anchor_day": "29"}, "29 februari"),
            ({"anchor": "date"}, "Ett fast datum behöver"),
            ({"theme": "påsk"}, "Välj ett tema."),
        ],
    )
    async def test_bad_input_is_refused_in_swedish(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        change: dict[str, str],
        message: str,
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        refused = await client.post(BASE, data={"csrf": csrf, **SOMMAR, **change})
        assert refused.status_code == 422
        assert "Regeln är inte sparad." in refused.text
        assert message in refused.text
        assert await rules_of(session, federation) == []

    async def test_without_csrf_nothing_is_added(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await as_role(client, session, federation, Role.ADMIN)
        assert (await client.post(BASE, data=SOMMAR)).status_code == 403
        assert await rules_of(session, federation) == []


class TestRoles:
    async def test_ansvarig_may_look_but_not_change(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ANSVARIG)
        overview = await client.get("/redaktion")
        assert (
            f'<a href="{BASE}">Årsplan</a>' in overview.text
        )  # in the menu, without Inställningar
        page = await client.get(BASE)
        assert page.status_code == 200
        assert f'<a href="{BASE}" aria-current="page">Årsplan</a>' in page.text
        assert "Lägg till i årsplanen" not in page.text
        assert (await client.post(BASE, data={"csrf": csrf, **SOMMAR})).status_code == 403
        assert await rules_of(session, federation) == []

    async def test_ansvarig_may_not_remove_a_rule(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        assert (await client.post(BASE, data={"csrf": csrf, **SOMMAR})).status_code == 303
        (rule,) = await rules_of(session, federation)
        csrf = await as_role(client, session, federation, Role.ANSVARIG)
        page = await client.get(BASE)
        assert "Sommarhälsning" in page.text
        assert f"{BASE}/{rule.id}/ta-bort" not in page.text
        refused = await client.post(f"{BASE}/{rule.id}/ta-bort", data={"csrf": csrf})
        assert refused.status_code == 403
        assert [r.id for r in await rules_of(session, federation)] == [rule.id]
        removals = await session.scalars(
            select(AuditEntry).where(AuditEntry.summary.like("tog bort%"))
        )
        assert removals.all() == []

    async def test_redaktor_gets_no_page(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await as_role(client, session, federation, Role.REDAKTOR)
        assert (await client.get(BASE)).status_code == 403


class TestDeleteRule:
    async def test_own_rule_goes_and_another_federations_stays(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        csrf = await as_role(client, session, soder, Role.ADMIN)
        theirs_data = {**SOMMAR, "name": "Södras sommarbrev"}
        assert (await client.post(BASE, data={"csrf": csrf, **theirs_data})).status_code == 303
        (theirs,) = await rules_of(session, soder)
        csrf = await as_role(client, session, federation, Role.ADMIN)
        added = await client.post(BASE, data={"csrf": csrf, **SOMMAR})
        assert added.status_code == 303
        (ours,) = await rules_of(session, federation)
        plan = (await client.get(added.headers["location"])).text
        assert "Sommarhälsning" in plan
        assert "Södras sommarbrev" not in plan
        foreign = await client.post(f"{BASE}/{theirs.id}/ta-bort", data={"csrf": csrf})
        assert foreign.status_code == 404
        assert len(await rules_of(session, soder)) == 1
        assert (await client.post(f"{BASE}/{ours.id}/ta-bort", data={})).status_code == 403
        gone = await client.post(f"{BASE}/{ours.id}/ta-bort", data={"csrf": csrf})
        assert gone.headers["location"] == f"{BASE}?klart=borttagen"
        assert await rules_of(session, federation) == []
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.federation_id == federation.id,
                AuditEntry.summary.like("tog bort%"),
            )
        )
        assert entry is not None
        assert entry.target_id == ours.id


class TestDraftNotice:
    async def test_each_owner_gets_a_short_notice_with_a_link_to_the_draft(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        federation: Federation,
        smtp_server: SmtpRecorder,
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        assert (await client.post(BASE, data={"csrf": csrf, **SOMMAR})).status_code == 303
        (created,) = await service.run_due_rules(session, at=datetime(2027, 6, 18, 7, tzinfo=UTC))
        await session.commit()
        await composition.dispatch_once(sessionmaker=sessionmaker)
        for owner in (OWNER, "kansliet@norr.example.se"):
            (message,) = smtp_server.to(owner)
            assert message["Subject"] == "Ett utkast till Sommarhälsning 2027 väntar på dig"
            assert message["From"].addresses[0].addr_spec == federation.from_email
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            text = body.get_content()
            assert "Inget skickas till prenumeranterna" in text
            link = re.search(r"https://nyhetsbrev\.example\.se(/redaktion/utskick/\d+)", text)
            assert link is not None
            assert link.group(1) == f"/redaktion/utskick/{created.campaign_id}"
            # The draft itself is not mailed: a notice, not a test send.
            assert "[Test]" not in message["Subject"]
        statuses = (
            await session.scalars(
                select(Delivery.status).where(Delivery.kind == DeliveryKind.DRAFT_NOTICE)
            )
        ).all()
        assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SENT]
        editor = await client.get(f"/redaktion/utskick/{created.campaign_id}")
        assert editor.status_code == 200
