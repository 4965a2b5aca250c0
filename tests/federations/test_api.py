"""Federations and API keys through the staff API: auth, validation, key lifecycle."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.federations.models import ApiKey, Federation
from app.security import token_hash
from tests.fixtures.factories import bearer, federation_data, make_federation, make_key
from tests.fixtures.hostile import LINE_BREAKS, with_header_line

NEW = {
    "slug": "sf-vasterby",
    "name": "Samordningsförbundet Västerby",
    "from_email": "nyhetsbrev@vasterby.example.se",
    "from_name": "Samordningsförbundet Västerby",
    "reply_to": "kansli@vasterby.example.se",
    "postal_address": "Samordningsförbundet Västerby\nBox 7\n721 87 Västerby",
    "logo_url": "https://vasterby.example.se/logo.png",
    "brand_color": "#1F5F8B",
    "timezone": "Europe/Stockholm",
    "frame_ancestors": ["https://www.vasterby.example.se"],
}


class TestAuthentication:
    async def test_missing_key_is_401_with_bearer_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/federations")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_unknown_key_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/federations", headers=bearer("nb_not-a-real-key"))
        assert response.status_code == 401

    async def test_revoked_key_is_401(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        federation = await make_federation(session, "sf-alfa")
        raw = await make_key(session, federation)
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == token_hash(raw)))
        assert (
            await client.get("/api/v1/federations/sf-alfa", headers=bearer(raw))
        ).status_code == 200
        revoked = await client.delete(f"/api/v1/keys/{key_id}", headers=bearer(admin))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        response = await client.get("/api/v1/federations/sf-alfa", headers=bearer(raw))
        assert response.status_code == 401

    async def test_use_records_last_used_at(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, "sf-alfa")
        raw = await make_key(session, federation)
        await client.get("/api/v1/federations/sf-alfa", headers=bearer(raw))
        key = await session.scalar(
            select(ApiKey)
            .where(ApiKey.key_hash == token_hash(raw))
            .execution_options(populate_existing=True)
        )
        assert key is not None
        assert key.last_used_at is not None

    async def test_federation_key_on_admin_endpoints_is_403(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, "sf-alfa")
        raw = await make_key(session, federation)
        calls = [
            client.post("/api/v1/federations", json=NEW, headers=bearer(raw)),
            client.get("/api/v1/federations", headers=bearer(raw)),
            client.get("/api/v1/federations/sf-alfa/keys", headers=bearer(raw)),
            client.post("/api/v1/federations/sf-alfa/keys", json={}, headers=bearer(raw)),
            client.delete("/api/v1/keys/1", headers=bearer(raw)),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "forbidden"

    async def test_other_federation_is_404_like_a_missing_one(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        alfa = await make_federation(session, "sf-alfa")
        await make_federation(session, "sf-beta")
        raw = await make_key(session, alfa)
        other = await client.get("/api/v1/federations/sf-beta", headers=bearer(raw))
        missing = await client.get("/api/v1/federations/sf-gamma", headers=bearer(raw))
        assert other.status_code == missing.status_code == 404
        assert other.json() == missing.json()
        patched = await client.patch(
            "/api/v1/federations/sf-beta", json={"name": "Kapad"}, headers=bearer(raw)
        )
        assert patched.status_code == 404
        beta = await session.scalar(
            select(Federation)
            .where(Federation.slug == "sf-beta")
            .execution_options(populate_existing=True)
        )
        assert beta is not None
        assert beta.name != "Kapad"


class TestCreateFederation:
    async def test_admin_creates_and_reads_back(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        response = await client.post(
            "/api/v1/federations",
            json={
                **NEW,
                "smtp_host": "93.184.215.14",
                "smtp_security": "starttls",
                "smtp_password": "hemligt-lösen",
            },
            headers=bearer(admin),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["brand_color"] == "#1f5f8b"
        assert body["smtp_password_set"] is True
        assert "hemligt" not in response.text
        got = await client.get("/api/v1/federations/sf-vasterby", headers=bearer(admin))
        assert got.json()["name"] == "Samordningsförbundet Västerby"
        assert "smtp_password" not in got.json()

    async def test_relay_password_is_encrypted_at_rest(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        payload = {**NEW, "smtp_host": "93.184.215.14", "smtp_security": "starttls"}
        response = await client.post(
            "/api/v1/federations",
            json={**payload, "smtp_password": "hemligt-lösen"},
            headers=bearer(admin),
        )
        assert response.status_code == 201, response.text
        raw = await session.scalar(
            text("SELECT smtp_password FROM federations WHERE slug = 'sf-vasterby'")
        )
        assert raw
        assert "hemligt" not in raw
        stored = await session.scalar(
            select(Federation)
            .where(Federation.slug == "sf-vasterby")
            .execution_options(populate_existing=True)
        )
        assert stored is not None
        assert stored.smtp_password == "hemligt-lösen"

    async def test_duplicate_slug_is_409(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        first = await client.post("/api/v1/federations", json=NEW, headers=bearer(admin))
        second = await client.post("/api/v1/federations", json=NEW, headers=bearer(admin))
        assert first.status_code == 201
        assert second.status_code == 409

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("slug", "Versaler"),
            ("slug", "-börjar-med-streck"),
            ("slug", "a"),
            ("from_email", "inte-en-adress"),
            ("reply_to", "kansli@"),
            ("brand_color", "blue"),
            ("brand_color", "#12345"),
            ("timezone", "Europe/Atlantis"),
            ("frame_ancestors", ["http://www.vasterby.example.se"]),
            ("frame_ancestors", ["https://www.vasterby.example.se/sida"]),
            ("frame_ancestors", ["https://x.example; script-src *"]),
            ("frame_ancestors", ["https://x.example;script-src"]),
            ("frame_ancestors", ["https://*.example.se"]),
            ("frame_ancestors", [f"https://s{n}.vasterby.example.se" for n in range(21)]),
            ("slug", "sf-vasterby-Norra"),  # valid for 63 characters, then not
            ("brand_color", "#1f5f8b;background:url(x)"),
            ("accent_color", "#f2c14e0"),
            ("website_url", "ftp://vasterby.example.se/"),
            ("logo_url", "javascript://vasterby.example.se/%0Aalert(1)"),
            ("unsubscribed_retention_days", 0),
        ],
    )
    async def test_invalid_field_is_422_naming_it_and_creates_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, field: str, value: object
    ) -> None:
        admin = await make_key(session, None)
        response = await client.post(
            "/api/v1/federations", json={**NEW, field: value}, headers=bearer(admin)
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"][:2] == ["body", field]
        assert (await session.scalars(select(Federation.slug))).all() == []

    # A public address passes the relay target check, so only the TLS rule can refuse it.
    @pytest.mark.parametrize("host", ["smtp.example.se", "93.184.215.14"])
    async def test_cleartext_to_a_remote_relay_is_422(
        self, client: httpx.AsyncClient, session: AsyncSession, host: str
    ) -> None:
        admin = await make_key(session, None)
        response = await client.post(
            "/api/v1/federations", json={**NEW, "smtp_host": host}, headers=bearer(admin)
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "smtp_security must be starttls or tls" in error["details"][0]["msg"]
        assert (await session.scalars(select(Federation.slug))).all() == []

    @pytest.mark.parametrize("brk", LINE_BREAKS)
    @pytest.mark.parametrize("field", ["name", "from_name"])
    @pytest.mark.parametrize("method", ["POST", "PATCH"])
    async def test_control_characters_are_422_naming_the_field(
        self, client: httpx.AsyncClient, session: AsyncSession, method: str, field: str, brk: str
    ) -> None:
        value = with_header_line("Förbundet", brk)
        admin = await make_key(session, None)
        await make_federation(session, "sf-alfa")
        url, body = {
            "POST": ("/api/v1/federations", {**NEW, field: value}),
            "PATCH": ("/api/v1/federations/sf-alfa", {field: value}),
        }[method]
        response = await client.request(method, url, json=body, headers=bearer(admin))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["loc"] == ["body", field]

    async def test_body_that_is_not_utf8_is_422(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        response = await client.post(
            "/api/v1/federations",
            content=b"\x0f\xff\xfe\x13",
            headers={**bearer(admin), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"


class TestUpdateFederation:
    async def test_patch_changes_only_given_fields(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(
            session, "sf-alfa", logo_url="https://a.example.se/l.png"
        )
        raw = await make_key(session, federation)
        response = await client.patch(
            "/api/v1/federations/sf-alfa",
            json={"name": "Nytt namn", "timezone": "Europe/Helsinki", "logo_url": None},
            headers=bearer(raw),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == "Nytt namn"
        assert body["timezone"] == "Europe/Helsinki"
        assert body["logo_url"] is None
        assert body["from_email"] == "nyhetsbrev@sf-alfa.example.se"

    @pytest.mark.parametrize("field", ["from_email", "welcome_enabled", "timezone"])
    async def test_required_field_cannot_be_cleared(
        self, client: httpx.AsyncClient, session: AsyncSession, field: str
    ) -> None:
        federation = await make_federation(session, "sf-alfa")
        raw = await make_key(session, federation)
        before = (await client.get("/api/v1/federations/sf-alfa", headers=bearer(raw))).json()
        response = await client.patch(
            "/api/v1/federations/sf-alfa", json={field: None}, headers=bearer(raw)
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert f"{field} may not be null" in error["details"][0]["msg"]
        after = await client.get("/api/v1/federations/sf-alfa", headers=bearer(raw))
        assert after.json()[field] == before[field]

    async def test_slug_cannot_change(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, "sf-alfa")
        raw = await make_key(session, federation)
        response = await client.patch(
            "/api/v1/federations/sf-alfa", json={"slug": "nytt"}, headers=bearer(raw)
        )
        assert response.status_code == 422


class TestKeys:
    async def test_key_shown_once_and_stored_hashed(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        await make_federation(session, "sf-alfa")
        created = await client.post(
            "/api/v1/federations/sf-alfa/keys", json={"name": "kansliet"}, headers=bearer(admin)
        )
        assert created.status_code == 201
        raw = created.json()["key"]
        assert raw.startswith("nb_")
        assert len(raw) >= 40
        stored = await session.scalar(select(ApiKey).where(ApiKey.id == created.json()["id"]))
        assert stored is not None
        assert stored.key_hash == token_hash(raw)
        assert raw not in (stored.prefix, stored.key_hash)
        listed = await client.get("/api/v1/federations/sf-alfa/keys", headers=bearer(admin))
        assert [k["name"] for k in listed.json()] == ["kansliet"]
        assert raw not in listed.text
        assert (
            await client.get("/api/v1/federations/sf-alfa", headers=bearer(raw))
        ).status_code == 200

    async def test_revoking_unknown_key_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        assert (
            await client.delete("/api/v1/keys/999999", headers=bearer(admin))
        ).status_code == 404


class TestGetOrCreate:
    async def test_is_idempotent(self, session: AsyncSession, frozen_clock: None) -> None:
        from app.federations import service

        clock.freeze(None)
        first, created = await service.get_or_create_federation(
            session, data=federation_data("sf-alfa")
        )
        again, created_again = await service.get_or_create_federation(
            session, data=federation_data("sf-alfa", name="Annat")
        )
        assert created
        assert not created_again
        assert again.id == first.id
        assert again.name != "Annat"
