"""Inställningar in Redaktionen over HTTP: admins only, contrast check, people, API keys."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.federations.models import ApiKey, Federation
from app.users.models import Membership, Role, User
from tests.fixtures.checks import refreshed
from tests.fixtures.factories import make_federation, make_key
from tests.fixtures.staff import as_role, invite

BASE = "/redaktion/installningar"
FORM = {
    "name": "Samordningsförbundet Norr",
    "from_name": "SF Norr",
    "from_email": "nyhetsbrev@norr.example.se",
    "reply_to": "",
    "postal_address": "Box 1\n901 10 Umeå",
    "contact_email": "",
    "website_url": "",
    "logo_url": "",
    "brand_color": "#1f5f8b",
    "accent_color": "#f2c14e",
    "timezone": "Europe/Stockholm",
}


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


class TestSettings:
    async def test_only_admins_see_or_change_settings(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ANSVARIG)
        assert "Inställningar" not in (await client.get("/redaktion")).text
        assert (await client.get(BASE)).status_code == 403
        refused = await client.post(BASE, data={"csrf": csrf, **FORM, "name": "Kapat"})
        assert refused.status_code == 403
        assert (await refreshed(session, federation)).name != "Kapat"

    async def test_contrast_check_saves_nothing_then_save_with_four_eyes(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert page.status_code == 200
        assert "/f/norr/prenumerera" in page.text
        checked = await client.post(
            BASE, data={"csrf": csrf, **FORM, "brand_color": "#ffff00", "atgard": "kontrollera"}
        )
        assert checked.status_code == 200
        assert "#141414 på #ffff00" in checked.text
        assert (await refreshed(session, federation)).brand_color != "#ffff00"
        saved = await client.post(
            BASE, data={"csrf": csrf, **FORM, "name": "SF Norrland", "four_eyes": "ja"}
        )
        assert saved.headers["location"] == f"{BASE}?klart=sparat"
        federation = await refreshed(session, federation)
        assert (federation.name, federation.four_eyes) == ("SF Norrland", True)
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.SETTINGS_CHANGED)
        )
        assert entry is not None
        assert "four_eyes" in entry.summary

    async def test_a_bad_colour_saves_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        answer = await client.post(
            BASE, data={"csrf": csrf, **FORM, "name": "Nytt", "brand_color": "blå"}
        )
        assert answer.status_code == 422
        assert "profilfärg" in answer.text
        assert (await refreshed(session, federation)).name != "Nytt"


class TestHowLettersEnd:
    async def test_the_default_closing_theme_none_or_own_and_the_signature(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        own = {
            "sign_off_choice": "egen",
            "default_sign_off": "Vänliga hälsningar",
            "default_signature_name": "Karin Berg",
            "default_signature_title": "Förbundschef",
        }
        saved = await client.post(BASE, data={"csrf": csrf, **FORM, **own})
        assert saved.headers["location"] == f"{BASE}?klart=sparat"
        federation = await refreshed(session, federation)
        assert (
            federation.default_sign_off,
            federation.default_signature_name,
            federation.default_signature_title,
        ) == ("Vänliga hälsningar", "Karin Berg", "Förbundschef")
        page = await client.get(BASE)
        assert 'value="egen" checked' in page.text
        assert 'value="Karin Berg"' in page.text

        # "Ingen": an empty closing (no line at all), not the theme's.
        await client.post(BASE, data={"csrf": csrf, **FORM, **own, "sign_off_choice": "ingen"})
        assert (await refreshed(session, federation)).default_sign_off == ""
        # "Tema": null, the theme's own line; the text typed beside it is not kept.
        await client.post(BASE, data={"csrf": csrf, **FORM, **own, "sign_off_choice": "tema"})
        federation = await refreshed(session, federation)
        assert federation.default_sign_off is None
        assert 'value="tema" checked' in (await client.get(BASE)).text

    async def test_a_too_long_closing_saves_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        answer = await client.post(
            BASE,
            data={
                "csrf": csrf,
                **FORM,
                "name": "Nytt",
                "sign_off_choice": "egen",
                "default_sign_off": "x" * 301,
            },
        )
        assert answer.status_code == 422
        assert "egen avslutning" in answer.text
        assert (await refreshed(session, federation)).name != "Nytt"


class TestPeopleAndKeys:
    async def test_invite_change_role_and_keep_one_admin(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        invited = await client.post(
            f"{BASE}/personer",
            data={"csrf": csrf, "email": "ny@example.se", "namn": "Ny", "roll": "redaktor"},
        )
        assert invited.headers["location"].startswith(f"{BASE}?klart=inbjuden")
        new_id = await session.scalar(select(User.id).where(User.email == "ny@example.se"))
        assert new_id is not None
        changed = await client.post(
            f"{BASE}/personer/{new_id}/roll", data={"csrf": csrf, "roll": "ansvarig"}
        )
        assert changed.headers["location"].startswith(f"{BASE}?klart=roll")
        admin_id = await session.scalar(
            select(User.id).where(User.email == "admin@norr.example.se")
        )
        last = await client.post(
            f"{BASE}/personer/{admin_id}/roll", data={"csrf": csrf, "roll": "redaktor"}
        )
        assert last.headers["location"].startswith(f"{BASE}?fel=last_admin")
        roles = dict((await session.execute(select(Membership.user_id, Membership.role))).all())
        assert roles[new_id] == Role.ANSVARIG
        assert roles[admin_id] == Role.ADMIN
        removed = await client.post(f"{BASE}/personer/{new_id}/ta-bort", data={"csrf": csrf})
        assert removed.headers["location"].startswith(f"{BASE}?klart=borttagen")
        actions = set((await session.execute(select(AuditEntry.action))).scalars().all())
        assert {AuditAction.ROLE_CHANGED, AuditAction.PERSON_REMOVED} <= actions

    async def test_the_last_admin_stays_and_a_removal_needs_the_csrf_token(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        other = await invite(session, federation, "ny@norr.example.se", Role.REDAKTOR)
        admin_id = await session.scalar(
            select(User.id).where(User.email == "admin@norr.example.se")
        )
        last = await client.post(f"{BASE}/personer/{admin_id}/ta-bort", data={"csrf": csrf})
        assert last.headers["location"].startswith(f"{BASE}?fel=last_admin")
        forged = await client.post(f"{BASE}/personer/{other.id}/ta-bort", data={"csrf": "fel"})
        assert forged.status_code == 403
        members = dict((await session.execute(select(Membership.user_id, Membership.role))).all())
        assert members == {admin_id: Role.ADMIN, other.id: Role.REDAKTOR}
        removals = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == AuditAction.PERSON_REMOVED)
        )
        assert removals.all() == []

    async def test_inviting_a_member_again_with_another_role_keeps_one_admin(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        """An invitation to someone already in the federation changes their role under the
        rules of a role change: the only admin stays admin, and the change is audited."""
        csrf = await as_role(client, session, federation, Role.ADMIN)
        again = await client.post(
            f"{BASE}/personer",
            data={"csrf": csrf, "email": "admin@norr.example.se", "namn": "", "roll": "redaktor"},
        )
        assert again.headers["location"].startswith(f"{BASE}?fel=last_admin")
        assert set((await session.execute(select(Membership.role))).scalars()) == {Role.ADMIN}
        await client.post(
            f"{BASE}/personer",
            data={"csrf": csrf, "email": "ny@example.se", "namn": "Ny", "roll": "redaktor"},
        )
        promoted = await client.post(
            f"{BASE}/personer",
            data={"csrf": csrf, "email": "ny@example.se", "namn": "Ny", "roll": "ansvarig"},
        )
        assert promoted.headers["location"].startswith(f"{BASE}?klart=inbjuden")
        new_id = await session.scalar(select(User.id).where(User.email == "ny@example.se"))
        role = await session.scalar(select(Membership.role).where(Membership.user_id == new_id))
        assert role == Role.ANSVARIG
        changes = await session.scalars(
            select(AuditEntry.summary).where(AuditEntry.action == AuditAction.ROLE_CHANGED)
        )
        assert list(changes) == ["redaktor → ansvarig"]

    async def test_another_federations_people_are_neither_listed_nor_counted_nor_changed(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        await invite(session, soder, "chef@soder.example.se", Role.ADMIN)
        sodra = await invite(session, soder, "sodra@soder.example.se", Role.REDAKTOR)
        csrf = await as_role(client, session, federation, Role.ADMIN)
        assert "sodra@soder.example.se" not in (await client.get(BASE)).text
        for path, data in (
            (f"{BASE}/personer/{sodra.id}/roll", {"csrf": csrf, "roll": "admin"}),
            (f"{BASE}/personer/{sodra.id}/ta-bort", {"csrf": csrf}),
        ):
            refused = await client.post(path, data=data)
            assert refused.status_code == 404, path
        kept = await session.scalar(
            select(Membership.role).where(
                Membership.user_id == sodra.id, Membership.federation_id == soder.id
            )
        )
        assert kept == Role.REDAKTOR
        # Södra's admin is not Norr's: Norr's only admin stays admin.
        admin_id = await session.scalar(
            select(User.id).where(User.email == "admin@norr.example.se")
        )
        last = await client.post(
            f"{BASE}/personer/{admin_id}/roll", data={"csrf": csrf, "roll": "redaktor"}
        )
        assert last.headers["location"].startswith(f"{BASE}?fel=last_admin")

    async def test_key_is_shown_once_and_only_own_keys_can_be_revoked(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        await make_key(session, soder, name="södra")
        other_key = await session.scalar(select(ApiKey.id).where(ApiKey.name == "södra"))
        csrf = await as_role(client, session, federation, Role.ADMIN)
        created = await client.post(f"{BASE}/nycklar", data={"csrf": csrf, "namn": "webbplatsen"})
        assert created.status_code == 200
        assert "Den nya nyckeln visas bara nu." in created.text
        key = await session.scalar(select(ApiKey).where(ApiKey.name == "webbplatsen"))
        assert key is not None
        assert f"<code>{key.prefix}" in created.text
        assert "visas bara nu" not in (await client.get(BASE)).text
        refused = await client.post(f"{BASE}/nycklar/{other_key}/aterkalla", data={"csrf": csrf})
        assert refused.status_code == 404
        ok = await client.post(f"{BASE}/nycklar/{key.id}/aterkalla", data={"csrf": csrf})
        assert ok.status_code == 303
        await session.refresh(key)
        assert key.revoked_at is not None
