"""Staff subscriber endpoints: isolation between federations, create, list, update, export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actors import Actor
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.subscribers.models import ConsentEvent, ConsentRecord, Subscriber, Token, TokenPurpose
from tests.fixtures.factories import add_campaign, bearer, make_federation, make_key

BASE = "/api/v1/federations"


@pytest.fixture
async def alfa(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-alfa")


@pytest.fixture
async def beta(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-beta")


@pytest.fixture
async def alfa_key(session: AsyncSession, alfa: Federation) -> str:
    return await make_key(session, alfa)


@pytest.fixture
async def beta_key(session: AsyncSession, beta: Federation) -> str:
    return await make_key(session, beta)


async def add(client: httpx.AsyncClient, key: str, slug: str = "sf-alfa", **body: object) -> dict:
    response = await client.post(f"{BASE}/{slug}/subscribers", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


class TestIsolation:
    async def test_other_federations_key_sees_nothing(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        alfa_key: str,
        beta_key: str,
    ) -> None:
        sub = await add(client, alfa_key, email="anna@example.se", name="Anna Alfa")
        sid = sub["id"]
        csv_body = {"file": ("a.csv", b"email\nny@example.se\n", "text/csv")}
        # Every staff endpoint, with beta's key on alfa's slug, and on beta's own slug with
        # alfa's subscriber id.
        calls = [
            ("GET", "sf-alfa", "", None),
            ("GET", "sf-alfa", "/subscribers", None),
            ("POST", "sf-alfa", "/subscribers", {"email": "x@example.se"}),
            ("GET", "sf-alfa", f"/subscribers/{sid}", None),
            ("PATCH", "sf-alfa", f"/subscribers/{sid}", {"name": "Kapad"}),
            ("DELETE", "sf-alfa", f"/subscribers/{sid}", None),
            ("GET", "sf-alfa", "/subscribers/export", None),
            ("POST", "sf-alfa", "/subscribers/import", "files"),
            ("PATCH", "sf-alfa", "", {"name": "Kapad"}),
            ("GET", "sf-beta", f"/subscribers/{sid}", None),
            ("PATCH", "sf-beta", f"/subscribers/{sid}", {"name": "Kapad"}),
            ("DELETE", "sf-beta", f"/subscribers/{sid}", None),
        ]
        for method, slug, path, body in calls:
            kwargs: dict = {"headers": bearer(beta_key)}
            if body == "files":
                kwargs["files"] = csv_body
            elif body is not None:
                kwargs["json"] = body
            response = await client.request(method, f"{BASE}/{slug}{path}", **kwargs)
            assert response.status_code == 404, (method, slug, path, response.text)
            assert "anna" not in response.text.lower()
        # Beta's own list holds nothing of alfa's.
        listed = await client.get(f"{BASE}/sf-beta/subscribers", headers=bearer(beta_key))
        assert listed.json()["items"] == []
        exported = await client.get(f"{BASE}/sf-beta/subscribers/export", headers=bearer(beta_key))
        assert "anna" not in exported.text
        # And alfa's subscriber is untouched.
        row = await session.scalar(
            select(Subscriber).where(Subscriber.id == sid).execution_options(populate_existing=True)
        )
        assert row is not None
        assert row.name == "Anna Alfa"
        count = await session.scalar(select(func.count(Subscriber.id)))
        assert count == 1

    async def test_erasure_leaves_another_federations_mail_to_the_same_address(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        alfa: Federation,
        alfa_key: str,
        beta: Federation,
        beta_key: str,
    ) -> None:
        """Erasing alfa's Anna forgets alfa's mail to her; beta's test send to the same
        address (beta's staff use that mailbox themselves) keeps its address."""
        sub = await add(client, alfa_key, email="anna@example.se", name="Anna Alfa")
        campaign = await add_campaign(session, beta)
        tested = await client.post(
            f"{BASE}/sf-beta/campaigns/{campaign.id}/test",
            json={"addresses": ["anna@example.se"]},
            headers=bearer(beta_key),
        )
        assert tested.status_code == 202, tested.text
        erased = await client.delete(
            f"{BASE}/sf-alfa/subscribers/{sub['id']}", headers=bearer(alfa_key)
        )
        assert erased.status_code == 204
        alfas = await session.scalars(
            select(Delivery.subscriber_id).where(Delivery.federation_id == alfa.id)
        )
        assert list(alfas) == [None]  # the confirmation mail no longer names her
        betas = await session.scalars(
            select(Delivery.to_address).where(Delivery.federation_id == beta.id)
        )
        assert list(betas) == ["anna@example.se"]

    async def test_revoked_key_is_401_on_subscribers(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa: Federation
    ) -> None:
        from app.federations import service

        new = await service.create_api_key(
            session, federation=alfa, name="gammal", actor=Actor.system("test")
        )
        await service.revoke_api_key(session, key_id=new.key.id, actor=Actor.system("test"))
        await session.commit()
        response = await client.get(f"{BASE}/sf-alfa/subscribers", headers=bearer(new.raw))
        assert response.status_code == 401


class TestCreateSubscriber:
    async def test_default_is_pending_with_confirmation_in_outbox(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa_key: str
    ) -> None:
        body = await add(
            client,
            alfa_key,
            email="Anna.Berg@Example.SE",
            name="Anna Berg",
            attributes={"kommun": "Umeå"},
        )
        assert body["status"] == "pending"
        assert body["email"] == "Anna.Berg@example.se"
        assert body["attributes"] == {"kommun": "Umeå"}
        deliveries = (await session.scalars(select(Delivery))).all()
        assert [(d.kind, d.subscriber_id) for d in deliveries] == [
            (DeliveryKind.CONFIRMATION, body["id"])
        ]
        purposes = set(
            await session.scalars(select(Token.purpose).where(Token.subscriber_id == body["id"]))
        )
        assert purposes == {TokenPurpose.CONFIRM, TokenPurpose.UNSUBSCRIBE}

    async def test_confirmed_requires_consent_note(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa_key: str
    ) -> None:
        response = await client.post(
            f"{BASE}/sf-alfa/subscribers",
            json={"email": "lars@example.se", "status": "confirmed"},
            headers=bearer(alfa_key),
        )
        assert response.status_code == 422
        assert await session.scalar(select(func.count(Subscriber.id))) == 0

    async def test_confirmed_records_staff_evidence_and_sends_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa_key: str
    ) -> None:
        note = "Anmälde sig på papperslista vid frukostmötet 12 mars."
        body = await add(
            client, alfa_key, email="lars@example.se", status="confirmed", consent_note=note
        )
        assert body["status"] == "confirmed"
        assert body["confirmed_at"]
        records = (await session.scalars(select(ConsentRecord))).all()
        assert [(r.event, r.note, r.method) for r in records] == [
            (ConsentEvent.STAFF_CONFIRMED, note, "staff_api")
        ]
        assert await session.scalar(select(func.count(Delivery.id))) == 0

    async def test_existing_address_is_409_in_any_case(
        self, client: httpx.AsyncClient, alfa_key: str
    ) -> None:
        await add(client, alfa_key, email="anna@example.se")
        response = await client.post(
            f"{BASE}/sf-alfa/subscribers",
            json={"email": "ANNA@example.se"},
            headers=bearer(alfa_key),
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "already_exists"

    async def test_same_address_in_two_federations_is_fine(
        self, client: httpx.AsyncClient, alfa_key: str, beta_key: str
    ) -> None:
        first = await add(client, alfa_key, email="anna@example.se")
        second = await add(client, beta_key, slug="sf-beta", email="anna@example.se")
        assert first["id"] != second["id"]
        for slug, key in (("sf-alfa", alfa_key), ("sf-beta", beta_key)):
            listed = await client.get(f"{BASE}/{slug}/subscribers", headers=bearer(key))
            assert [s["email"] for s in listed.json()["items"]] == ["anna@example.se"]

    async def test_confirmed_with_a_blank_consent_note_is_422(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa_key: str
    ) -> None:
        response = await client.post(
            f"{BASE}/sf-alfa/subscribers",
            json={"email": "lars@example.se", "status": "confirmed", "consent_note": " \t "},
            headers=bearer(alfa_key),
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "consent_note is required" in error["details"][0]["msg"]
        assert await session.scalar(select(func.count(Subscriber.id))) == 0

    async def test_name_over_200_characters_is_422_naming_it(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa_key: str
    ) -> None:
        response = await client.post(
            f"{BASE}/sf-alfa/subscribers",
            json={"email": "lars@example.se", "name": "Å" * 201},
            headers=bearer(alfa_key),
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["body", "name"]
        assert await session.scalar(select(func.count(Subscriber.id))) == 0
        assert await session.scalar(select(func.count(Delivery.id))) == 0

    async def test_invalid_address_is_422(self, client: httpx.AsyncClient, alfa_key: str) -> None:
        response = await client.post(
            f"{BASE}/sf-alfa/subscribers",
            json={"email": "anna@@example"},
            headers=bearer(alfa_key),
        )
        assert response.status_code == 422


class TestListSubscribers:
    async def test_filters(
        self, client: httpx.AsyncClient, alfa_key: str, frozen_clock: None
    ) -> None:
        clock.freeze(datetime(2026, 3, 1, 12, tzinfo=UTC))
        await add(client, alfa_key, email="anna@example.se", name="Anna Berg")
        clock.freeze(datetime(2026, 4, 1, 12, tzinfo=UTC))
        await add(
            client,
            alfa_key,
            email="bo@kommun.example.se",
            name="Bo 100%_Holm",
            status="confirmed",
            consent_note="papper",
        )

        async def emails(**params: str) -> list[str]:
            r = await client.get(
                f"{BASE}/sf-alfa/subscribers", params=params, headers=bearer(alfa_key)
            )
            assert r.status_code == 200, r.text
            return [s["email"] for s in r.json()["items"]]

        assert await emails() == ["bo@kommun.example.se", "anna@example.se"]
        assert await emails(status="confirmed") == ["bo@kommun.example.se"]
        assert await emails(q="BERG") == ["anna@example.se"]
        assert await emails(q="kommun") == ["bo@kommun.example.se"]
        assert await emails(q="100%_") == ["bo@kommun.example.se"]
        assert await emails(q="%a") == []
        assert await emails(created_after="2026-03-15T00:00:00+00:00") == ["bo@kommun.example.se"]
        assert await emails(created_before="2026-03-15T00:00:00Z") == ["anna@example.se"]
        naive = await client.get(
            f"{BASE}/sf-alfa/subscribers",
            params={"created_after": "2026-03-15T00:00:00"},
            headers=bearer(alfa_key),
        )
        assert naive.status_code == 422

    @pytest.mark.parametrize(
        ("added", "queries", "field", "found"),
        [
            # Either case of the address, as typed or stored.
            (
                {"email": "Anna.Berg@Example.se"},
                ("anna.berg", "ANNA.BERG"),
                "email",
                "Anna.Berg@example.se",
            ),
            # Å, Ä and Ö fold too (SQLite's own lower() folds ASCII only).
            (
                {"email": "asa@example.se", "name": "Åsa Öberg"},
                ("åsa", "ÖBERG"),
                "name",
                "Åsa Öberg",
            ),
        ],
        ids=["address", "swedish-letters-in-names"],
    )
    async def test_search_ignores_case(
        self,
        client: httpx.AsyncClient,
        alfa_key: str,
        added: dict[str, str],
        queries: tuple[str, ...],
        field: str,
        found: str,
    ) -> None:
        await add(client, alfa_key, **added)
        for q in queries:
            r = await client.get(
                f"{BASE}/sf-alfa/subscribers", params={"q": q}, headers=bearer(alfa_key)
            )
            assert [s[field] for s in r.json()["items"]] == [found]

    async def test_cursor_pages_stay_correct_while_rows_are_added(
        self, client: httpx.AsyncClient, alfa_key: str
    ) -> None:
        for i in range(7):
            await add(
                client, alfa_key, email=f"p{i}@example.se", status="confirmed", consent_note="test"
            )
        seen: list[str] = []
        cursor = None
        added = 0
        while True:
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            r = await client.get(
                f"{BASE}/sf-alfa/subscribers", params=params, headers=bearer(alfa_key)
            )
            page = r.json()
            seen += [s["email"] for s in page["items"]]
            if added < 2:
                await add(client, alfa_key, email=f"ny{added}@example.se")
                added += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"p{i}@example.se" for i in reversed(range(7))]

    @pytest.mark.parametrize("limit", ["0", "501"])
    async def test_page_size_out_of_range_is_422_naming_limit(
        self, client: httpx.AsyncClient, alfa_key: str, limit: str
    ) -> None:
        await add(client, alfa_key, email="anna@example.se")
        r = await client.get(
            f"{BASE}/sf-alfa/subscribers", params={"limit": limit}, headers=bearer(alfa_key)
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        assert r.json()["error"]["details"][0]["loc"] == ["query", "limit"]

    async def test_garbage_cursor_is_422(self, client: httpx.AsyncClient, alfa_key: str) -> None:
        r = await client.get(
            f"{BASE}/sf-alfa/subscribers", params={"cursor": "!!nonsense"}, headers=bearer(alfa_key)
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_cursor"


class TestUpdateSubscriber:
    async def test_patch_name_and_attributes(
        self, client: httpx.AsyncClient, alfa_key: str
    ) -> None:
        sub = await add(client, alfa_key, email="anna@example.se", attributes={"a": 1})
        r = await client.patch(
            f"{BASE}/sf-alfa/subscribers/{sub['id']}",
            json={"name": "Anna B", "attributes": {"kommun": "Vännäs"}},
            headers=bearer(alfa_key),
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Anna B"
        assert r.json()["attributes"] == {"kommun": "Vännäs"}
        got = await client.get(f"{BASE}/sf-alfa/subscribers/{sub['id']}", headers=bearer(alfa_key))
        assert got.json()["attributes"] == {"kommun": "Vännäs"}

    async def test_attributes_must_be_an_object(
        self, client: httpx.AsyncClient, alfa_key: str
    ) -> None:
        sub = await add(client, alfa_key, email="anna@example.se")
        r = await client.patch(
            f"{BASE}/sf-alfa/subscribers/{sub['id']}",
            json={"attributes": [1, 2]},
            headers=bearer(alfa_key),
        )
        assert r.status_code == 422

    async def test_email_cannot_be_patched(self, client: httpx.AsyncClient, alfa_key: str) -> None:
        sub = await add(client, alfa_key, email="anna@example.se")
        r = await client.patch(
            f"{BASE}/sf-alfa/subscribers/{sub['id']}",
            json={"email": "ny@example.se"},
            headers=bearer(alfa_key),
        )
        assert r.status_code == 422


class TestExport:
    async def test_streams_all_rows_across_batches(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        alfa: Federation,
        alfa_key: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from app.subscribers import export

        monkeypatch.setattr(export, "EXPORT_BATCH", 4)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        session.add_all(
            Subscriber(
                federation_id=alfa.id,
                email=f"e{i}@example.se",
                name=f"N {i}",
                status="confirmed",
                attributes={"i": i},
                created_at=now + timedelta(i),
            )
            for i in range(10)
        )
        session.add(
            Subscriber(
                federation_id=alfa.id,
                email="f@example.se",
                name='=HYPERLINK("http://x")',
                attributes={},
            )
        )
        await session.commit()
        r = await client.get(f"{BASE}/sf-alfa/subscribers/export", headers=bearer(alfa_key))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["email"] for row in rows] == [f"e{i}@example.se" for i in range(10)] + [
            "f@example.se"
        ]
        assert rows[3]["attributes"] == '{"i": 3}'
        assert rows[-1]["name"].startswith("'=")
        excel = await client.get(
            f"{BASE}/sf-alfa/subscribers/export?format=excel", headers=bearer(alfa_key)
        )
        assert excel.status_code == 200
        # Swedish Excel: a byte-order mark, then semicolons; the same rows as the plain CSV.
        assert excel.content.startswith(b"\xef\xbb\xbfemail;name;status;")
        text = excel.content.decode("utf-8-sig")
        assert list(csv.DictReader(io.StringIO(text), delimiter=";")) == rows
        bad = await client.get(
            f"{BASE}/sf-alfa/subscribers/export?format=pdf", headers=bearer(alfa_key)
        )
        assert bad.status_code == 422

    async def test_dates_attributes_and_formula_guard_in_the_columns(
        self, client: httpx.AsyncClient, session: AsyncSession, alfa: Federation, alfa_key: str
    ) -> None:
        joined = datetime(2026, 2, 1, 9, tzinfo=UTC)
        left = datetime(2026, 5, 4, 18, 30, tzinfo=UTC)
        leaders = ["+46 70 123", "-1+1", "@SUM(A1)", "\tTab", "\rRetur"]
        session.add(
            Subscriber(
                federation_id=alfa.id,
                email="gone@example.se",
                name="Greta",
                status="unsubscribed",
                attributes={"kommun": "Vännäs"},
                created_at=joined,
                confirmed_at=joined + timedelta(hours=1),
                unsubscribed_at=left,
            )
        )
        session.add_all(
            Subscriber(federation_id=alfa.id, email=f"l{i}@example.se", name=name)
            for i, name in enumerate(leaders)
        )
        await session.commit()
        r = await client.get(f"{BASE}/sf-alfa/subscribers/export", headers=bearer(alfa_key))
        assert r.status_code == 200
        # Personal data: no proxy or browser cache may keep a copy.
        assert r.headers["cache-control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
        gone = rows[0]
        assert datetime.fromisoformat(gone["confirmed_at"]) == joined + timedelta(hours=1)
        assert datetime.fromisoformat(gone["unsubscribed_at"]) == left
        assert gone["attributes"] == '{"kommun": "Vännäs"}'
        assert [row["name"] for row in rows[1:]] == ["'" + name for name in leaders]

    async def test_a_filter_the_database_refuses_is_a_422_before_the_stream_starts(
        self, client: httpx.AsyncClient, alfa: Federation, alfa_key: str
    ) -> None:
        """Found by the schema fuzzer: a NUL in the search text failed inside the stream, after
        the 200 had gone out (a broken download and a logged 500)."""
        r = await client.get(
            f"{BASE}/sf-alfa/subscribers/export", params={"q": "a\x00b"}, headers=bearer(alfa_key)
        )
        assert r.status_code == 422
        assert r.json()["error"]["message"] == "Text may not contain NUL characters (U+0000)."
