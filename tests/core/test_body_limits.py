"""Oversized bodies get 413 before they are read: public endpoints have a small limit, the staff
API a larger one, and the answer comes in the documented shape (JSON or a Swedish page)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.subscribers.models import Subscriber

HUGE = 200 * 1024 * 1024
CHUNK = 64 * 1024


class Body:
    """A body (200 MB unless told) produced chunk by chunk, counting how much the server
    pulled."""

    def __init__(self, size: int = HUGE) -> None:
        self.size = size
        self.pulled = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, self.size, CHUNK):
            chunk = b" " * min(CHUNK, self.size - start)
            self.pulled += len(chunk)
            yield chunk


def assert_json_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert set(error) == {"code", "message", "details"}


class TestPublicBodies:
    @pytest.mark.parametrize("over", [1, HUGE], ids=["one-byte-over", "huge"])
    async def test_a_body_declared_over_the_limit_is_refused_unread(
        self, client: httpx.AsyncClient, over: int
    ) -> None:
        body = Body(get_settings().public_max_body_bytes + over)
        response = await client.post(
            "/api/v1/public/sf-norra/subscriptions",
            content=body.chunks(),
            headers={"Content-Type": "application/json", "Content-Length": str(body.size)},
        )
        assert_json_413(response)
        assert body.pulled == 0

    async def test_streamed_body_without_length_stops_at_the_limit(
        self, client: httpx.AsyncClient
    ) -> None:
        body = Body()
        response = await client.post(
            "/api/v1/public/sf-norra/subscriptions",
            content=body.chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert_json_413(response)
        assert body.pulled <= get_settings().public_max_body_bytes + CHUNK

    async def test_multipart_file_on_the_form_gets_a_swedish_page(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response = await client.post(
            "/f/sf-norra/prenumerera",
            data={"email": "stor@example.se", "consent": "on"},
            files={"bilaga": ("bilaga.bin", b"\0" * 1024 * 1024)},
        )
        assert response.status_code == 413
        assert 'lang="sv"' in response.text
        assert "För mycket data" in response.text
        assert await session.scalar(select(func.count()).select_from(Subscriber)) == 0

    async def test_multipart_file_on_one_click_unsubscribe(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/u/some-token",
            data={"List-Unsubscribe": "One-Click"},
            files={"bilaga": ("bilaga.bin", b"\0" * 1024 * 1024)},
        )
        assert response.status_code == 413

    async def test_small_bodies_pass(self, client: httpx.AsyncClient) -> None:
        # An unknown federation: the body was read and routed, not refused for its size.
        response = await client.post(
            "/api/v1/public/finns-inte/subscriptions", json={"email": "liten@example.se"}
        )
        assert response.status_code == 404


class TestStaffBodies:
    async def test_json_over_the_staff_limit_is_refused(self, client: httpx.AsyncClient) -> None:
        body = Body()
        response = await client.post(
            "/api/v1/federations",
            content=body.chunks(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        )
        assert_json_413(response)
        assert body.pulled <= get_settings().max_body_bytes + CHUNK
