"""Utskick in Redaktionen over HTTP: roles, four eyes, federation isolation, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit.models import AuditAction, AuditEntry
from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, CampaignStatus
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.errors import Forbidden
from app.federations.models import Federation
from app.users.models import Role
from tests.fixtures.checks import campaign_row
from tests.fixtures.factories import (
    add_campaign,
    add_deliveries,
    add_reader,
    bearer,
    make_federation,
    make_key,
    make_world,
)
from tests.fixtures.pages import new_draft, save, schedule
from tests.fixtures.staff import as_person, csrf_of, signed_in_client


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    """A federation with one confirmed subscriber (a campaign needs one to be scheduled)."""
    federation = await make_federation(session, "norr", timezone="Europe/Stockholm")
    await add_reader(session, federation)
    return federation


class TestWritingAsRedaktor:
    async def test_draft_edit_preview_and_test_send(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        form = await client.get("/redaktion/utskick/nytt")
        assert form.status_code == 200
        assert "God jul och gott nytt år" in form.text
        campaign_id = await new_draft(client, csrf)
        assert (await client.get("/redaktion/utskick")).status_code == 200
        editor = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert editor.status_code == 200
        assert "Sommarhälsning från förbundschefen" in editor.text
        assert 'width="600"' in editor.text
        assert 'width="375"' in editor.text
        saved = await save(client, csrf, campaign_id, "Hej **alla**!")
        assert saved.status_code == 303
        assert saved.headers["location"].endswith("?klart=sparat")
        row = await campaign_row(session, campaign_id)
        assert row.version == 2
        assert row.body_markdown == "Hej **alla**!"
        assert "Kontrollera texten" not in (await client.get(saved.headers["location"])).text
        await save(client, csrf, campaign_id, "Hej!\n\n[Klicka här](https://exempel.se)")
        warned = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "Rad 3: Länktexten ”Klicka här” säger inget" in warned.text
        await save(client, csrf, campaign_id, "Hej **alla**!")
        preview = await client.get(f"/redaktion/utskick/{campaign_id}/forhandsvisning")
        assert preview.status_code == 200
        assert "<strong>alla</strong>" in preview.text
        assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
        assert "script" not in preview.headers["content-security-policy"]
        sent = await client.post(
            f"/redaktion/utskick/{campaign_id}/test",
            data={"csrf": csrf, "adresser": "red@example.se\nchef@example.se"},
        )
        assert sent.headers["location"].endswith("?klart=test")
        tests = (
            await session.execute(
                select(Delivery.to_address).where(
                    Delivery.campaign_id == campaign_id, Delivery.kind == DeliveryKind.TEST
                )
            )
        ).scalars()
        assert sorted(tests) == ["chef@example.se", "red@example.se"]
        actions = (
            await session.execute(
                select(AuditEntry.action)
                .where(AuditEntry.target_type == "campaign", AuditEntry.target_id == campaign_id)
                .order_by(AuditEntry.id)
            )
        ).scalars()
        assert list(actions) == [
            AuditAction.CAMPAIGN_CREATED,
            AuditAction.CAMPAIGN_EDITED,
            AuditAction.CAMPAIGN_EDITED,
            AuditAction.CAMPAIGN_EDITED,
            AuditAction.CAMPAIGN_TEST_SENT,
        ]

    @pytest.mark.parametrize("theme", ["sommar", "jul", "arsskifte", "allman"])
    async def test_a_new_draft_shows_its_sample_photos_without_warnings(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, theme: str
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf, theme)
        body = (await campaign_row(session, campaign_id)).body_markdown
        assert "{base}" not in body
        assert "](https://nyhetsbrev.example.se/static/demo/photos/" in body
        editor = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "Kontrollera texten innan du skickar" not in editor.text

    async def test_a_redaktor_cannot_schedule(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        refused = await schedule(client, csrf, campaign_id)
        assert refused.status_code == 403
        assert "Din roll räcker inte" in refused.text
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.DRAFT
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "Din roll är redaktör" in page.text

    async def test_bad_test_addresses_and_a_refused_save_keep_the_text(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        bad = await client.post(
            f"/redaktion/utskick/{campaign_id}/test", data={"csrf": csrf, "adresser": "nej"}
        )
        assert bad.headers["location"].endswith("?fel=addresses")
        empty = await save(client, csrf, campaign_id, "")
        assert empty.status_code == 422
        assert "kunde inte sparas" in empty.text
        assert (await campaign_row(session, campaign_id)).version == 1

    async def test_forms_without_the_csrf_token_change_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        campaign_id = await new_draft(client, csrf)
        assert (await save(client, "", campaign_id, "Ändrat")).status_code == 403
        assert (await schedule(client, "fel", campaign_id)).status_code == 403
        forged = await client.post(f"/redaktion/utskick/{campaign_id}/skicka-nu", data={})
        assert forged.status_code == 403
        row = await campaign_row(session, campaign_id)
        assert (row.version, row.status) == (1, CampaignStatus.DRAFT)


class TestScheduling:
    async def test_an_ansvarig_schedules_in_the_federation_time_zone(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        campaign_id = await new_draft(client, csrf)
        answer = await schedule(client, csrf, campaign_id)
        assert answer.headers["location"].endswith("?klart=schemalagt")
        row = await campaign_row(session, campaign_id)
        assert row.status == CampaignStatus.SCHEDULED
        # 08:00 in Stockholm on a summer day is 06:00 UTC.
        assert row.send_at == datetime(2099, 6, 18, 6, 0, tzinfo=UTC)
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "18 juni 2099 kl. 08.00" in page.text
        assert f'hx-get="/redaktion/utskick/{campaign_id}/framsteg"' in page.text
        cancelled = await client.post(
            f"/redaktion/utskick/{campaign_id}/avbryt", data={"csrf": csrf}
        )
        assert cancelled.headers["location"].endswith("?klart=avbrutet")
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.CANCELLED

    async def test_a_time_in_the_past_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        campaign_id = await new_draft(client, csrf)
        answer = await client.post(
            f"/redaktion/utskick/{campaign_id}/schemalagg",
            data={"csrf": csrf, "datum": "2001-01-01", "tid": "08:00"},
        )
        assert answer.headers["location"].endswith("?fel=past")
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.DRAFT


class TestFourEyes:
    @staticmethod
    async def _draft_under_four_eyes(
        client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> tuple[str, int]:
        """A draft by Anna (ansvarig) in a federation with four eyes: (her CSRF, its id)."""
        federation.four_eyes = True
        await session.commit()
        author = await as_person(client, session, federation, "anna@example.se", Role.ANSVARIG)
        return author, await new_draft(client, author)

    async def test_neither_the_author_nor_the_last_editor_approves(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        _, campaign_id = await self._draft_under_four_eyes(client, session, federation)
        editor = await as_person(client, session, federation, "bo@example.se", Role.ANSVARIG)
        await save(client, editor, campaign_id, "Bo skrev om det andra stycket")
        own = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": editor, "version": "2"}
        )
        assert own.headers["location"].endswith("?fel=own_campaign")
        # Nor does the author, though someone else wrote this version.
        client.cookies.clear()
        author = csrf_of((await signed_in_client(client, session, "anna@example.se")).text)
        by_author = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": author, "version": "2"}
        )
        assert by_author.headers["location"].endswith("?fel=own_campaign")
        assert (await campaign_row(session, campaign_id)).approved_version is None
        third = await as_person(client, session, federation, "cissi@example.se", Role.ANSVARIG)
        ok = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": third, "version": "2"}
        )
        assert ok.headers["location"].endswith("?klart=godkant")
        assert (await campaign_row(session, campaign_id)).approved_version == 2

    async def test_a_redaktor_neither_sees_nor_uses_the_approve_button(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        _, campaign_id = await self._draft_under_four_eyes(client, session, federation)
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "väntar på godkännande" in page.text
        assert "Godkänn version" not in page.text
        refused = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": csrf, "version": "1"}
        )
        assert refused.status_code == 403
        assert "Din roll räcker inte" in refused.text
        assert (await campaign_row(session, campaign_id)).approved_version is None

    async def test_only_a_person_approves(
        self, session: AsyncSession, federation: Federation
    ) -> None:
        """The API has no approval; the service refuses a key anyway (four eyes are people)."""
        federation.four_eyes = True
        campaign = await add_campaign(session, federation)
        with pytest.raises(Forbidden):
            await campaigns_service.approve_campaign(
                session,
                federation=federation,
                campaign_id=campaign.id,
                version=campaign.version,
                actor=Actor(label="API-nyckel", api_key_id=1),
            )
        assert (await campaign_row(session, campaign.id)).approved_version is None

    async def test_only_another_ansvarig_approves_and_an_edit_withdraws_it(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        author, campaign_id = await self._draft_under_four_eyes(client, session, federation)
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "väntar på godkännande" in page.text
        own = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": author, "version": "1"}
        )
        assert own.headers["location"].endswith("?fel=own_campaign")
        refused = await schedule(client, author, campaign_id)
        assert refused.headers["location"].endswith("?fel=approval_needed")
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.DRAFT

        other = await as_person(client, session, federation, "bo@example.se", Role.ANSVARIG)
        stale = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": other, "version": "7"}
        )
        assert stale.headers["location"].endswith("?fel=stale")
        ok = await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": other, "version": "1"}
        )
        assert ok.headers["location"].endswith("?klart=godkant")
        assert (await campaign_row(session, campaign_id)).approved_version == 1

        author = await as_person(client, session, federation, "anna@example.se", Role.ANSVARIG)
        await save(client, author, campaign_id, "Ny text efter godkännandet")
        row = await campaign_row(session, campaign_id)
        assert (row.version, row.approved_version) == (2, None)
        assert (
            (await schedule(client, author, campaign_id))
            .headers["location"]
            .endswith("?fel=approval_needed")
        )

        other = await as_person(client, session, federation, "bo@example.se", Role.ANSVARIG)
        await client.post(
            f"/redaktion/utskick/{campaign_id}/godkann", data={"csrf": other, "version": "2"}
        )
        author = await as_person(client, session, federation, "anna@example.se", Role.ANSVARIG)
        assert (
            (await schedule(client, author, campaign_id))
            .headers["location"]
            .endswith("?klart=schemalagt")
        )
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.SCHEDULED

    async def test_an_api_key_cannot_skip_the_approval(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        federation.four_eyes = True
        await session.commit()
        headers = bearer(await make_key(session, federation, name="kansliet"))
        created = await client.post(
            "/api/v1/federations/norr/campaigns",
            json={"subject": "Hej", "theme": "allman", "body_markdown": "Text"},
            headers=headers,
        )
        campaign_id = created.json()["id"]
        for path, body in (
            ("send-now", None),
            ("schedule", {"send_at": "2099-01-01T08:00:00+01:00"}),
        ):
            answer = await client.post(
                f"/api/v1/federations/norr/campaigns/{campaign_id}/{path}",
                json=body,
                headers=headers,
            )
            assert answer.status_code == 409
            assert answer.json()["error"]["details"] == {"code": "approval_needed"}
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.target_type == "campaign",
                AuditEntry.target_id == campaign_id,
                AuditEntry.action == AuditAction.CAMPAIGN_CREATED,
            )
        )
        assert entry is not None
        assert entry.api_key_id is not None
        assert entry.actor_label.startswith("API-nyckel kansliet")


class TestArchiveChoice:
    async def test_the_editor_keeps_a_letter_out_of_the_archive_and_back(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert 'name="publish_in_archive" value="ja" checked' in page.text
        form = {
            "csrf": csrf,
            "subject": "Sommarhälsning",
            "preheader": "Hej",
            "theme": "sommar",
            "body_markdown": "Text.",
            "arkiv_visas": "1",
        }
        unticked = await client.post(f"/redaktion/utskick/{campaign_id}", data=form)
        assert unticked.status_code == 303, unticked.text
        assert (await campaign_row(session, campaign_id)).publish_in_archive is False
        # A form without the checkbox (an older page, or the API's partial change) leaves it.
        await save(client, csrf, campaign_id, "Annan text.")
        assert (await campaign_row(session, campaign_id)).publish_in_archive is False
        ticked = {**form, "publish_in_archive": "ja"}
        await client.post(f"/redaktion/utskick/{campaign_id}", data=ticked)
        assert (await campaign_row(session, campaign_id)).publish_in_archive is True


class TestEveryApiStateChangeInThePages:
    """What `POST …/campaigns/{id}/unschedule|pause|send-now|duplicate` and `DELETE` do, done
    from the campaign's page, by the roles that may."""

    @staticmethod
    async def _scheduled(
        client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> tuple[str, int]:
        """A campaign scheduled by an ansvarig, who stays signed in: (their CSRF, its id)."""
        csrf = await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        campaign_id = await new_draft(client, csrf)
        await schedule(client, csrf, campaign_id)
        return csrf, campaign_id

    async def test_unschedule_send_now_and_pause(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf, campaign_id = await self._scheduled(client, session, federation)
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "Ta tillbaka till utkast" in page.text
        back = await client.post(
            f"/redaktion/utskick/{campaign_id}/avschemalagg", data={"csrf": csrf}
        )
        assert back.headers["location"].endswith("?klart=avschemalagt")
        row = await campaign_row(session, campaign_id)
        assert (row.status, row.send_at) == (CampaignStatus.DRAFT, None)

        now_ = await client.post(f"/redaktion/utskick/{campaign_id}/skicka-nu", data={"csrf": csrf})
        assert now_.headers["location"].endswith("?klart=skickas")
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.SCHEDULED

        # Pausing needs a campaign that is sending; a scheduled one is refused on its page.
        refused = await client.post(f"/redaktion/utskick/{campaign_id}/pausa", data={"csrf": csrf})
        assert refused.headers["location"].endswith("?fel=state")
        row = await campaign_row(session, campaign_id)
        row.status = CampaignStatus.SENDING
        await session.commit()
        assert "Pausa" in (await client.get(f"/redaktion/utskick/{campaign_id}")).text
        paused = await client.post(f"/redaktion/utskick/{campaign_id}/pausa", data={"csrf": csrf})
        assert paused.headers["location"].endswith("?klart=pausat")
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.PAUSED
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_id == campaign_id)
                .order_by(AuditEntry.id)
            )
        ).all()
        assert actions[-3:] == [
            AuditAction.CAMPAIGN_UNSCHEDULED,
            AuditAction.CAMPAIGN_SCHEDULED,
            AuditAction.CAMPAIGN_PAUSED,
        ]

    async def test_send_now_keeps_four_eyes_and_a_redaktor_cannot(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        refused = await client.post(
            f"/redaktion/utskick/{campaign_id}/skicka-nu", data={"csrf": csrf}
        )
        assert refused.status_code == 403
        federation.four_eyes = True
        await session.commit()
        csrf = await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        own = await new_draft(client, csrf)
        held = await client.post(f"/redaktion/utskick/{own}/skicka-nu", data={"csrf": csrf})
        assert held.headers["location"].endswith("?fel=approval_needed")
        assert (await campaign_row(session, own)).status == CampaignStatus.DRAFT

    async def test_a_redaktor_changes_no_state_of_a_campaign(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        _, campaign_id = await self._scheduled(client, session, federation)
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        before = await session.scalar(select(func.count(AuditEntry.id)))
        for action in ("avschemalagg", "avbryt", "pausa", "ateruppta", "skicka-om-okanda"):
            answer = await client.post(
                f"/redaktion/utskick/{campaign_id}/{action}", data={"csrf": csrf}
            )
            assert answer.status_code == 403, action
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.SCHEDULED
        assert await session.scalar(select(func.count(AuditEntry.id))) == before

    async def test_a_redaktor_copies_and_deletes_drafts(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        await save(client, csrf, campaign_id, "Årets text, att återanvända.")
        copied = await client.post(f"/redaktion/utskick/{campaign_id}/kopiera", data={"csrf": csrf})
        copy_id = int(copied.headers["location"].split("?")[0].rsplit("/", 1)[1])
        assert copy_id != campaign_id
        assert copied.headers["location"].endswith("?klart=kopierat")
        copy = await campaign_row(session, copy_id)
        assert (copy.body_markdown, copy.version, copy.status) == (
            "Årets text, att återanvända.",
            1,
            CampaignStatus.DRAFT,
        )

        confirm = await client.get(f"/redaktion/utskick/{copy_id}/ta-bort")
        assert confirm.status_code == 200
        assert "Ja, ta bort" in confirm.text
        without_token = await client.post(f"/redaktion/utskick/{copy_id}/ta-bort", data={})
        assert without_token.status_code == 403
        assert await session.get(Campaign, copy_id) is not None
        gone = await client.post(f"/redaktion/utskick/{copy_id}/ta-bort", data={"csrf": csrf})
        assert gone.headers["location"] == "/redaktion/utskick?klart=borttaget"
        session.expunge_all()
        assert await session.get(Campaign, copy_id) is None
        assert "Utkastet är borttaget." in (await client.get(gone.headers["location"])).text
        entry = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == AuditAction.CAMPAIGN_DELETED)
            )
        ).one()
        assert (entry.target_id, "Sommarhälsning" in entry.summary) == (copy_id, True)

    async def test_only_drafts_are_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        campaign_id = await new_draft(client, csrf)
        await schedule(client, csrf, campaign_id)
        page = await client.get(f"/redaktion/utskick/{campaign_id}/ta-bort")
        assert page.headers["location"].endswith("?fel=state")
        refused = await client.post(
            f"/redaktion/utskick/{campaign_id}/ta-bort", data={"csrf": csrf}
        )
        assert refused.headers["location"].endswith("?fel=state")
        assert (await campaign_row(session, campaign_id)).status == CampaignStatus.SCHEDULED


class TestFederationIsolation:
    async def test_every_page_and_action_of_another_federation_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        theirs = await as_person(client, session, soder, "s@example.se", Role.ADMIN)
        their_id = await new_draft(client, theirs)
        mine = await as_person(client, session, federation, "n@example.se", Role.ADMIN)
        base = f"/redaktion/utskick/{their_id}"
        for path in (base, base + "/forhandsvisning", base + "/framsteg", base + "/ta-bort"):
            assert (await client.get(path)).status_code == 404, path
        assert (await save(client, mine, their_id, "Kapat")).status_code == 404
        for action in (
            "test",
            "godkann",
            "schemalagg",
            "avbryt",
            "ateruppta",
            "skicka-om-okanda",
            "pausa",
            "avschemalagg",
            "skicka-nu",
            "kopiera",
            "ta-bort",
        ):
            answer = await client.post(
                f"{base}/{action}",
                data={
                    "csrf": mine,
                    "adresser": "n@example.se",
                    "version": "1",
                    "datum": "2099-01-01",
                    "tid": "08:00",
                },
            )
            assert answer.status_code == 404, action
        row = await campaign_row(session, their_id)
        assert (row.version, row.status) == (1, CampaignStatus.DRAFT)
        listing = await client.get("/redaktion/utskick")
        assert f"/redaktion/utskick/{their_id}" not in listing.text


class TestOutcomes:
    async def test_filters_and_requeue_of_unknowns(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        world = await make_world(session, n=3, slug="vaster")
        campaign = await add_campaign(session, world.federation, status=CampaignStatus.SENT)
        await add_deliveries(
            session,
            world,
            campaign.id,
            [
                (DeliveryStatus.SENT, None, None),
                (DeliveryStatus.FAILED, 550, None),
                (DeliveryStatus.UNKNOWN, None, None),
            ],
        )
        csrf = await as_person(client, session, world.federation, "chef@example.se", Role.ANSVARIG)
        base = f"/redaktion/utskick/{campaign.id}"
        page = await client.get(base)
        assert "1 med okänt utfall" in page.text
        everyone = await client.get(f"{base}/mottagare")
        assert all(email in everyone.text for email in world.emails)
        failed = await client.get(f"{base}/mottagare", params={"visa": "misslyckade"})
        assert world.emails[1] in failed.text
        assert world.emails[0] not in failed.text
        assert world.emails[2] not in failed.text
        assert "550" in failed.text
        requeued = await client.post(f"{base}/skicka-om-okanda", data={"csrf": csrf})
        assert requeued.headers["location"].endswith("?klart=omkoat")
        unknown = await client.get(f"{base}/mottagare", params={"visa": "okanda"})
        assert world.emails[2] not in unknown.text
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.CAMPAIGN_REQUEUED)
        )
        assert entry is not None
        assert entry.summary.endswith(": 1 mejl")

    async def test_another_federations_outcomes_are_404(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        other = await make_federation(session, "soder")
        theirs = await add_campaign(session, other, status=CampaignStatus.SENT)
        await as_person(client, session, federation, "n@example.se", Role.ADMIN)
        assert (await client.get(f"/redaktion/utskick/{theirs.id}/mottagare")).status_code == 404
