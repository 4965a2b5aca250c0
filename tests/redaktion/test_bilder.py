"""Bilder in Redaktionen over HTTP: uploads through the page (EXIF GPS gone, Swedish errors for
a bomb, a wrong type, a large file, no alt text), the logo choice for admins, isolation."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image as Picture
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.body_limits import IMAGE_BODY_BYTES
from app.federations.models import Federation
from app.images.models import Image
from app.images.processing import MAX_UPLOAD_BYTES
from app.users.models import Role
from tests.fixtures.factories import make_federation
from tests.fixtures.images import GPS_IFD, bomb_png, gps_jpeg, png
from tests.fixtures.staff import as_role

BASE = "/redaktion/installningar/bilder"
ALT = "Deltagare planterar i odlingslådan"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


async def upload(
    client: httpx.AsyncClient,
    csrf: str,
    data: bytes | None,
    *,
    alt: str = ALT,
    filename: str = "foto.jpg",
    **extra: str,
) -> httpx.Response:
    files = {"fil": (filename, data, "application/octet-stream")} if data is not None else None
    return await client.post(
        BASE,
        data={"csrf": csrf, "alt_text": alt, **extra},
        # httpx sends multipart only with a file part: an empty one stands for "none chosen".
        files=files or {"fil": ("", b"", "application/octet-stream")},
    )


async def images_of(session: AsyncSession, federation: Federation) -> list[Image]:
    rows = await session.scalars(
        select(Image).where(Image.federation_id == federation.id).order_by(Image.id)
    )
    return list(rows)


class TestUploadFromThePage:
    async def test_a_redaktor_uploads_a_photo_and_its_gps_is_gone(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        page = await client.get(BASE)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert 'enctype="multipart/form-data"' in page.text
        assert "Använd bilden som förbundets logotyp" not in page.text
        answer = await upload(client, csrf, gps_jpeg())
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"{BASE}?klart=uppladdad"
        (image,) = await images_of(session, federation)
        assert (image.width, image.height, image.alt_text) == (1200, 800, ALT)
        stored = Picture.open(io.BytesIO(image.data))
        assert not stored.getexif().get_ifd(GPS_IFD)
        assert not stored.getexif()
        assert b"Telefonmakarna" not in image.data
        listed = await client.get(answer.headers["location"])
        assert "Bilden är uppladdad." in listed.text
        url = f"/f/norr/bilder/{image.digest}.jpg"
        assert f'src="https://nyhetsbrev.example.se{url}" alt="{ALT}"' in listed.text
        assert "1200 \N{MULTIPLICATION SIGN} 800 px" in listed.text
        served = await client.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.federation_id == federation.id, AuditEntry.target_type == "image"
            )
        )
        assert entry is not None
        assert (entry.action, entry.target_id) == (AuditAction.IMAGE_UPLOADED, image.id)
        assert entry.actor_label == "redaktor@norr.example.se"

    async def test_a_decompression_bomb_gets_a_swedish_error(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        answer = await upload(client, csrf, bomb_png(60_000, 60_000), filename="bomb.png")
        assert answer.status_code == 422
        assert "Bilden är inte uppladdad." in answer.text
        assert "fler än 50 miljoner bildpunkter" in answer.text
        assert f'value="{ALT}"' in answer.text  # the alt text stays for the next try
        assert await images_of(session, federation) == []

    @pytest.mark.parametrize(
        ("data", "filename"),
        [(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "bild.gif"), (b"%PDF-1.7\n", "bild.jpg")],
    )
    async def test_a_file_of_another_type_gets_a_swedish_error(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        data: bytes,
        filename: str,
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        answer = await upload(client, csrf, data, filename=filename)
        assert answer.status_code == 422
        assert "ingen läsbar bild i formatet JPEG, PNG eller WebP" in answer.text
        assert 'aria-invalid="true"' in answer.text
        assert await images_of(session, federation) == []

    async def test_a_file_over_10_mb_gets_a_swedish_error(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        answer = await upload(client, csrf, gps_jpeg(64, 64) + b"\0" * MAX_UPLOAD_BYTES)
        assert answer.status_code == 413
        assert "Filen är större än 10 MB." in answer.text
        # Far beyond it, the body is refused before it is read, with a Swedish page too.
        huge = await upload(client, csrf, b"\0" * (IMAGE_BODY_BYTES + 1))
        assert huge.status_code == 413
        assert huge.headers["content-type"].startswith("text/html")
        assert 'lang="sv"' in huge.text
        assert await images_of(session, federation) == []

    async def test_a_photo_over_the_staff_form_limit_uploads(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        # Staff forms may carry 1 MB; the image page, like the API, takes a 10 MB photo.
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        noisy = io.BytesIO()
        Picture.frombytes("RGB", (800, 800), bytes(range(256)) * 7500).save(noisy, "PNG")
        data = noisy.getvalue() + b"\0" * (2 * 1024 * 1024)
        answer = await upload(client, csrf, data, filename="stor.png")
        assert answer.status_code == 303, answer.text

    @pytest.mark.parametrize("alt", ["", "   "])
    async def test_alt_text_is_required(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, alt: str
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        answer = await upload(client, csrf, gps_jpeg(64, 64), alt=alt)
        assert answer.status_code == 422
        assert "Skriv en alternativtext" in answer.text
        assert 'aria-describedby="alt-hint alt-fel"' in answer.text
        assert await images_of(session, federation) == []

    async def test_no_file_chosen(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        answer = await upload(client, csrf, None, alt="")
        assert answer.status_code == 422
        assert "Välj en bildfil att ladda upp." in answer.text
        assert "Skriv en alternativtext" in answer.text

    async def test_without_the_csrf_token_nothing_is_stored(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await as_role(client, session, federation, Role.ADMIN)
        answer = await upload(client, "fel", gps_jpeg(64, 64), logotyp="ja")
        assert answer.status_code == 403
        assert await images_of(session, federation) == []
        assert (await client.post(f"{BASE}/1/logotyp", data={"csrf": "fel"})).status_code == 403


class TestLogo:
    async def test_an_admin_uploads_the_logo_and_later_chooses_another(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        answer = await upload(
            client, csrf, png(400, 120), alt="Förbundets logga", filename="l.png", logotyp="ja"
        )
        assert answer.headers["location"] == f"{BASE}?klart=logotyp"
        (logo,) = await images_of(session, federation)
        logo_url = f"https://nyhetsbrev.example.se/f/norr/bilder/{logo.digest}.png"
        await session.refresh(federation)
        assert federation.logo_url == logo_url
        settings = await client.get("/redaktion/installningar")
        assert f'<img class="thumb" src="{logo_url}"' in settings.text
        assert 'href="/redaktion/installningar/bilder"' in settings.text
        assert (await upload(client, csrf, gps_jpeg(300, 200))).status_code == 303
        photo = (await images_of(session, federation))[-1]
        chosen = await client.post(f"{BASE}/{photo.id}/logotyp", data={"csrf": csrf})
        assert chosen.status_code == 303
        await session.refresh(federation)
        assert federation.logo_url == logo_url.replace(logo.digest, photo.digest).replace(
            ".png", ".jpg"
        )
        changes = await session.scalars(
            select(AuditEntry.summary).where(
                AuditEntry.federation_id == federation.id,
                AuditEntry.target_type == "federation",
            )
        )
        assert list(changes) == ["ändrade logo_url", "ändrade logo_url"]

    async def test_a_redaktor_may_not_choose_the_logo(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        refused = await upload(client, csrf, png(400, 120), logotyp="ja", filename="l.png")
        assert refused.status_code == 403
        assert await images_of(session, federation) == []
        assert (await upload(client, csrf, gps_jpeg(64, 64))).status_code == 303
        (image,) = await images_of(session, federation)
        chosen = await client.post(f"{BASE}/{image.id}/logotyp", data={"csrf": csrf})
        assert chosen.status_code == 403
        await session.refresh(federation)
        assert federation.logo_url is None

    async def test_another_federations_images_are_neither_listed_nor_chosen(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        csrf = await as_role(client, session, soder, Role.ADMIN)
        assert (await upload(client, csrf, gps_jpeg(64, 64), alt="Södra bilden")).status_code == 303
        (theirs,) = await images_of(session, soder)
        csrf = await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert "Södra bilden" not in page.text
        assert "Inga bilder ännu." in page.text
        chosen = await client.post(f"{BASE}/{theirs.id}/logotyp", data={"csrf": csrf})
        assert chosen.status_code == 404
        await session.refresh(federation)
        assert federation.logo_url is None
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.federation_id == federation.id,
                AuditEntry.target_type.in_(["image", "federation"]),
            )
        )
        assert count == 0
