"""/readyz tells the truth: 503 when the database is unreachable or not at the newest schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from app import db, migrate
from tests.fixtures.cli import newsletter
from tests.fixtures.smtp import free_port


@asynccontextmanager
async def _client_for(url: str) -> AsyncIterator[httpx.AsyncClient]:
    from app.main import create_app

    engine = db.make_engine(url)
    db.use_sessionmaker(async_sessionmaker(engine, expire_on_commit=False))
    transport = httpx.ASGITransport(app=create_app(embedded_services=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        db.use_sessionmaker(None)
        await engine.dispose()


class TestReadiness:
    async def test_ready_on_migrated_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    async def test_unmigrated_database_is_not_ready_until_upgraded(
        self, empty_database: str
    ) -> None:
        async with _client_for(empty_database) as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable", "database": "not_migrated"}

            upgraded = newsletter(empty_database, "db", "upgrade")
            assert upgraded.returncode == 0, upgraded.stderr
            assert (await client.get("/readyz")).status_code == 200

    async def test_database_one_revision_behind_is_not_ready(self, empty_database: str) -> None:
        down = newsletter(empty_database, "db", "upgrade", "0001")
        assert down.returncode == 0, down.stderr
        assert "0001" not in migrate.head_revisions()
        async with _client_for(empty_database) as client:
            response = await client.get("/readyz")
            assert response.json()["database"] == "not_migrated"

    async def test_unreachable_database(self) -> None:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
        async with _client_for(url) as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["database"] == "unreachable"
            assert (await client.get("/healthz")).status_code == 200
