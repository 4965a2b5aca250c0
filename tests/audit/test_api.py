"""The audit log: rows written with the change, listed per federation, never changed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service
from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from tests.fixtures.factories import bearer, make_federation, make_key


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


async def record(session: AsyncSession, federation: Federation, n: int) -> None:
    for i in range(n):
        await service.record(
            session,
            actor=Actor.system("test"),
            action=AuditAction.CAMPAIGN_EDITED,
            federation_id=federation.id,
            target_type="campaign",
            target_id=i,
            summary=f"edit {i}",
        )
    await session.commit()


class TestListAuditLog:
    async def test_pages_newest_first_with_a_cursor(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        headers = bearer(await make_key(session, federation))
        await record(session, federation, 5)
        url = "/api/v1/federations/norr/audit-log"
        first = (await client.get(url, params={"limit": 3}, headers=headers)).json()
        assert [e["summary"] for e in first["items"]] == ["edit 4", "edit 3", "edit 2"]
        second = (
            await client.get(
                url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers
            )
        ).json()
        # The rest: two edits, then the key's own creation, the oldest row.
        assert [e["summary"] for e in second["items"]][:2] == ["edit 1", "edit 0"]
        assert second["items"][2]["action"] == "api_key_created"
        assert second["next_cursor"] is None
        entry = second["items"][0]
        assert entry["actor"] == "test"
        assert entry["action"] == "campaign_edited"
        assert entry["target_type"] == "campaign"

    async def test_filter_by_action(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await record(session, federation, 2)
        await service.record(
            session,
            actor=Actor.system("test"),
            action=AuditAction.SETTINGS_CHANGED,
            federation_id=federation.id,
            summary="name",
        )
        await session.commit()
        headers = bearer(await make_key(session, federation))
        body = (
            await client.get(
                "/api/v1/federations/norr/audit-log",
                params={"action": "settings_changed"},
                headers=headers,
            )
        ).json()
        assert [e["summary"] for e in body["items"]] == ["name"]

    async def test_other_federation_is_not_found_and_rows_stay_apart(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        other = await make_federation(session, "soder")
        await record(session, federation, 1)
        other_key = bearer(await make_key(session, other))
        assert (
            await client.get("/api/v1/federations/norr/audit-log", headers=other_key)
        ).status_code == 404
        own = await client.get("/api/v1/federations/soder/audit-log", headers=other_key)
        # Only its own key's creation, nothing of norr's.
        assert [e["action"] for e in own.json()["items"]] == ["api_key_created"]

    @pytest.mark.parametrize("limit", ["0", "201"])
    async def test_page_size_out_of_range_is_422_naming_limit(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, limit: str
    ) -> None:
        headers = bearer(await make_key(session, federation))
        response = await client.get(
            "/api/v1/federations/norr/audit-log", params={"limit": limit}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
        assert response.json()["error"]["details"][0]["loc"] == ["query", "limit"]

    async def test_bad_cursor_and_missing_key_use_the_error_shape(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        headers = bearer(await make_key(session, federation))
        bad = await client.get(
            "/api/v1/federations/norr/audit-log", params={"cursor": "bm9wZQ"}, headers=headers
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_cursor"
        anonymous = await client.get("/api/v1/federations/norr/audit-log")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"


class TestAppendOnly:
    async def test_a_row_cannot_be_changed(
        self, session: AsyncSession, federation: Federation
    ) -> None:
        await record(session, federation, 1)
        page = await service.list_log(session, federation_id=federation.id)
        entry: AuditEntry = page.items[0]
        entry.summary = "rewritten"
        with pytest.raises(RuntimeError, match="append-only"):
            await session.flush()
        await session.rollback()
