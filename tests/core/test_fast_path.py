"""The fast path answers the sign-up form from the caches exactly as the route does: the same
status, headers in the same order, body and metrics; it leaves everything else to the route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app import cache, clock
from app.clock import now
from app.monitoring.metrics import REGISTRY
from tests.fixtures.factories import bearer, make_federation, make_key

FORM = "/f/norr/prenumerera"
TEMPLATE = "/f/{slug}/prenumerera"
CSS = "/f/norr/stil.css"
CSS_TEMPLATE = "/f/{slug}/stil.css"
GIVEN_ID = {"X-Request-ID": "besok-42"}


def cached_answers(template: str = TEMPLATE) -> float:
    labels = {"route": template}
    return REGISTRY.get_sample_value("newsletter_http_cached_answers_total", labels) or 0.0


def requests_counted(method: str, status: str) -> float:
    labels = {"method": method, "route": TEMPLATE, "status": status}
    return REGISTRY.get_sample_value("newsletter_http_requests_total", labels) or 0.0


@pytest.fixture
async def route_client(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The same app without its fast path: every request goes through FastAPI's stack (it
    shares the process's caches with `client`)."""
    from app.main import create_app

    app = create_app(embedded_services=False)
    app.fast_path = None
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as c:
        yield c


async def both(
    client: httpx.AsyncClient, route_client: httpx.AsyncClient, method: str, url: str, **kw: object
) -> tuple[httpx.Response, httpx.Response, bool]:
    """(fast path's answer, route's answer, whether the fast path answered the first)."""
    before = cached_answers() + cached_answers(CSS_TEMPLATE)
    fast = await client.request(method, url, **kw)  # type: ignore[arg-type]
    answered = cached_answers() + cached_answers(CSS_TEMPLATE) == before + 1
    route = await route_client.request(method, url, **kw)  # type: ignore[arg-type]
    after = cached_answers() + cached_answers(CSS_TEMPLATE)
    assert after == before + answered, "the app without a fast path used it"
    return fast, route, answered


def assert_same(fast: httpx.Response, route: httpx.Response) -> None:
    assert fast.status_code == route.status_code
    # Every header, in order, values included (raw: a dropped or reordered one shows).
    assert fast.headers.raw == route.headers.raw
    assert fast.content == route.content


@pytest.fixture
async def warm(
    client: httpx.AsyncClient,
    session: AsyncSession,
    frozen_clock: None,
    monkeypatch: pytest.MonkeyPatch,
) -> httpx.AsyncClient:
    """A federation whose form page is in the caches, on a frozen clock (so the form stamps of
    the two answers are equal too). The caches' own clock stands still as well: their entries
    last 2 s, and a stall that long between filling and asking (seen in CI on a loaded
    machine) left the fast path nothing to answer from."""
    standing = cache.monotonic()
    monkeypatch.setattr(cache, "monotonic", lambda: standing)
    await make_federation(session, "norr", frame_ancestors=["https://norr.example.se"])
    clock.freeze(now())
    assert (await client.get(FORM)).status_code == 200
    return client


class TestSameAnswer:
    @pytest.mark.parametrize("method", ["GET", "HEAD"])
    async def test_the_form_is_the_routes_header_by_header(
        self, warm: httpx.AsyncClient, route_client: httpx.AsyncClient, method: str
    ) -> None:
        fast, route, answered = await both(warm, route_client, method, FORM, headers=GIVEN_ID)
        assert answered
        assert_same(fast, route)
        assert fast.status_code == 200
        names = [name.lower() for name, _ in fast.headers.raw]
        for name in (
            b"content-security-policy",
            b"x-content-type-options",
            b"referrer-policy",
            b"cache-control",
            b"content-type",
            b"content-length",
            b"x-request-id",
        ):
            assert name in names
        assert fast.headers["x-request-id"] == "besok-42"
        assert "frame-ancestors https://norr.example.se" in fast.headers["content-security-policy"]

    async def test_the_brand_stylesheet_is_the_routes(
        self, warm: httpx.AsyncClient, route_client: httpx.AsyncClient
    ) -> None:
        fast, route, answered = await both(warm, route_client, "GET", CSS, headers=GIVEN_ID)
        assert answered
        assert_same(fast, route)
        assert fast.headers["content-type"] == "text/css; charset=utf-8"
        assert fast.text.startswith(":root{--brand:#")

    async def test_a_query_string_changes_nothing(
        self, warm: httpx.AsyncClient, route_client: httpx.AsyncClient
    ) -> None:
        url = f"{FORM}?utm_source=nyhetsbrev&q=anna%40example.se"
        fast, route, answered = await both(warm, route_client, "GET", url, headers=GIVEN_ID)
        assert answered
        assert_same(fast, route)

    async def test_each_request_gets_its_own_id_when_it_brings_none_or_a_bad_one(
        self, warm: httpx.AsyncClient, route_client: httpx.AsyncClient
    ) -> None:
        for headers in ({}, {"X-Request-ID": "ogiltig id\x7f"}):
            fast, route, answered = await both(warm, route_client, "GET", FORM, headers=headers)
            assert answered
            fast_id, route_id = fast.headers["x-request-id"], route.headers["x-request-id"]
            assert len(fast_id) == 32
            assert fast_id != route_id
            assert fast.headers.raw[:-1] == route.headers.raw[:-1]
            assert fast.content == route.content

    async def test_each_visitor_gets_a_fresh_stamp(self, warm: httpx.AsyncClient) -> None:
        first = (await warm.get(FORM)).text
        clock.freeze(now() + timedelta(seconds=1))
        second = (await warm.get(FORM)).text
        assert first != second

    async def test_metrics_count_the_request_under_its_route(self, warm: httpx.AsyncClient) -> None:
        before = requests_counted("HEAD", "200")
        answered = cached_answers()
        await warm.head(FORM)
        assert cached_answers() == answered + 1
        assert requests_counted("HEAD", "200") == before + 1


class TestLeftToTheRoute:
    @pytest.mark.parametrize(
        ("method", "url", "kw"),
        [
            ("GET", "/f/okand/prenumerera", {}),
            ("GET", "/f/norr/prenumerera/", {}),
            ("GET", "/f/norr//prenumerera", {}),
            ("GET", "/f/norr/prenumerera/extra", {}),
            ("GET", FORM, {"content": b"x" * 10}),
            ("GET", FORM, {"content": b"x" * 100_000}),
            ("POST", FORM, {"data": {"email": "anna@example.se"}}),
            ("OPTIONS", FORM, {}),
            ("HEAD", CSS, {}),
            ("POST", CSS, {}),
            ("GET", "/f/okand/stil.css", {}),
        ],
    )
    async def test_what_the_caches_cannot_answer_goes_through_the_stack(
        self,
        warm: httpx.AsyncClient,
        route_client: httpx.AsyncClient,
        method: str,
        url: str,
        kw: dict[str, object],
    ) -> None:
        fast, route, answered = await both(warm, route_client, method, url, headers=GIVEN_ID, **kw)
        assert not answered
        assert fast.status_code == route.status_code
        assert fast.headers.raw == route.headers.raw

    async def test_a_cold_cache_goes_to_the_route_which_fills_it(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await make_federation(session, "norr")
        before = cached_answers()
        assert (await client.get(FORM)).status_code == 200
        assert cached_answers() == before
        assert (await client.get(FORM)).status_code == 200
        assert cached_answers() == before + 1


class TestChanges:
    async def test_a_federation_edit_shows_at_once_and_is_then_served_fast(
        self, warm: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        assert (await warm.get(CSS)).status_code == 200
        patched = await warm.patch(
            "/api/v1/federations/norr",
            json={
                "name": "Samordningsförbundet Nytt",
                "frame_ancestors": [],
                "brand_color": "#8b1f1f",
            },
            headers=bearer(admin),
        )
        assert patched.status_code == 200, patched.text
        assert "--brand:#8b1f1f" in (await warm.get(CSS)).text
        before = cached_answers()
        for _ in range(2):
            page = await warm.get(FORM)
            assert "Samordningsförbundet Nytt" in page.text
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert cached_answers() == before + 1

    async def test_a_new_privacy_notice_shows_at_once(
        self, warm: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        key = await make_key(session, None)
        published = await warm.post(
            "/api/v1/federations/norr/privacy-notices",
            json={"form_text": "Ja tack, version två.", "privacy_text": "Ny text.\n"},
            headers=bearer(key),
        )
        assert published.status_code == 201, published.text
        for _ in range(2):
            page = (await warm.get(FORM)).text
            assert "Ja tack, version två." in page
            assert "(version 2)" in page
