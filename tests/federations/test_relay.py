"""A federation's relay override: only an admin key sets it, and it may not point at link-local
addresses, nor (unless the operator allows it) at private or loopback ones; names are resolved."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.federations import relay
from app.federations.models import Federation
from tests.fixtures.factories import bearer, federation_data, make_federation, make_key
from tests.fixtures.settings import Configure

PUBLIC_RELAY = "93.184.215.14"  # a global address: no DNS needed in the test


async def patch(
    client: httpx.AsyncClient, key: str, slug: str, **changes: object
) -> httpx.Response:
    return await client.patch(f"/api/v1/federations/{slug}", json=changes, headers=bearer(key))


class TestWhoMaySetTheRelay:
    @pytest.mark.parametrize(
        "changes",
        [
            {"smtp_host": PUBLIC_RELAY, "smtp_security": "tls"},
            {"smtp_port": 6379},
            {"smtp_username": "u", "smtp_password": "p"},
            {"smtp_security": "none"},
        ],
    )
    async def test_federation_key_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, changes: dict[str, object]
    ) -> None:
        federation = await make_federation(session, "sf-rela")
        key = await make_key(session, federation)
        response = await patch(client, key, "sf-rela", **changes)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
        await session.refresh(federation)
        assert (federation.smtp_host, federation.smtp_port, federation.smtp_username) == (
            None,
            None,
            None,
        )

    async def test_federation_key_still_changes_other_fields(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, "sf-rela")
        key = await make_key(session, federation)
        response = await patch(client, key, "sf-rela", name="Nytt namn")
        assert response.status_code == 200, response.text

    async def test_admin_sets_a_public_relay(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await make_federation(session, "sf-rela")
        admin = await make_key(session, None)
        response = await patch(
            client, admin, "sf-rela", smtp_host=PUBLIC_RELAY, smtp_port=465, smtp_security="tls"
        )
        assert response.status_code == 200, response.text
        assert response.json()["smtp_host"] == PUBLIC_RELAY


LINK_LOCAL = ["169.254.169.254", "[::ffff:169.254.169.254]", "fe80::1", "0.0.0.0", "224.0.0.1"]
PRIVATE = ["10.0.0.5", "192.168.1.10", "172.16.0.1", "fd00:ec2::254", "127.0.0.1", "localhost"]


class TestWhereTheRelayMayPoint:
    @pytest.mark.parametrize("host", LINK_LOCAL + PRIVATE + ["smtp.finns-inte.invalid"])
    async def test_refused_by_default(
        self, client: httpx.AsyncClient, session: AsyncSession, host: str
    ) -> None:
        await make_federation(session, "sf-rela")
        admin = await make_key(session, None)
        response = await patch(client, admin, "sf-rela", smtp_host=host, smtp_security="tls")
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["loc"] == ["body", "smtp_host"]

    @pytest.mark.parametrize(
        ("host", "status"), [(h, 200) for h in PRIVATE] + [(h, 422) for h in LINK_LOCAL]
    )
    async def test_operator_may_allow_private_and_loopback_never_link_local(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        configure: Configure,
        host: str,
        status: int,
    ) -> None:
        configure(relay_allow_private="true")
        await make_federation(session, "sf-rela")
        admin = await make_key(session, None)
        response = await patch(client, admin, "sf-rela", smtp_host=host, smtp_security="tls")
        assert response.status_code == status, response.text

    async def test_new_federation_is_checked_too(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_key(session, None)
        data = federation_data("sf-ny").model_dump(mode="json")
        response = await client.post(
            "/api/v1/federations",
            json={**data, "smtp_host": "169.254.169.254", "smtp_security": "tls"},
            headers=bearer(admin),
        )
        assert response.status_code == 422, response.text
        created = await session.scalar(select(Federation).where(Federation.slug == "sf-ny"))
        assert created is None


class TestEveryAddressOfAName:
    @pytest.mark.parametrize("order", [1, -1], ids=["public-first", "private-first"])
    async def test_a_name_is_refused_when_any_of_its_addresses_is(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
        order: int,
    ) -> None:
        """The test's own DNS: the name has a public and a private address (no lookup leaves
        the machine)."""
        name = "smtp.blandat.example.se"
        addresses: list[relay.IpAddress] = [
            ipaddress.ip_address(PUBLIC_RELAY),
            ipaddress.ip_address("10.0.0.5"),
        ][::order]

        async def resolve(host: str) -> list[relay.IpAddress]:
            return addresses if host == name else []

        monkeypatch.setattr(relay, "resolve", resolve)
        await make_federation(session, "sf-rela")
        admin = await make_key(session, None)
        response = await patch(client, admin, "sf-rela", smtp_host=name, smtp_security="tls")
        assert response.status_code == 422, response.text
        assert "10.0.0.5" in response.text
