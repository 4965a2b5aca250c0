"""Sign-in without passwords: the form, the mailed link, sessions, CSRF and signing out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from app.users.models import SignInToken, StaffSession
from app.users.service import SIGN_IN_LINK_MINUTES
from tests.fixtures.factories import make_federation
from tests.fixtures.staff import (
    csrf_of,
    invite,
    link_path,
    newest_mail,
    sign_in_deliveries,
    sign_in_with,
    signed_in_client,
)

EMAIL = "redaktor@example.se"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


async def request_link(client: httpx.AsyncClient, email: str) -> httpx.Response:
    form = await client.get("/redaktion/logga-in")
    return await client.post(
        "/redaktion/logga-in", data={"csrf": csrf_of(form.text), "email": email}
    )


def visible(html: str, email: str) -> str:
    return html.replace(email, "ADDRESS")


class TestRequestLink:
    async def test_form_is_swedish_and_not_cached(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/redaktion/logga-in")
        assert page.status_code == 200
        assert "E-postadress" in page.text
        assert "Skicka inloggningslänk" in page.text
        assert page.headers["cache-control"] == "no-store"
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp

    async def test_known_address_gets_a_mail_with_a_link(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        before = len(await sign_in_deliveries(session, EMAIL))
        answer = await request_link(client, EMAIL)
        assert answer.status_code == 200
        assert "Kolla din e-post" in answer.text
        assert len(await sign_in_deliveries(session, EMAIL)) == before + 1
        message = await newest_mail(session, EMAIL)
        assert message["Subject"] == "Din inloggningslänk till Redaktionen"
        assert message["From"].addresses[0].addr_spec == federation.from_email
        assert "15 minuter" in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert link_path(message).startswith("/redaktion/logga-in/")

    async def test_same_answer_and_no_mail_for_unknown_address(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        known = await request_link(client, EMAIL)
        unknown = await request_link(client, "nobody@example.se")
        assert unknown.status_code == known.status_code == 200
        assert visible(unknown.text, "nobody@example.se") == visible(known.text, EMAIL)
        assert await sign_in_deliveries(session, "nobody@example.se") == []

    async def test_post_without_form_token_is_refused_with_a_swedish_page(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        before = len(await sign_in_deliveries(session, EMAIL))
        answer = await client.post("/redaktion/logga-in", data={"email": EMAIL})
        assert answer.status_code == 403
        assert "Formuläret kunde inte skickas" in answer.text
        forged = await client.post("/redaktion/logga-in", data={"email": EMAIL, "csrf": "x" * 32})
        assert forged.status_code == 403
        assert len(await sign_in_deliveries(session, EMAIL)) == before

    async def test_at_most_three_links_per_address_but_the_same_page(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        before = len(await sign_in_deliveries(session, EMAIL))
        answers = [await request_link(client, EMAIL) for _ in range(5)]
        assert {a.status_code for a in answers} == {200}
        assert len({a.text for a in answers}) == 1
        assert len(await sign_in_deliveries(session, EMAIL)) == before + 3

    async def test_too_many_requests_from_one_ip_get_429(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE", "2")
        from app.config import get_settings

        get_settings.cache_clear()
        try:
            codes = [(await request_link(client, f"p{i}@example.se")).status_code for i in range(3)]
        finally:
            monkeypatch.delenv("NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE")
            get_settings.cache_clear()
        assert codes == [200, 200, 429]


class TestSignInLink:
    async def test_get_shows_a_button_and_spends_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        path = link_path(await newest_mail(session, EMAIL))
        for _ in range(2):
            page = await client.get(path)
            assert page.status_code == 200
            assert ">Logga in</button>" in page.text
        used = await session.scalar(
            select(func.count()).select_from(SignInToken).where(SignInToken.used_at.is_not(None))
        )
        assert used == 0
        assert (await client.get("/redaktion", follow_redirects=False)).status_code == 303

    async def test_post_signs_in_with_a_host_cookie(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        answer = await sign_in_with(client, link_path(await newest_mail(session, EMAIL)))
        assert answer.status_code == 303
        assert answer.headers["location"] == "/redaktion"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-redaktion=")
        for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Secure"):
            assert attribute in cookie
        assert "Domain" not in cookie
        home = await client.get("/redaktion")
        assert home.status_code == 200
        assert "<h1>Översikt</h1>" in home.text
        assert federation.name in home.text
        assert home.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in home.headers["content-security-policy"]

    async def test_used_expired_and_forged_links_show_the_same_page(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        frozen_clock: None,
    ) -> None:
        clock.freeze(T0)
        await invite(session, federation)
        used = link_path(await newest_mail(session, EMAIL))
        assert (await sign_in_with(client, used)).status_code == 303
        client.cookies.clear()
        await request_link(client, EMAIL)
        expired = link_path(await newest_mail(session, EMAIL))
        # Dead from the instant it expires, not a moment later.
        expires = T0 + timedelta(minutes=SIGN_IN_LINK_MINUTES)
        clock.freeze(expires - timedelta(microseconds=1))
        assert (await client.get(expired)).status_code == 200
        clock.freeze(expires)
        forged = "/redaktion/logga-in/" + "A" * 32
        pages = [await client.get(p) for p in (used, expired, forged, "/redaktion/logga-in/kort")]
        assert {p.status_code for p in pages} == {404}
        assert len({p.text for p in pages}) == 1
        assert "Länken fungerar inte" in pages[0].text
        token = csrf_of((await client.get("/redaktion/logga-in")).text)
        for path in (used, expired, forged):
            assert (await client.post(path, data={"csrf": token})).status_code == 404
        assert (await client.get("/redaktion", follow_redirects=False)).status_code == 303

    async def test_a_new_link_retires_the_older_one(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        older = link_path(await newest_mail(session, EMAIL))
        await request_link(client, EMAIL)
        newer = link_path(await newest_mail(session, EMAIL))
        assert (await client.get(older)).status_code == 404
        assert (await sign_in_with(client, newer)).status_code == 303
        # Spent and replaced links keep no seed: neither can be rebuilt from the database.
        seeds = await session.scalars(
            select(SignInToken.seed).execution_options(populate_existing=True)
        )
        assert list(seeds) == [None, None]

    async def test_pressing_the_button_needs_the_form_token(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        path = link_path(await newest_mail(session, EMAIL))
        await client.get(path)
        refused = await client.post(path, data={"csrf": "wrong"})
        assert refused.status_code == 403
        assert (await sign_in_with(client, path)).status_code == 303

    async def test_sign_in_is_audited_in_the_federation(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        user = await invite(session, federation)
        await signed_in_client(client, session, EMAIL)
        row = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == AuditAction.SIGNED_IN, AuditEntry.user_id == user.id
            )
        )
        assert row is not None
        assert row.federation_id == federation.id
        assert row.actor_label == EMAIL


class TestSessions:
    async def test_idle_for_eight_hours_ends_the_session(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        frozen_clock: None,
    ) -> None:
        clock.freeze(T0)
        await invite(session, federation)
        await signed_in_client(client, session, EMAIL)
        clock.freeze(T0 + timedelta(hours=7, minutes=59))
        assert (await client.get("/redaktion")).status_code == 200
        clock.freeze(T0 + timedelta(hours=15, minutes=58))
        assert (await client.get("/redaktion")).status_code == 200
        clock.freeze(T0 + timedelta(hours=24))
        answer = await client.get("/redaktion", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/redaktion/logga-in"

    async def test_seven_days_end_the_session_however_busy(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        frozen_clock: None,
    ) -> None:
        clock.freeze(T0)
        await invite(session, federation)
        await signed_in_client(client, session, EMAIL)
        at = T0
        while at < T0 + timedelta(days=7) - timedelta(hours=4):
            at += timedelta(hours=4)
            clock.freeze(at)
            assert (await client.get("/redaktion")).status_code == 200
        clock.freeze(T0 + timedelta(days=7))
        assert (await client.get("/redaktion", follow_redirects=False)).status_code == 303

    async def test_sign_out_needs_the_csrf_token_then_ends_the_session(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        home = await signed_in_client(client, session, EMAIL)
        refused = await client.post("/redaktion/logga-ut", data={})
        assert refused.status_code == 403
        assert "Formuläret kunde inte skickas" in refused.text
        assert (await client.get("/redaktion")).status_code == 200
        out = await client.post("/redaktion/logga-ut", data={"csrf": csrf_of(home.text)})
        assert out.status_code == 303
        assert out.headers["location"] == "/redaktion/logga-in?utloggad=1"
        assert "Max-Age=0" in out.headers["set-cookie"] or "expires" in out.headers["set-cookie"]
        assert "Du är utloggad" in (await client.get(out.headers["location"])).text
        assert (await client.get("/redaktion", follow_redirects=False)).status_code == 303

    async def test_stolen_cookie_is_useless_after_sign_out(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await invite(session, federation)
        home = await signed_in_client(client, session, EMAIL)
        stolen = client.cookies["__Host-redaktion"]
        await client.post("/redaktion/logga-ut", data={"csrf": csrf_of(home.text)})
        client.cookies.set("__Host-redaktion", stolen)
        assert (await client.get("/redaktion", follow_redirects=False)).status_code == 303

    async def test_sign_out_everywhere_ends_every_session(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
    ) -> None:
        user = await invite(session, federation)
        home = await signed_in_client(client, session, EMAIL)
        first = client.cookies["__Host-redaktion"]
        client.cookies.clear()
        await signed_in_client(client, session, EMAIL)
        out = await client.post(
            "/redaktion/logga-ut", data={"csrf": csrf_of(home.text), "overallt": "ja"}
        )
        # The first session's page token does not belong to the second session.
        assert out.status_code == 403
        second_home = await client.get("/redaktion")
        out = await client.post(
            "/redaktion/logga-ut", data={"csrf": csrf_of(second_home.text), "overallt": "ja"}
        )
        assert out.status_code == 303
        open_sessions = await session.scalar(
            select(func.count())
            .select_from(StaffSession)
            .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        )
        assert open_sessions == 0
        client.cookies.clear()
        client.cookies.set("__Host-redaktion", first)
        assert (await client.get("/redaktion", follow_redirects=False)).status_code == 303

    async def test_a_person_switches_only_to_their_own_federations(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        other = await make_federation(session, "soder")
        third = await make_federation(session, "vaster")
        await invite(session, federation)
        await invite(session, other)
        # Väster has people too, only not this person.
        await invite(session, third, "kansliet@vaster.example.se")
        home = await signed_in_client(client, session, EMAIL)
        assert "Byt förbund" in home.text
        assert third.name not in home.text
        token = csrf_of(home.text)
        moved = await client.post(
            "/redaktion/byt-forbund", data={"csrf": token, "forbund": "soder"}
        )
        assert moved.status_code == 303
        assert (
            f"Du arbetar i <strong>{other.name}</strong>" in (await client.get("/redaktion")).text
        )
        refused = await client.post(
            "/redaktion/byt-forbund", data={"csrf": token, "forbund": "vaster"}
        )
        assert refused.status_code == 404
