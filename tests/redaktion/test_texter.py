"""Texter och regler in Redaktionen over HTTP: the welcome mail and its preview, the form and
privacy texts as versions that consent points at, the retention period; admins only."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actors import Actor
from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from app.messages import DEFAULT_WELCOME_TEXT
from app.subscribers import retention
from app.subscribers import service as subscriber_service
from app.subscribers.models import (
    ConsentEvent,
    ConsentRecord,
    PrivacyNotice,
    Subscriber,
)
from app.subscribers.schemas import SubscriberCreate
from app.users.models import Role
from tests.fixtures.factories import confirm_by_link, make_federation, welcome_deliveries
from tests.fixtures.staff import as_role

BASE = "/redaktion/installningar/texter"
WELCOME = "Hej och välkommen!\n\nVi skriver fyra gånger om året om samverkan i Norr."
FORM_TEXT = "Ja, jag vill få nyhetsbrevet från Samordningsförbundet Norr."
PRIVACY = "## Vem ansvarar\n\nSamordningsförbundet Norr.\n"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


async def settings_log(session: AsyncSession, federation: Federation) -> list[str]:
    rows = await session.scalars(
        select(AuditEntry.summary)
        .where(
            AuditEntry.federation_id == federation.id,
            AuditEntry.action == AuditAction.SETTINGS_CHANGED,
        )
        .order_by(AuditEntry.id)
    )
    return list(rows)


async def versions(session: AsyncSession, federation: Federation) -> list[int]:
    rows = await session.scalars(
        select(PrivacyNotice.version)
        .where(PrivacyNotice.federation_id == federation.id)
        .order_by(PrivacyNotice.version)
    )
    return list(rows)


class TestAccess:
    @pytest.mark.parametrize("role", [Role.REDAKTOR, Role.ANSVARIG])
    async def test_only_admins_see_or_change_the_texts(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, role: Role
    ) -> None:
        csrf = await as_role(client, session, federation, role)
        assert (await client.get(BASE)).status_code == 403
        for path, form in (
            ("/valkomstbrev", {"welcome_text": "Kapat"}),
            ("/integritet", {"form_text": "Kapat", "privacy_text": "Kapat"}),
            ("/gallring", {"unsubscribed_retention_days": "1"}),
            ("/valkomstbrev/forhandsvisning", {"welcome_text": "Kapat"}),
        ):
            answer = await client.post(BASE + path, data={"csrf": csrf, **form})
            assert answer.status_code == 403, path
        assert (await client.get(BASE + "/valkomstbrev/forhandsvisning")).status_code == 403
        await session.refresh(federation)
        assert (federation.welcome_enabled, federation.welcome_text) == (True, None)
        assert federation.unsubscribed_retention_days is None
        assert await versions(session, federation) in ([], [1])
        assert await settings_log(session, federation) == []

    async def test_without_the_csrf_token_nothing_changes(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await as_role(client, session, federation, Role.ADMIN)
        for path, form in (
            ("/valkomstbrev", {"welcome_text": "Kapat"}),
            ("/integritet", {"form_text": "Kapat", "privacy_text": "Kapat"}),
            ("/gallring", {"unsubscribed_retention_days": "1"}),
        ):
            answer = await client.post(BASE + path, data={"csrf": "fel", **form})
            assert answer.status_code == 403, path
        await session.refresh(federation)
        assert (federation.welcome_text, federation.unsubscribed_retention_days) == (None, None)
        assert await settings_log(session, federation) == []


class TestWelcomeMail:
    async def test_admin_edits_previews_and_switches_off_the_welcome_mail(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert DEFAULT_WELCOME_TEXT.split("\n")[0] in page.text
        assert "Nu används standardtexten." in page.text
        assert (
            'href="/redaktion/installningar/texter"'
            in (await client.get("/redaktion/installningar")).text
        )
        # The preview button posts the typed text into the frame; nothing is saved.
        draft = await client.post(
            BASE + "/valkomstbrev/forhandsvisning", data={"csrf": csrf, "welcome_text": WELCOME}
        )
        assert draft.status_code == 200
        assert "Vi skriver fyra gånger om året om samverkan i Norr." in draft.text
        assert "frame-ancestors 'self'" in draft.headers["content-security-policy"]
        assert "/u/exempel" in draft.text  # the unsubscribe link every welcome mail carries
        await session.refresh(federation)
        assert federation.welcome_text is None
        saved = await client.post(
            BASE + "/valkomstbrev", data={"csrf": csrf, "welcome_text": WELCOME}
        )
        assert saved.headers["location"] == f"{BASE}?klart=valkomstbrev#valkomstbrev"
        await session.refresh(federation)
        assert (federation.welcome_enabled, federation.welcome_text) == (False, WELCOME)
        shown = await client.get(BASE + "/valkomstbrev/forhandsvisning")
        assert "Vi skriver fyra gånger om året om samverkan i Norr." in shown.text
        assert shown.headers["cache-control"] == "no-store"
        page = await client.get(saved.headers["location"])
        assert "Välkomstbrevet är sparat." in page.text
        assert 'id="welcome_enabled" name="welcome_enabled" value="ja">' in page.text
        # Back to the default text, switched on.
        default = DEFAULT_WELCOME_TEXT.replace("\n", "\r\n")
        await client.post(
            BASE + "/valkomstbrev",
            data={"csrf": csrf, "welcome_enabled": "ja", "welcome_text": default},
        )
        await session.refresh(federation)
        assert (federation.welcome_enabled, federation.welcome_text) == (True, None)
        assert await settings_log(session, federation) == [
            "ändrade welcome_enabled, welcome_text",
            "ändrade welcome_enabled, welcome_text",
        ]

    async def test_the_confirmed_subscriber_gets_the_saved_text(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        await client.post(
            BASE + "/valkomstbrev",
            data={"csrf": csrf, "welcome_enabled": "ja", "welcome_text": WELCOME},
        )
        await session.refresh(federation)
        subscriber = await confirm_by_link(session, federation)
        (welcome,) = await welcome_deliveries(session, subscriber)
        _to, raw = await subscriber_service.build_transactional_mail(session, delivery=welcome)
        mail = message_from_bytes(raw, policy=policy.default)
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        assert "Vi skriver fyra gånger om året om samverkan i Norr." in text.get_content()

    async def test_a_too_long_text_gets_a_swedish_error(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        answer = await client.post(
            BASE + "/valkomstbrev",
            data={"csrf": csrf, "welcome_enabled": "ja", "welcome_text": "Ord " * 1500},
        )
        assert answer.status_code == 422
        assert "Välkomstbrevets text får vara högst 5 000 tecken." in answer.text
        assert 'aria-invalid="true"' in answer.text
        await session.refresh(federation)
        assert federation.welcome_text is None
        assert await settings_log(session, federation) == []


class TestPrivacyNotice:
    async def test_each_save_is_a_version_and_consent_points_at_the_one_shown(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        frozen_clock: None,
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert "Version 1" in page.text
        stamp = (await client.get("/api/v1/public/norr/stamp")).json()["stamp"]
        saved = await client.post(
            BASE + "/integritet",
            data={"csrf": csrf, "form_text": FORM_TEXT, "privacy_text": PRIVACY},
        )
        assert saved.headers["location"] == f"{BASE}?klart=integritet#integritet"
        assert await versions(session, federation) == [1, 2]
        page = await client.get(saved.headers["location"])
        assert "2 (visas nu)" in page.text
        assert 'href="/f/norr/integritet?version=1"' in page.text
        assert FORM_TEXT in (await client.get("/f/norr/prenumerera")).text
        # A form shown before the save signs up under version 1, a fresh one under version 2.
        fresh = (await client.get("/api/v1/public/norr/stamp")).json()["stamp"]
        clock.freeze(clock.now() + timedelta(seconds=10))
        for email, used in (("forr@exempel.se", stamp), ("nu@exempel.se", fresh)):
            answer = await client.post(
                "/api/v1/public/norr/subscriptions",
                json={"email": email, "consent": True, "stamp": used},
            )
            assert answer.status_code == 202
        shown = await session.execute(
            select(Subscriber.email, PrivacyNotice.version)
            .join(ConsentRecord, ConsentRecord.subscriber_id == Subscriber.id)
            .join(PrivacyNotice, PrivacyNotice.id == ConsentRecord.privacy_notice_id)
            .where(ConsentRecord.event == ConsentEvent.SIGNUP)
            .order_by(Subscriber.email)
        )
        assert list(shown) == [("forr@exempel.se", 1), ("nu@exempel.se", 2)]
        assert await settings_log(session, federation) == [
            "publicerade formulärtext och integritetstext, version 2"
        ]

    async def test_an_empty_text_gets_a_swedish_error_and_no_version(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        await client.get(BASE)
        answer = await client.post(
            BASE + "/integritet", data={"csrf": csrf, "form_text": " ", "privacy_text": PRIVACY}
        )
        assert answer.status_code == 422
        assert "Skriv formulärets text om samtycke" in answer.text
        assert "Samordningsförbundet Norr." in answer.text  # the typed privacy text stays
        assert await versions(session, federation) == [1]

    async def test_another_federations_texts_stay_apart(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        csrf = await as_role(client, session, soder, Role.ADMIN)
        await client.post(
            BASE + "/integritet",
            data={"csrf": csrf, "form_text": "Södra texten", "privacy_text": "Södra"},
        )
        await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert "Södra texten" not in page.text
        assert "2 (visas nu)" not in page.text
        assert await versions(session, soder) == [1, 2]
        assert await versions(session, federation) == [1]
        # Norr has no version 2: its address for one is a 404, never Södra's version 2.
        other = await client.get("/f/norr/integritet?version=2")
        assert other.status_code == 404
        assert "Södra" not in other.text
        assert "Södra" in (await client.get("/f/soder/integritet?version=2")).text


class TestRetention:
    async def test_admin_sets_the_period_and_the_purge_keeps_it(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        federation: Federation,
        frozen_clock: None,
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        saved = await client.post(
            BASE + "/gallring", data={"csrf": csrf, "unsubscribed_retention_days": "30"}
        )
        assert saved.headers["location"] == f"{BASE}?klart=gallring#gallring"
        await session.refresh(federation)
        assert federation.unsubscribed_retention_days == 30
        assert 'value="30"' in (await client.get(saved.headers["location"])).text
        # Empty: back to the installation's default; then 30 days again.
        for value, stored in (("", None), ("30", 30)):
            await client.post(
                BASE + "/gallring", data={"csrf": csrf, "unsubscribed_retention_days": value}
            )
            await session.refresh(federation)
            assert federation.unsubscribed_retention_days == stored
        assert (
            await settings_log(session, federation) == ["ändrade unsubscribed_retention_days"] * 3
        )
        left = await subscriber_service.create_subscriber(
            session,
            federation=federation,
            data=SubscriberCreate(email="gick@exempel.se", status="confirmed", consent_note="ok"),
            actor=Actor.system("test"),
        )
        await subscriber_service.unsubscribe_on_request(
            session,
            federation=federation,
            subscriber_id=left.id,
            note=None,
            actor=Actor.system("t"),
        )
        await session.commit()
        clock.freeze(clock.now() + timedelta(days=31))
        assert (await retention.purge(session)).unsubscribed == 1
        await session.commit()
        await as_role(client, session, federation, Role.ADMIN)  # the old session has expired
        page = await client.get(BASE)
        assert "<td>Avslutade prenumeranter</td><td>1</td>" in page.text

    @pytest.mark.parametrize("value", ["0", "3651", "tre", "-5", "1,5"])
    async def test_a_wrong_period_gets_a_swedish_error(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, value: str
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        answer = await client.post(
            BASE + "/gallring", data={"csrf": csrf, "unsubscribed_retention_days": value}
        )
        assert answer.status_code == 422
        assert "Ange ett helt antal dagar mellan 1 och 3 650" in answer.text
        assert f'value="{value}"' in answer.text
        await session.refresh(federation)
        assert federation.unsubscribed_retention_days is None
        assert await settings_log(session, federation) == []
