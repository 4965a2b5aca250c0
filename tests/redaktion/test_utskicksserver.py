"""Utskicksserver in Redaktionen: install admins set a federation's relay (validated like the
API, the password write-only) and test the connection against a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.config import get_settings
from app.federations.models import Federation
from app.users.models import Role
from tests.fixtures.checks import refreshed
from tests.fixtures.factories import make_federation
from tests.fixtures.smtp import SmtpRecorder, free_port
from tests.fixtures.staff import as_role, csrf_of, invite, signed_in_client

BASE = "/redaktion/installningar/utskicksserver"
SECRET = "hemligt-lösen-123"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


@pytest.fixture
def private_relays(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The recording server listens on loopback, which the operator must allow for overrides.
    monkeypatch.setenv("NEWSLETTER_RELAY_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def install_admin(client: httpx.AsyncClient, session: AsyncSession) -> str:
    client.cookies.clear()
    await invite(session, None, "it@example.se", None, install_admin=True)
    return csrf_of((await signed_in_client(client, session, "it@example.se")).text)


def relay_form(csrf: str, port: int, **overrides: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_security": "none",
        "smtp_username": "",
        "smtp_password": "",
        **overrides,
    }


class TestWhoSeesIt:
    async def test_a_federation_admin_finds_no_page(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        assert "Utskicksserver" not in (await client.get("/redaktion/installningar")).text
        assert (await client.get(BASE)).status_code == 404
        assert (await client.post(BASE, data=relay_form(csrf, 2525))).status_code == 404
        assert (await client.post(f"{BASE}/testa", data={"csrf": csrf})).status_code == 404
        assert (await refreshed(session, federation)).smtp_host is None

    async def test_install_admin_sees_the_link_and_the_page(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await install_admin(client, session)
        assert BASE in (await client.get("/redaktion/installningar")).text
        page = await client.get(BASE)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "installationens server" in page.text


@pytest.fixture
async def tester(
    client: httpx.AsyncClient,
    session: AsyncSession,
    federation: Federation,
    private_relays: None,
) -> str:
    """An install admin at work in the federation, loopback relays allowed; the CSRF token."""
    return await install_admin(client, session)


class TestSave:
    async def test_password_is_write_only_and_an_empty_field_keeps_it(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, tester: str
    ) -> None:
        csrf = tester
        form = relay_form(csrf, 2525, smtp_username="norr", smtp_password=SECRET)
        saved = await client.post(BASE, data=form)
        assert saved.status_code == 303, saved.text
        federation = await refreshed(session, federation)
        assert (federation.smtp_host, federation.smtp_port) == ("127.0.0.1", 2525)
        assert (federation.smtp_security, federation.smtp_password) == ("none", SECRET)
        page = await client.get(saved.headers["location"])
        assert "Utskicksservern är sparad." in page.text
        assert SECRET not in page.text
        assert "Ett lösenord är sparat." in page.text
        kept = await client.post(BASE, data={**form, "smtp_password": "", "smtp_port": "2526"})
        assert kept.status_code == 303
        federation = await refreshed(session, federation)
        assert (federation.smtp_port, federation.smtp_password) == (2526, SECRET)
        removed = await client.post(
            BASE, data={**form, "smtp_password": "", "ta_bort_losenord": "ja"}
        )
        assert removed.status_code == 303
        assert (await refreshed(session, federation)).smtp_password is None
        entries = (
            await session.scalars(
                select(AuditEntry.summary).where(
                    AuditEntry.action == AuditAction.SETTINGS_CHANGED,
                    AuditEntry.federation_id == federation.id,
                )
            )
        ).all()
        assert len(entries) == 3
        assert all(SECRET not in summary for summary in entries)
        assert "smtp_password" in entries[0]
        assert "smtp_password" not in entries[1]

    async def test_an_empty_host_goes_back_to_the_installations_relay(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, tester: str
    ) -> None:
        csrf = tester
        form = relay_form(csrf, 2525, smtp_username="norr", smtp_password=SECRET)
        assert (await client.post(BASE, data=form)).status_code == 303
        cleared = await client.post(BASE, data={**form, "smtp_host": "", "smtp_password": ""})
        assert cleared.status_code == 303
        federation = await refreshed(session, federation)
        assert (federation.smtp_host, federation.smtp_port, federation.smtp_password) == (
            None,
            None,
            None,
        )

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            # A public address (no lookup needed) in cleartext: the API's rule.
            ({"smtp_host": "8.8.8.8"}, "Okrypterad anslutning är bara tillåten"),
            ({"smtp_port": "70000"}, "Porten ska vara ett tal"),
            ({"smtp_port": "tjugofem"}, "Porten ska vara ett tal"),
            ({"smtp_security": "ssl3"}, "Välj en av krypteringarna"),
            # Link-local (cloud metadata) is never a relay.
            ({"smtp_host": "169.254.169.254", "smtp_security": "tls"}, "får inte peka på"),
        ],
    )
    async def test_bad_input_is_refused_in_swedish(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        change: dict[str, str],
        message: str,
    ) -> None:
        csrf = await install_admin(client, session)
        refused = await client.post(BASE, data=relay_form(csrf, 2525, **change))
        assert refused.status_code == 422
        assert "Inget är sparat." in refused.text
        assert message in refused.text
        assert (await refreshed(session, federation)).smtp_host is None

    async def test_without_csrf_nothing_changes(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await install_admin(client, session)
        form = {k: v for k, v in relay_form(csrf, 2525).items() if k != "csrf"}
        assert (await client.post(BASE, data=form)).status_code == 403
        assert (await client.post(f"{BASE}/testa", data={})).status_code == 403
        assert (await refreshed(session, federation)).smtp_host is None


class TestConnection:
    async def test_a_working_relay_answers_and_gets_no_mail(
        self, client: httpx.AsyncClient, smtp_server: SmtpRecorder, tester: str
    ) -> None:
        csrf = tester
        port = get_settings().smtp_port
        assert (await client.post(BASE, data=relay_form(csrf, port))).status_code == 303
        # Only the sign-in link has reached the server so far.
        mails, sessions = len(smtp_server.envelopes), len(smtp_server.ehlo_names)
        tested = await client.post(f"{BASE}/testa", data={"csrf": csrf})
        assert tested.status_code == 200
        assert "Anslutningen fungerar." in tested.text
        assert len(smtp_server.ehlo_names) == sessions + 1
        assert len(smtp_server.envelopes) == mails

    async def test_failures_say_which_step_failed(
        self, client: httpx.AsyncClient, smtp_server: SmtpRecorder, tester: str
    ) -> None:
        csrf = tester
        port = get_settings().smtp_port
        steps = [
            (relay_form(csrf, free_port()), "Det gick inte att ansluta"),
            # The recording server offers neither STARTTLS nor AUTH.
            (relay_form(csrf, port, smtp_security="starttls"), "STARTTLS) misslyckades"),
            (
                relay_form(csrf, port, smtp_username="norr", smtp_password=SECRET),
                "godtog inte användarnamnet",
            ),
        ]
        mails = len(smtp_server.envelopes)
        for form, message in steps:
            assert (await client.post(BASE, data=form)).status_code == 303
            tested = await client.post(f"{BASE}/testa", data={"csrf": csrf})
            assert tested.status_code == 200
            assert "Anslutningen fungerar inte." in tested.text, form
            assert message in tested.text, tested.text
            assert SECRET not in tested.text
        assert len(smtp_server.envelopes) == mails

    async def test_a_saved_host_that_is_no_longer_allowed_is_not_contacted(
        self,
        client: httpx.AsyncClient,
        smtp_server: SmtpRecorder,
        tester: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        csrf = tester
        port = get_settings().smtp_port
        assert (await client.post(BASE, data=relay_form(csrf, port))).status_code == 303
        monkeypatch.setenv("NEWSLETTER_RELAY_ALLOW_PRIVATE", "false")
        get_settings.cache_clear()
        sessions = len(smtp_server.ehlo_names)
        tested = await client.post(f"{BASE}/testa", data={"csrf": csrf})
        assert "Anslutningen fungerar inte." in tested.text
        assert "Servern kontaktades inte" in tested.text
        assert len(smtp_server.ehlo_names) == sessions
