"""Error pages: Redaktionen's layout under /redaktion (with a way back to Översikt), the
visitors' layout elsewhere, never cached."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.users.models import Role
from tests.fixtures.factories import make_federation
from tests.fixtures.staff import invite, signed_in_client

STAFF_LAYOUT = 'class="staff"'
BACK = '<a href="/redaktion">Tillbaka till Översikt</a>'


def assert_staff_error(answer: httpx.Response, status: int, title: str) -> None:
    assert answer.status_code == status
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert STAFF_LAYOUT in answer.text
    assert f"<h1>{title}</h1>" in answer.text
    assert f"<title>{title} \N{EN DASH} Redaktionen</title>" in answer.text
    assert BACK in answer.text


@pytest.fixture
async def redaktor(client: httpx.AsyncClient, session: AsyncSession) -> None:
    """A redaktör of one federation, signed in on `client`."""
    federation = await make_federation(session, "norr")
    await invite(session, federation, "red@example.se", Role.REDAKTOR)
    await signed_in_client(client, session, "red@example.se")


class TestStaffErrorPages:
    @pytest.mark.parametrize(
        ("path", "status", "title"),
        [
            ("/redaktion/finns-inte", 404, "Länken fungerar inte"),
            ("/redaktion/utskick/999999", 404, "Länken fungerar inte"),
            ("/redaktion/installningar", 403, "Din roll räcker inte"),
        ],
    )
    @pytest.mark.usefixtures("redaktor")
    async def test_a_signed_in_redaktor_gets_the_staff_layout(
        self, client: httpx.AsyncClient, path: str, status: int, title: str
    ) -> None:
        assert_staff_error(await client.get(path), status, title)

    async def test_csrf_refusal_is_a_403_in_the_staff_layout(
        self, client: httpx.AsyncClient
    ) -> None:
        answer = await client.post("/redaktion/logga-in", data={"email": "x@example.se"})
        assert_staff_error(answer, 403, "Formuläret kunde inte skickas")

    async def test_unexpected_failure_is_a_500_in_the_staff_layout(self) -> None:
        from app.main import create_app

        app = create_app(embedded_services=False)

        async def broken() -> None:
            raise RuntimeError("a bug")

        app.add_api_route("/redaktion/trasig", broken)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://x.example") as c:
            answer = await c.get("/redaktion/trasig")
        assert_staff_error(answer, 500, "Tekniskt fel")
        assert "a bug" not in answer.text


class TestVisitorErrorPages:
    @pytest.mark.parametrize("path", ["/finns-inte", "/redaktionen", "/f/finns-inte/arkiv"])
    async def test_keep_the_visitor_layout(self, client: httpx.AsyncClient, path: str) -> None:
        answer = await client.get(path)
        assert answer.status_code == 404
        assert answer.headers["cache-control"] == "no-store"
        assert STAFF_LAYOUT not in answer.text
        assert "Redaktionen" not in answer.text
        assert "<h1>Länken fungerar inte</h1>" in answer.text
