"""Image uploads: real JPEGs with EXIF GPS, a decompression bomb, isolation, header photos."""

from __future__ import annotations

import io
import random
import re

import httpx
import pytest
from PIL import Image

from app.body_limits import IMAGE_BODY_BYTES
from app.config import get_settings
from app.images.processing import MAX_UPLOAD_BYTES
from tests.fixtures.factories import Tenant
from tests.fixtures.images import GPS_IFD, bomb_png, gps_jpeg, picture, png


async def _upload(
    api: httpx.AsyncClient,
    tenant: Tenant,
    data: bytes,
    *,
    alt: str = "Deltagare planterar i odlingslådan",
    path: str = "images",
    filename: str = "bild.jpg",
) -> httpx.Response:
    return await api.post(
        f"/api/v1/federations/{tenant.federation.slug}/{path}",
        files={"file": (filename, data, "application/octet-stream")},
        data={"alt_text": alt},
        headers=tenant.headers,
    )


class TestUpload:
    async def test_photo_is_scaled_and_loses_gps_and_camera_data(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await _upload(api, tenant, gps_jpeg())
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["width"], body["height"], body["format"]) == (1200, 800, "jpeg")
        assert body["alt_text"] == "Deltagare planterar i odlingslådan"
        served = await api.get(body["url"].removeprefix("https://nyhetsbrev.example.se"))
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        assert "immutable" in served.headers["cache-control"]
        assert "max-age=31536000" in served.headers["cache-control"]
        # Served from our own origin: never sniffed into HTML, never run as a document.
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        stored = Image.open(io.BytesIO(served.content))
        assert stored.size == (1200, 800)
        assert not stored.getexif().get_ifd(GPS_IFD)
        assert not dict(stored.getexif())
        assert b"Exif" not in served.content
        assert b"Telefonmakarna" not in served.content
        assert body["byte_size"] == len(served.content)

    async def test_orientation_is_applied_before_the_metadata_goes(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await _upload(api, tenant, gps_jpeg(800, 400, orientation=6))
        assert (response.json()["width"], response.json()["height"]) == (400, 800)

    async def test_same_picture_twice_is_one_image(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        data = gps_jpeg(600, 400)
        first = (await _upload(api, tenant, data)).json()
        second = (await _upload(api, tenant, data)).json()
        assert first["id"] == second["id"]
        assert first["url"] == second["url"]
        listed = await api.get(
            f"/api/v1/federations/{tenant.federation.slug}/images", headers=tenant.headers
        )
        assert [i["id"] for i in listed.json()["items"]] == [first["id"]]

    async def test_webp_with_transparency_becomespng(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await _upload(api, tenant, picture("WEBP", "RGBA"), filename="logga.webp")
        assert response.status_code == 201
        assert response.json()["format"] == "png"
        assert response.json()["url"].endswith(".png")

    async def test_webp_without_transparency_becomes_jpeg(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await _upload(api, tenant, picture("WEBP"), filename="foto.webp")
        assert response.status_code == 201
        assert response.json()["format"] == "jpeg"
        assert response.json()["url"].endswith(".jpg")

    @pytest.mark.parametrize(
        "data",
        [png(300, 200, "RGBA"), picture("PNG", "P", transparency=0)],
        ids=["rgba", "palette"],
    )
    async def test_a_transparent_png_stays_transparent(
        self, api: httpx.AsyncClient, tenant: Tenant, data: bytes
    ) -> None:
        response = await _upload(api, tenant, data, filename="logga.png")
        assert response.status_code == 201
        served = await api.get(response.json()["url"].removeprefix("https://nyhetsbrev.example.se"))
        stored = Image.open(io.BytesIO(served.content))
        assert stored.mode == "RGBA"
        assert stored.getpixel((0, 0))[3] < 255  # type: ignore[index]

    # 64 megapixels passes Pillow's default limit but not ours; 1.6 gigapixels passes neither.
    @pytest.mark.parametrize("side", [8_000, 40_000])
    async def test_decompression_bomb_is_refused(
        self, api: httpx.AsyncClient, tenant: Tenant, side: int
    ) -> None:
        response = await _upload(api, tenant, bomb_png(side, side), filename="bomb.png")
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"reason": "decompression_bomb"}

    @pytest.mark.parametrize(
        "data",
        [b"GIF89a" + b"\0" * 40, b"%PDF-1.7 not an image", b"\xff\xd8\xff\xe0 truncated jpeg"],
    )
    async def test_other_files_are_refused(
        self, api: httpx.AsyncClient, tenant: Tenant, data: bytes
    ) -> None:
        response = await _upload(api, tenant, data)
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"reason": "unsupported_image"}

    @pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF", "ICO"])
    async def test_well_formed_images_of_other_formats_are_refused(
        self, api: httpx.AsyncClient, tenant: Tenant, format: str
    ) -> None:
        response = await _upload(api, tenant, picture(format), filename="bild")
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"reason": "unsupported_image"}

    async def test_more_than_10_mb_is_413(self, api: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await _upload(api, tenant, gps_jpeg(64, 64) + b"\0" * MAX_UPLOAD_BYTES)
        assert response.status_code == 413
        assert response.json()["error"]["details"] == {"reason": "too_large"}
        # Far beyond it, the request is refused before its body is read.
        huge = await _upload(api, tenant, b"\0" * (IMAGE_BODY_BYTES + 1))
        assert huge.status_code == 413
        assert huge.json()["error"]["code"] == "payload_too_large"

    async def test_a_photo_larger_than_the_staff_api_body_limit_uploads(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        noise = Image.frombytes("RGB", (700, 700), random.Random(11).randbytes(700 * 700 * 3))
        out = io.BytesIO()
        noise.save(out, format="PNG")
        assert out.tell() > get_settings().max_body_bytes
        response = await _upload(api, tenant, out.getvalue(), filename="bild.png")
        assert response.status_code == 201, response.text

    async def test_alt_text_over_500_characters_is_422_naming_it(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await _upload(api, tenant, gps_jpeg(64, 64), alt="Å" * 501)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
        assert response.json()["error"]["details"][0]["loc"] == ["body", "alt_text"]
        listed = await api.get(
            f"/api/v1/federations/{tenant.federation.slug}/images", headers=tenant.headers
        )
        assert listed.json()["items"] == []

    @pytest.mark.parametrize("alt", ["", "   "])
    async def test_alt_text_is_required(
        self, api: httpx.AsyncClient, tenant: Tenant, alt: str
    ) -> None:
        response = await _upload(api, tenant, gps_jpeg(64, 64), alt=alt)
        assert response.status_code == 422
        assert "error" in response.json()


class TestIsolation:
    async def test_another_federations_address_and_list_show_nothing(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        url = (await _upload(api, tenant, gps_jpeg(64, 64))).json()["url"]
        path = url.removeprefix("https://nyhetsbrev.example.se")
        assert (await api.get(path)).status_code == 200
        foreign = path.replace(
            f"/f/{tenant.federation.slug}/", f"/f/{other_tenant.federation.slug}/"
        )
        assert (await api.get(foreign)).status_code == 404
        assert (await api.get(path.replace(".jpg", ".png"))).status_code == 404
        listed = await api.get(
            f"/api/v1/federations/{other_tenant.federation.slug}/images",
            headers=other_tenant.headers,
        )
        assert listed.json()["items"] == []
        response = await api.post(
            f"/api/v1/federations/{tenant.federation.slug}/images",
            files={"file": ("a.jpg", gps_jpeg(64, 64), "image/jpeg")},
            data={"alt_text": "x"},
            headers=other_tenant.headers,
        )
        assert response.status_code == 404

    async def test_the_same_picture_in_two_federations_is_an_image_of_each(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        data = gps_jpeg(64, 64)
        theirs = (await _upload(api, tenant, data)).json()
        ours = (await _upload(api, other_tenant, data, alt="Samma bild hos Södra")).json()
        assert ours["id"] != theirs["id"]
        assert ours["alt_text"] == "Samma bild hos Södra"
        path = ours["url"].removeprefix("https://nyhetsbrev.example.se")
        assert (await api.get(path)).status_code == 200
        listed = await api.get(
            f"/api/v1/federations/{other_tenant.federation.slug}/images",
            headers=other_tenant.headers,
        )
        assert [i["id"] for i in listed.json()["items"]] == [ours["id"]]


class TestInLetters:
    async def test_header_photo_replaces_the_artwork_with_outlook_sizes(
        self, api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        image = (await _upload(api, tenant, gps_jpeg(1500, 500), alt="Älven i morgonljus")).json()
        created = await api.post(
            tenant.base,
            json={
                "subject": "Sommar",
                "theme": "sommar",
                "body_markdown": "Hej.",
                "header_image_id": image["id"],
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        preview = await api.get(
            f"{tenant.base}/{created.json()['id']}/preview", headers=tenant.headers
        )
        assert f'<img src="{image["url"]}" width="600" height="200" alt="Älven i morgonljus"' in (
            preview.text
        )
        assert "sommar-header.png" not in preview.text
        back = await api.patch(
            f"{tenant.base}/{created.json()['id']}",
            json={"header_image_id": None},
            headers=tenant.headers,
        )
        assert back.json()["header_image_id"] is None
        foreign = await api.post(
            other_tenant.base,
            json={
                "subject": "S",
                "theme": "jul",
                "body_markdown": "x",
                "header_image_id": image["id"],
            },
            headers=other_tenant.headers,
        )
        assert foreign.status_code == 422

    async def test_uploaded_image_in_the_body_keeps_its_own_width(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        image = (await _upload(api, tenant, gps_jpeg(300, 200))).json()
        created = await api.post(
            tenant.base,
            json={
                "subject": "S",
                "theme": "allman",
                "body_markdown": f'![Odlingen]({image["url"]} "Vår odling")',
            },
            headers=tenant.headers,
        )
        preview = await api.get(
            f"{tenant.base}/{created.json()['id']}/preview", headers=tenant.headers
        )
        assert f'<img src="{image["url"]}" alt="Odlingen" width="300"' in preview.text

    async def test_logo_upload_sets_the_federation_logo(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await _upload(api, tenant, png(400, 120), path="logo", alt="Förbundets logga")
        assert response.status_code == 201, response.text
        federation = await api.get(
            f"/api/v1/federations/{tenant.federation.slug}", headers=tenant.headers
        )
        assert federation.json()["logo_url"] == response.json()["url"]
        log = await api.get(
            f"/api/v1/federations/{tenant.federation.slug}/audit-log", headers=tenant.headers
        )
        changes = [(e["target_type"], e["summary"]) for e in log.json()["items"]]
        assert changes[:2] == [
            ("federation", "ändrade logo_url"),
            ("image", "laddade upp en bild (400 x 120 px)"),
        ]

    async def test_signature_portrait_beside_the_name(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        portrait = (await _upload(api, tenant, gps_jpeg(400, 400), alt="Karin Lind")).json()
        created = await api.post(
            tenant.base,
            json={
                "subject": "S",
                "theme": "jul",
                "body_markdown": "Hej.",
                "signature_name": "Karin Lind",
                "signature_title": "Förbundschef",
                "signature_image_id": portrait["id"],
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        preview = await api.get(
            f"{tenant.base}/{created.json()['id']}/preview", headers=tenant.headers
        )
        img = re.search(rf'<img [^>]*src="{re.escape(portrait["url"])}"[^>]*>', preview.text)
        assert img
        assert 'width="64"' in img.group()
        assert 'height="64"' in img.group()
        assert 'alt="Karin Lind"' in img.group()
