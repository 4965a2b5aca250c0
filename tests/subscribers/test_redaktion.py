"""Prenumeranter in Redaktionen over HTTP: add, search, detail, edit, erase, import, export."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from app.subscribers import import_jobs
from app.subscribers.models import ImportJob, Subscriber
from app.users.models import Role
from tests.fixtures.checks import subscriber_id
from tests.fixtures.factories import make_federation
from tests.fixtures.pages import add_subscriber
from tests.fixtures.staff import as_role

BASE = "/redaktion/prenumeranter"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


class TestSubscriberPages:
    async def test_add_search_detail_edit_and_erase(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        assert (await client.get(f"{BASE}/ny")).status_code == 200
        added = await add_subscriber(
            client, csrf, email="greta@example.se", name="Greta", mode="pending"
        )
        assert added.status_code == 303
        sid = await subscriber_id(session, "greta@example.se")
        assert added.headers["location"] == f"{BASE}/{sid}?klart=tillagd"
        detail = await client.get(added.headers["location"])
        assert "Prenumeranten är tillagd." in detail.text
        assert "Väntar" in detail.text or "inte bekräftad" in detail.text
        assert "Anmälan" in detail.text  # the consent history
        found = await client.get(BASE, params={"q": "greta"})
        assert f"{BASE}/{sid}" in found.text
        assert f"{BASE}/{sid}" not in (await client.get(BASE, params={"q": "nobody"})).text

        renamed = await client.post(f"{BASE}/{sid}", data={"csrf": csrf, "name": "Greta N"})
        assert renamed.headers["location"].endswith("?klart=sparad")
        confirm_page = await client.get(f"{BASE}/{sid}/radera")
        assert "Ja, radera" in confirm_page.text
        assert await subscriber_id(session, "greta@example.se") == sid, "GET erases nothing"
        forged = await client.post(f"{BASE}/{sid}/radera", data={"csrf": "fel"})
        assert forged.status_code == 403
        assert await subscriber_id(session, "greta@example.se") == sid, "nor does a forged post"
        erased = await client.post(f"{BASE}/{sid}/radera", data={"csrf": csrf})
        assert erased.headers["location"] == f"{BASE}?klart=raderad"
        assert await session.scalar(select(Subscriber).where(Subscriber.id == sid)) is None
        again = await add_subscriber(client, csrf, email="greta@example.se", mode="pending")
        assert again.status_code == 409
        assert "spärrats" in again.text

        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.summary)
                .where(AuditEntry.target_type == "subscriber", AuditEntry.target_id == sid)
                .order_by(AuditEntry.id)
            )
        ).all()
        assert [a for a, _ in rows] == [
            AuditAction.SUBSCRIBER_ADDED,
            AuditAction.SUBSCRIBER_EDITED,
            AuditAction.SUBSCRIBER_ERASED,
        ]
        assert all("greta" not in summary.lower() for _, summary in rows)

    async def test_confirmed_needs_a_consent_note(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        refused = await add_subscriber(client, csrf, email="bo@example.se", mode="confirmed")
        assert refused.status_code == 422
        assert "samtycke" in refused.text
        assert 'value="bo@example.se"' in refused.text
        ok = await add_subscriber(
            client, csrf, email="bo@example.se", mode="confirmed", consent_note="Mässan 2026"
        )
        assert ok.status_code == 303

    async def test_import_reports_and_export_streams(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        assert (await client.get(f"{BASE}/import")).status_code == 200
        csv = "email,name\nanna@example.se,Anna\ninte-en-adress,X\n"
        queued = await client.post(
            f"{BASE}/import",
            data={"csrf": csrf, "mode": "confirmed", "consent_note": "Listan från mässan"},
            files={"fil": ("lista.csv", csv.encode(), "text/csv")},
        )
        assert queued.status_code == 303, queued.text
        job_page = queued.headers["location"]
        assert job_page.startswith(f"{BASE}/import/")
        waiting = await client.get(job_page)
        assert waiting.status_code == 200
        assert waiting.headers["cache-control"] == "no-store"
        assert "Väntar på att starta" in waiting.text
        assert "0 av 2 rader klara" in waiting.text
        # Without JavaScript the page refreshes itself; with it, htmx polls the panel.
        assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in waiting.text
        assert f'hx-get="{job_page}/framsteg"' in waiting.text
        assert "Resultat" not in waiting.text

        assert await import_jobs.run_next_job() is not None
        panel = await client.get(f"{job_page}/framsteg")
        assert "2 av 2 rader klara" in panel.text
        assert "hx-get" not in panel.text, "polling stops when the job is done"
        report = await client.get(job_page)
        assert "Klar" in report.text
        assert "2 rader lästes: 1 nya" in report.text
        assert "Rad 3: ogiltig e-postadress" in report.text
        assert 'http-equiv="refresh"' not in report.text
        exported = await client.get(f"{BASE}/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert "anna@example.se" in exported.text
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.SUBSCRIBERS_IMPORTED)
        )
        assert entry is not None
        assert entry.user_id is not None
        assert "anna" not in entry.summary

    async def test_import_refuses_what_it_cannot_read(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        for data, content in (
            ({"csrf": csrf, "mode": "pending"}, b"namn\nAnna\n"),
            ({"csrf": csrf, "mode": "confirmed"}, b"email\nanna@example.se\n"),
        ):
            refused = await client.post(
                f"{BASE}/import", data=data, files={"fil": ("lista.csv", content, "text/csv")}
            )
            assert refused.status_code == 422
            assert 'role="alert"' in refused.text
        no_csrf = await client.post(
            f"{BASE}/import",
            data={"mode": "pending"},
            files={"fil": ("lista.csv", b"email\nanna@example.se\n", "text/csv")},
        )
        assert no_csrf.status_code == 403
        assert await session.scalar(select(func.count(ImportJob.id))) == 0

    async def test_another_federations_import_job_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        theirs = await as_role(client, session, soder, Role.REDAKTOR)
        queued = await client.post(
            f"{BASE}/import",
            data={"csrf": theirs, "mode": "pending"},
            files={"fil": ("lista.csv", b"email\nhemlig@example.se\n", "text/csv")},
        )
        job_page = queued.headers["location"]
        assert (await client.get(job_page)).status_code == 200
        await as_role(client, session, federation, Role.REDAKTOR)
        for path in (job_page, f"{job_page}/framsteg"):
            response = await client.get(path)
            assert response.status_code == 404
            assert "lista.csv" not in response.text

    async def test_another_federations_subscriber_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        theirs = await as_role(client, session, soder, Role.REDAKTOR)
        await add_subscriber(client, theirs, email="hemlig@example.se", mode="pending")
        sid = await subscriber_id(session, "hemlig@example.se")
        mine = await as_role(client, session, federation, Role.REDAKTOR)
        assert "hemlig@example.se" not in (await client.get(BASE)).text
        for path in (f"{BASE}/{sid}", f"{BASE}/{sid}/radera"):
            assert (await client.get(path)).status_code == 404
        assert (
            await client.post(f"{BASE}/{sid}", data={"csrf": mine, "name": "x"})
        ).status_code == 404
        assert (await client.post(f"{BASE}/{sid}/radera", data={"csrf": mine})).status_code == 404
        assert await subscriber_id(session, "hemlig@example.se") == sid
        assert "hemlig@example.se" not in (await client.get(f"{BASE}/export")).text
