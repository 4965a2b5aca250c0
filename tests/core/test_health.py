"""Liveness, readiness and who may read /metrics."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.settings import Configure


class TestHealth:
    async def test_healthz_answers_ok(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.text == "ok"

    async def test_readyz_reaches_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["database"] == "ok"

    async def test_unknown_api_path_has_error_shape(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestMetricsAccess:
    """/metrics lists every federation's slug and counts: not for the public internet."""

    async def test_hidden_from_remote_clients_without_a_token(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/metrics")  # the test client is 203.0.113.7
        assert response.status_code == 404
        assert "newsletter_" not in response.text

    async def test_loopback_scraper_needs_no_token(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with _client_from("127.0.0.1") as local:
            response = await local.get("/metrics")
        assert response.status_code == 200
        assert "newsletter_queue_depth" in response.text

    @pytest.mark.parametrize("peer", ["127.0.0.1", "203.0.113.7"])
    async def test_token_is_required_once_configured(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        configure: Configure,
        peer: str,
    ) -> None:
        configure(metrics_token="skrapa-0123456789")
        async with _client_from(peer) as c:
            assert (await c.get("/metrics")).status_code == 401
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer fel"})
            assert wrong.status_code == 401
            right = await c.get("/metrics", headers={"Authorization": "Bearer skrapa-0123456789"})
            assert right.status_code == 200
            assert "newsletter_queue_depth" in right.text


def _client_from(peer: str) -> httpx.AsyncClient:
    from app.main import create_app

    transport = httpx.ASGITransport(app=create_app(embedded_services=False), client=(peer, 5000))
    return httpx.AsyncClient(transport=transport, base_url="https://nyhetsbrev.example.se")
