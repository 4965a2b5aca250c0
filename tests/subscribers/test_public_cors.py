"""The public sign-up from the federation's own site: CORS for its listed origins only, and
`redirect` back to a listed page for plain HTML forms."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.federations.models import Federation
from app.subscribers.models import Subscriber
from tests.fixtures.factories import make_federation

SITE = "https://www.sf-cors.example.se"
API = "/api/v1/public/sf-cors"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-cors", frame_ancestors=[SITE])


async def _stamp(client: httpx.AsyncClient) -> str:
    response = await client.get(f"{API}/stamp", headers={"Origin": SITE})
    assert response.headers["access-control-allow-origin"] == SITE
    clock.freeze(clock.now() + timedelta(seconds=10))
    return str(response.json()["stamp"])


@pytest.mark.usefixtures("federation", "frozen_clock")
class TestCors:
    async def test_preflight_answers_only_listed_origins(self, client: httpx.AsyncClient) -> None:
        ok = await client.options(f"{API}/subscriptions", headers={"Origin": SITE})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == SITE
        assert "POST" in ok.headers["access-control-allow-methods"]
        other = await client.options(
            f"{API}/subscriptions", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        assert other.headers["vary"] == "Origin"

    async def test_json_sign_up_and_its_errors_are_readable_by_the_site(
        self, client: httpx.AsyncClient
    ) -> None:
        stamp = await _stamp(client)
        body = {"email": "anna@exempel.se", "consent": True, "stamp": stamp}
        accepted = await client.post(f"{API}/subscriptions", json=body, headers={"Origin": SITE})
        assert accepted.status_code == 202
        assert accepted.headers["access-control-allow-origin"] == SITE
        refused = await client.post(
            f"{API}/subscriptions", json={**body, "consent": False}, headers={"Origin": SITE}
        )
        assert refused.status_code == 422
        assert refused.headers["access-control-allow-origin"] == SITE
        foreign = await client.post(
            f"{API}/subscriptions", json=body, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.usefixtures("federation", "frozen_clock")
class TestRedirect:
    async def test_plain_form_goes_back_to_the_page_it_came_from(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        stamp = await _stamp(client)
        form = {
            "email": "bo@exempel.se",
            "consent": "ja",
            "stamp": stamp,
            "redirect": f"{SITE}/tack",
        }
        done = await client.post(f"{API}/subscriptions", data=form)
        assert done.status_code == 303
        assert done.headers["location"] == f"{SITE}/tack"
        failed = await client.post(
            f"{API}/subscriptions", data={**form, "consent": "", "redirect": f"{SITE}/tack?a=1"}
        )
        assert failed.status_code == 303
        assert failed.headers["location"] == f"{SITE}/tack?a=1&nyhetsbrev=fel"

    @pytest.mark.parametrize(
        "target", ["https://evil.example/tack", "javascript:alert(1)", "/relativ", SITE + ".evil"]
    )
    async def test_redirect_elsewhere_is_refused_and_nothing_stored(
        self, client: httpx.AsyncClient, session: AsyncSession, target: str
    ) -> None:
        stamp = await _stamp(client)
        response = await client.post(
            f"{API}/subscriptions",
            data={"email": "c@exempel.se", "consent": "ja", "stamp": stamp, "redirect": target},
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "redirect_not_allowed"
        assert await session.scalar(select(func.count(Subscriber.id))) == 0
