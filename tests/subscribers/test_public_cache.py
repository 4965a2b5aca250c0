"""The visitor pages read federations and privacy notices from an in-process cache: an edit
shows at once in this process and within the cache's age in any other, and every visitor still
gets a stamp of their own."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app import cache, clock
from app.clock import now
from app.federations.models import Federation
from app.subscribers.models import PrivacyNotice
from tests.fixtures.factories import bearer, federation_data, make_federation, make_key
from tests.subscribers.test_public_flow import STAMP_RE

FORM = "/f/norr/prenumerera"


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> object:
    """Moves the caches' clock past their maximum age when called."""
    base = cache.monotonic()
    offset = [0.0]
    monkeypatch.setattr(cache, "monotonic", lambda: base + offset[0])

    def advance() -> None:
        offset[0] += cache.MAX_AGE_SECONDS + 0.1

    return advance


class TestFederationEdits:
    async def test_a_staff_edit_shows_on_the_next_page(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await make_federation(session, "norr", name="Samordningsförbundet Gammalt")
        admin = await make_key(session, None)
        assert "Samordningsförbundet Gammalt" in (await client.get(FORM)).text
        patched = await client.patch(
            "/api/v1/federations/norr",
            json={"name": "Samordningsförbundet Nytt"},
            headers=bearer(admin),
        )
        assert patched.status_code == 200, patched.text
        # The consent sentence keeps the old name: it is the frozen text of notice version 1.
        assert "Samordningsförbundet Nytt" in (await client.get(FORM)).text

    async def test_a_federation_created_after_a_miss_is_found(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        assert (await client.get(FORM)).status_code == 404
        created = await client.post(
            "/api/v1/federations",
            json=federation_data("norr").model_dump(mode="json", exclude_unset=True),
            headers=bearer(admin),
        )
        assert created.status_code == 201, created.text
        assert (await client.get(FORM)).status_code == 200

    async def test_another_workers_edit_shows_within_the_max_age(
        self, client: httpx.AsyncClient, session: AsyncSession, later: object
    ) -> None:
        await make_federation(session, "norr", name="Samordningsförbundet Gammalt")
        assert "Samordningsförbundet Gammalt" in (await client.get(FORM)).text
        # Written past this process's services, as another worker process would.
        await session.execute(
            update(Federation)
            .where(Federation.slug == "norr")
            .values(name="Samordningsförbundet Nytt", updated_at=now() + timedelta(seconds=1))
        )
        await session.commit()
        later()  # type: ignore[operator]
        assert "Samordningsförbundet Nytt" in (await client.get(FORM)).text

    async def test_a_new_privacy_notice_version_shows_within_the_max_age(
        self, client: httpx.AsyncClient, session: AsyncSession, later: object
    ) -> None:
        federation = await make_federation(session, "norr")
        assert "(version 1)" in (await client.get(FORM)).text
        session.add(
            PrivacyNotice(
                federation_id=federation.id,
                version=2,
                form_text="Ja, jag vill ha nyhetsbrevet (andra versionen).",
                privacy_text="Ny text.\n",
                created_at=now(),
            )
        )
        await session.commit()
        later()  # type: ignore[operator]
        page = (await client.get(FORM)).text
        assert "(version 2)" in page
        assert "andra versionen" in page


class TestStamps:
    async def test_every_visitor_gets_a_fresh_stamp_that_signs_up(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen_clock: None
    ) -> None:
        await make_federation(session, "norr")
        stamps = []
        for _ in range(2):
            match = STAMP_RE.search((await client.get(FORM)).text)
            assert match
            stamps.append(match.group(1))
            clock.freeze(now() + timedelta(seconds=30))
        assert stamps[0] != stamps[1]
        for i, stamp in enumerate(stamps):
            response = await client.post(
                FORM,
                data={"email": f"person{i}@example.se", "consent": "ja", "stamp": stamp},
            )
            assert response.status_code == 200, response.text
            assert "Kolla din inkorg" in response.text
