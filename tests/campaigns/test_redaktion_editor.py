"""The Utskick editor: a preview of unsaved text, the header photo, the closing and signature,
and the bounced filter of the outcomes page."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
import pytest
from PIL import Image as PilImage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actors import Actor
from app.audit.models import AuditEntry
from app.campaigns.models import CampaignStatus, PreviewDraft
from app.campaigns.service import PREVIEW_DRAFT_LIFETIME
from app.delivery.models import DeliveryStatus
from app.federations.models import Federation
from app.images import service as images_service
from app.images.models import Image
from app.users.models import Role
from tests.fixtures.checks import campaign_row
from tests.fixtures.factories import (
    add_campaign,
    add_deliveries,
    add_reader,
    make_federation,
    make_world,
)
from tests.fixtures.pages import new_draft
from tests.fixtures.staff import as_person

DRAFT_SRC = re.compile(r'src="(/redaktion/utskick/\d+/forhandsvisning\?utkast=\d+)"')


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    PilImage.new("RGB", (800, 300), color).save(out, "PNG")
    return out.getvalue()


async def upload(session: AsyncSession, federation: Federation, alt: str, color: int) -> Image:
    image = await images_service.upload_image(
        session,
        federation=federation,
        data=_png((color, 90, 40)),
        alt_text=alt,
        actor=Actor.system("test"),
    )
    await session.commit()
    return image


def form(csrf: str, body: str, **extra: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "subject": "Sommarhälsning",
        "preheader": "Hej",
        "theme": "sommar",
        "body_markdown": body,
        **extra,
    }


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    """A federation with one confirmed subscriber (a campaign needs one to be scheduled)."""
    federation = await make_federation(session, "norr", timezone="Europe/Stockholm")
    await add_reader(session, federation)
    return federation


@pytest.fixture
async def draft(
    client: httpx.AsyncClient, session: AsyncSession, federation: Federation
) -> tuple[str, int]:
    """A redaktor signed in on `client` and a new draft: (CSRF token, campaign id)."""
    csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
    return csrf, await new_draft(client, csrf)


async def htmx_preview(
    client: httpx.AsyncClient, campaign_id: int, fields: dict[str, str]
) -> httpx.Response:
    """The request htmx sends as the person types."""
    return await client.post(
        f"/redaktion/utskick/{campaign_id}/forhandsgranska",
        data=fields,
        headers={"HX-Request": "true"},
    )


async def audit_rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def draft_src(answer: httpx.Response) -> str:
    found = DRAFT_SRC.search(answer.text)
    assert found, answer.text
    return found.group(1)


class TestUnsavedPreview:
    async def test_htmx_preview_shows_the_typed_text_and_saves_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, draft: tuple[str, int]
    ) -> None:
        csrf, campaign_id = draft
        before = await audit_rows(session)
        answer = await htmx_preview(
            client, campaign_id, form(csrf, "Helt **ny** text.\n\n[klicka här](https://exempel.se)")
        )
        assert answer.status_code == 200
        assert answer.text.lstrip().startswith('<section id="forhandsvisning"')
        assert "Det är inte sparat ännu" in answer.text
        assert "Rad 3: Länktexten ”klicka här” säger inget" in answer.text
        assert answer.text.count('src="/redaktion/utskick/') == 2
        mail = await client.get(await draft_src(answer))
        assert mail.status_code == 200
        assert "Helt <strong>ny</strong> text." in mail.text
        assert "frame-ancestors 'self'" in mail.headers["content-security-policy"]
        assert mail.headers["cache-control"] == "no-store"
        row = await campaign_row(session, campaign_id)
        assert row.version == 1
        assert "Helt" not in row.body_markdown
        assert await audit_rows(session) == before
        saved = await client.get(f"/redaktion/utskick/{campaign_id}/forhandsvisning")
        assert "Helt <strong>ny</strong>" not in saved.text

    async def test_the_button_without_javascript_shows_the_editor_with_the_preview(
        self, client: httpx.AsyncClient, session: AsyncSession, draft: tuple[str, int]
    ) -> None:
        csrf, campaign_id = draft
        answer = await client.post(
            f"/redaktion/utskick/{campaign_id}/forhandsgranska", data=form(csrf, "Knapptext.")
        )
        assert answer.status_code == 200
        assert "<h1>" in answer.text
        assert ">Knapptext.</textarea>" in answer.text
        assert 'width="600"' in answer.text
        assert 'width="375"' in answer.text
        assert "Knapptext." in (await client.get(await draft_src(answer))).text
        assert (await campaign_row(session, campaign_id)).version == 1

    async def test_a_second_preview_replaces_the_first(
        self, client: httpx.AsyncClient, session: AsyncSession, draft: tuple[str, int]
    ) -> None:
        csrf, campaign_id = draft
        await htmx_preview(client, campaign_id, form(csrf, "Första."))
        second = await htmx_preview(client, campaign_id, form(csrf, "Andra."))
        assert "Andra." in (await client.get(await draft_src(second))).text
        count = await session.scalar(select(func.count()).select_from(PreviewDraft))
        assert count == 1

    async def test_invalid_text_is_reported_in_the_panel_and_nothing_is_kept(
        self, client: httpx.AsyncClient, session: AsyncSession, draft: tuple[str, int]
    ) -> None:
        csrf, campaign_id = draft
        url = f"/redaktion/utskick/{campaign_id}/forhandsgranska"
        empty = await htmx_preview(client, campaign_id, form(csrf, ""))
        assert empty.status_code == 200
        assert "Uppgifterna kunde inte sparas" in empty.text
        assert "utkast=" not in empty.text
        bad_image = await htmx_preview(client, campaign_id, form(csrf, "Text", header_image_id="x"))
        assert "Uppgifterna kunde inte sparas" in bad_image.text
        plain = await client.post(url, data=form(csrf, ""))
        assert plain.status_code == 422
        assert await session.scalar(select(func.count()).select_from(PreviewDraft)) == 0

    async def test_only_the_browser_that_previewed_sees_the_draft(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        draft: tuple[str, int],
    ) -> None:
        csrf, campaign_id = draft
        answer = await htmx_preview(client, campaign_id, form(csrf, "Hemligt utkast."))
        src = await draft_src(answer)
        await as_person(client, session, federation, "chef@example.se", Role.ANSVARIG)
        assert (await client.get(src)).status_code == 404

    @pytest.mark.usefixtures("frozen_clock")
    async def test_the_unsaved_preview_expires(
        self, client: httpx.AsyncClient, draft: tuple[str, int]
    ) -> None:
        csrf, campaign_id = draft
        answer = await htmx_preview(client, campaign_id, form(csrf, "Snart borta."))
        src = await draft_src(answer)
        clock.freeze(clock.now() + PREVIEW_DRAFT_LIFETIME + timedelta(seconds=1))
        gone = await client.get(src)
        assert gone.status_code == 404
        assert "Snart borta." not in gone.text

    async def test_csrf_another_federation_and_a_sent_campaign_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        theirs = await add_campaign(session, soder)
        sent = await add_campaign(session, federation, status=CampaignStatus.SENT)
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        mine = await new_draft(client, csrf)
        no_token = await client.post(
            f"/redaktion/utskick/{mine}/forhandsgranska", data={"body_markdown": "Hej"}
        )
        assert no_token.status_code == 403
        other = await client.post(
            f"/redaktion/utskick/{theirs.id}/forhandsgranska", data=form(csrf, "Kapat")
        )
        assert other.status_code == 404
        refused = await htmx_preview(client, sent.id, form(csrf, "Ändrat i efterhand"))
        assert "Det går inte i utskickets nuvarande läge" in refused.text
        assert await session.scalar(select(func.count()).select_from(PreviewDraft)) == 0


class TestImagesAndClosing:
    async def test_header_photo_signature_and_sign_off_are_saved_and_rendered(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        photo = await upload(session, federation, "Deltagare i odlingslådan", 10)
        portrait = await upload(session, federation, "Porträtt av Eva Berg", 200)
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        editor = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "Deltagare i odlingslådan" in editor.text
        assert f'/f/norr/bilder/{photo.digest}.png"' in editor.text
        assert 'href="/redaktion/installningar/bilder"' in editor.text
        # The theme's line is shown where the campaign sets none.
        theme_line = "Vi önskar dig en skön och vilsam sommar!"
        assert f'name="sign_off" maxlength="300" value="{theme_line}"' in editor.text
        fields = form(
            csrf,
            "Hej!",
            header_image_id=str(photo.id),
            signature_image_id=str(portrait.id),
            sign_off="Vi hörs i höst!",
            signature_name="Eva Berg",
            signature_title="Förbundschef",
        )
        preview = await htmx_preview(client, campaign_id, fields)
        mail = (await client.get(await draft_src(preview))).text
        assert f"{photo.digest}.png" in mail
        assert 'alt="Deltagare i odlingslådan"' in mail
        assert "Vi hörs i höst!" in mail
        assert "Eva Berg" in mail
        assert "Förbundschef" in mail
        assert f"{portrait.digest}.png" in mail
        assert (await campaign_row(session, campaign_id)).header_image_id is None
        saved = await client.post(f"/redaktion/utskick/{campaign_id}", data=fields)
        assert saved.status_code == 303
        row = await campaign_row(session, campaign_id)
        assert (row.header_image_id, row.signature_image_id) == (photo.id, portrait.id)
        assert (row.sign_off, row.signature_name, row.signature_title) == (
            "Vi hörs i höst!",
            "Eva Berg",
            "Förbundschef",
        )
        page = await client.get(f"/redaktion/utskick/{campaign_id}")
        chosen = f'name="header_image_id" value="{photo.id}" checked'
        assert chosen in page.text
        back = await client.post(
            f"/redaktion/utskick/{campaign_id}",
            data=form(csrf, "Hej!", header_image_id="", sign_off=""),
        )
        assert back.status_code == 303
        row = await campaign_row(session, campaign_id)
        assert row.header_image_id is None
        assert row.sign_off == ""
        assert (
            "Vi önskar dig en skön och vilsam sommar"
            not in (await client.get(f"/redaktion/utskick/{campaign_id}/forhandsvisning")).text
        )

    async def test_the_default_closing_sent_back_unchanged_stays_the_default(
        self, client: httpx.AsyncClient, session: AsyncSession, draft: tuple[str, int]
    ) -> None:
        csrf, campaign_id = draft
        editor = await client.get(f"/redaktion/utskick/{campaign_id}")
        shown = re.search(r'name="sign_off" maxlength="300" value="([^"]*)"', editor.text)
        assert shown
        saved = await client.post(
            f"/redaktion/utskick/{campaign_id}",
            data=form(csrf, "Hej!", sign_off=shown.group(1), signature_name=""),
        )
        assert saved.status_code == 303
        row = await campaign_row(session, campaign_id)
        assert row.sign_off is None
        assert row.signature_name is None

    async def test_another_federations_image_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        theirs = await upload(session, soder, "Södras bild", 30)
        csrf = await as_person(client, session, federation, "red@example.se", Role.REDAKTOR)
        campaign_id = await new_draft(client, csrf)
        editor = await client.get(f"/redaktion/utskick/{campaign_id}")
        assert "Södras bild" not in editor.text
        answer = await client.post(
            f"/redaktion/utskick/{campaign_id}",
            data=form(csrf, "Hej!", header_image_id=str(theirs.id)),
        )
        assert answer.status_code == 422
        assert "Uppgifterna kunde inte sparas" in answer.text
        row = await campaign_row(session, campaign_id)
        assert (row.header_image_id, row.version) == (None, 1)


@pytest.fixture
def bounced_rows() -> list[tuple[DeliveryStatus, int | None, str | None]]:
    """(status, SMTP code, enhanced code) of one delivery per subscriber."""
    return [
        (DeliveryStatus.SENT, 250, "2.0.0"),
        (DeliveryStatus.FAILED, 550, "5.1.1"),
        # Accepted, then a delivery status report said the mailbox does not exist.
        (DeliveryStatus.FAILED, 250, "5.1.1"),
        # Gave up after days of 4xx: failed, but not bounced.
        (DeliveryStatus.FAILED, 451, "4.3.0"),
    ]


class TestBouncedFilter:
    async def test_studsade_lists_only_refusals(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        bounced_rows: list[tuple[DeliveryStatus, int | None, str | None]],
    ) -> None:
        world = await make_world(session, n=4, slug="vaster")
        campaign = await add_campaign(session, world.federation, status=CampaignStatus.SENT)
        await add_deliveries(session, world, campaign.id, bounced_rows)
        await as_person(client, session, world.federation, "chef@example.se", Role.ANSVARIG)
        page = await client.get(
            f"/redaktion/utskick/{campaign.id}/mottagare", params={"visa": "studsade"}
        )
        assert page.status_code == 200
        assert '<option value="studsade" selected>Studsade</option>' in page.text
        shown = [email for email in world.emails if email in page.text]
        assert shown == [world.emails[1], world.emails[2]]
