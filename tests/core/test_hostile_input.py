"""Bad input the issue reproduced as server errors: each gets a 4xx in the documented shape
(JSON for the API, a Swedish page for visitors), on both database backends."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import bearer, make_federation, make_key

TOO_BIG = str(2**40)


def assert_json_4xx(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}


class TestNulBytes:
    @pytest.mark.parametrize(
        "changes",
        [
            {"postal_address": "Box 1\x00\n123 45 Ort"},
            {"website_url": "https://x.example.se/\x00"},
            {"timezone": "Europe/Stockholm\x00"},
        ],
    )
    async def test_staff_text_fields(
        self, client: httpx.AsyncClient, session: AsyncSession, changes: dict[str, str]
    ) -> None:
        federation = await make_federation(session, "sf-nul")
        key = await make_key(session, federation)
        response = await client.patch(
            "/api/v1/federations/sf-nul", json=changes, headers=bearer(key)
        )
        assert_json_4xx(response, 422)

    async def test_campaign_body(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        federation = await make_federation(session, "sf-nul")
        key = await make_key(session, federation)
        response = await client.post(
            "/api/v1/federations/sf-nul/campaigns",
            json={"subject": "Hej", "theme": "allman", "body_markdown": "Text\x00mer text"},
            headers=bearer(key),
        )
        assert_json_4xx(response, 422)

    @pytest.mark.parametrize("path", ["/f/sf%00nul/arkiv", "/f/sf%00nul/prenumerera"])
    async def test_in_a_public_path_is_a_swedish_page(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path)
        assert 400 <= response.status_code < 500
        assert 'lang="sv"' in response.text

    async def test_in_a_staff_path(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        admin = await make_key(session, None)
        response = await client.get("/api/v1/federations/sf%00nul", headers=bearer(admin))
        assert 400 <= response.status_code < 500
        assert set(response.json()["error"]) == {"code", "message", "details"}


class TestLargeIntegers:
    @pytest.mark.parametrize(
        "path", [f"/f/sf-tal/arkiv/{TOO_BIG}", f"/f/sf-tal/integritet?version={TOO_BIG}"]
    )
    async def test_public_page_numbers_beyond_32_bits(
        self, client: httpx.AsyncClient, session: AsyncSession, path: str
    ) -> None:
        await make_federation(session, "sf-tal")
        response = await client.get(path)
        assert 400 <= response.status_code < 500
        assert 'lang="sv"' in response.text

    async def test_staff_cursor_beyond_32_bits(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, "sf-tal")
        key = await make_key(session, federation)
        cursor = base64.urlsafe_b64encode(f"s1:{TOO_BIG}".encode()).decode().rstrip("=")
        response = await client.get(
            f"/api/v1/federations/sf-tal/subscribers?cursor={cursor}", headers=bearer(key)
        )
        assert 400 <= response.status_code < 500
        assert set(response.json()["error"]) == {"code", "message", "details"}


class TestDeepJson:
    async def test_staff_body_nested_deeply(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, "sf-djup")
        key = await make_key(session, federation)
        response = await client.patch(
            "/api/v1/federations/sf-djup",
            content=b"[" * 50_000 + b"]" * 50_000,
            headers={**bearer(key), "Content-Type": "application/json"},
        )
        assert_json_4xx(response, 422)

    async def test_public_body_nested_deeply(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await make_federation(session, "sf-djup")
        response = await client.post(
            "/api/v1/public/sf-djup/subscriptions",
            content=b"[" * 6_000 + b"]" * 6_000,
            headers={"Content-Type": "application/json"},
        )
        assert_json_4xx(response, 422)
