"""The visitor pages read federations and privacy notices from an in-process cache: an edit
shows at once in this process and within the cache's age in any other, and every visitor still
gets a stamp of their own."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
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
from tests.fixtures.live import Install, create_api_key, create_federation, installation
from tests.fixtures.pages import STAMP_RE

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


def _cached_answers(client: httpx.Client) -> float:
    """The server's count of form pages answered by its fast path (from /metrics)."""
    text = client.get("/metrics").text
    sample = 'newsletter_http_cached_answers_total{route="/f/{slug}/prenumerera"}'
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _access_line(install: Install, name: str, rid: str) -> dict[str, str]:
    lines = [json.loads(line) for line in install.log(name).splitlines() if line.startswith("{")]
    found = [e for e in lines if e.get("request_id") == rid and e["logger"] == "uvicorn.access"]
    assert len(found) == 1, install.log(name)[-3000:]
    return {k: v for k, v in found[0].items() if k != "time"}


def _until(check: Callable[[], bool], what: str) -> None:
    """Poll until `check()` holds; the deadline only ends a test that would otherwise hang."""
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


class TestTwoServers:
    """Two `newsletter serve` processes on one database, as two workers behind one proxy: each
    answers the form from its own caches and its fast path."""

    def test_the_fast_answer_is_the_routes_and_a_change_reaches_the_other(
        self, backend: str
    ) -> None:
        with installation(backend, "fastpath") as install:
            create_federation(install, "norr")
            _, admin = create_api_key(install, "--admin")
            a = install.serve(workers=1, name="a")
            b = install.serve(workers=1, name="b")
            with httpx.Client(base_url=a) as at_a, httpx.Client(base_url=b) as at_b:
                # B's first visitor goes through the route (cold caches), the next one gets
                # the fast path's answer: the same but for the stamp, and the same access line
                # (one kept-alive connection, so even the client port is the same).
                route = at_b.get(FORM, headers={"X-Request-ID": "genom-routen"})
                assert _cached_answers(at_b) == 0
                fast = at_b.get(FORM, headers={"X-Request-ID": "ur-cachen"})
                assert _cached_answers(at_b) == 1
                assert fast.status_code == route.status_code == 200
                ignored = {"date", "x-request-id"}
                assert [h for h in fast.headers.raw if h[0].decode().lower() not in ignored] == [
                    h for h in route.headers.raw if h[0].decode().lower() not in ignored
                ]
                assert fast.headers["x-request-id"] == "ur-cachen"
                assert STAMP_RE.sub("", fast.text) == STAMP_RE.sub("", route.text)
                assert STAMP_RE.search(fast.text)
                routed = _access_line(install, "b", "genom-routen")
                served = _access_line(install, "b", "ur-cachen")
                assert served == {**routed, "request_id": "ur-cachen"}
                assert "/f/norr/prenumerera" in served["message"]

                # A makes the changes: a new name and a new notice version show there at once,
                # from the route and then from the fast path again.
                patched = at_a.patch(
                    "/api/v1/federations/norr",
                    json={"name": "Samordningsförbundet Nytt"},
                    headers=bearer(admin),
                )
                assert patched.status_code == 200, patched.text
                published = at_a.post(
                    "/api/v1/federations/norr/privacy-notices",
                    json={"form_text": "Ja, version två.", "privacy_text": "Ny text.\n"},
                    headers=bearer(admin),
                )
                assert published.status_code == 201, published.text
                fast_at_a = _cached_answers(at_a)
                for _ in range(2):
                    page = at_a.get(FORM).text
                    assert "Samordningsförbundet Nytt" in page
                    assert "(version 2)" in page
                assert _cached_answers(at_a) == fast_at_a + 1

                # B sees them once its caches are older than their maximum age, and then
                # answers the new page from its fast path.
                def changed_at_b() -> bool:
                    page = at_b.get(FORM).text
                    return "Samordningsförbundet Nytt" in page and "(version 2)" in page

                _until(changed_at_b, "B kept showing the old form")
                fast_at_b = _cached_answers(at_b)
                page = at_b.get(FORM).text
                assert "Samordningsförbundet Nytt" in page
                assert "(version 2)" in page
                assert _cached_answers(at_b) == fast_at_b + 1
