"""Liveness and readiness."""

import httpx


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
