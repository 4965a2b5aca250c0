"""Prenumeranter in Redaktionen: list hygiene on a subscriber's page (unsubscribe on request,
resend the confirmation, reset the bounce state), the export choice, and search, filter and
paging together on the list."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import composition
from app.audit.models import AuditAction, AuditEntry
from app.clock import now
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.subscribers.models import (
    BounceState,
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    SubscriptionStatus,
)
from app.users.models import Role
from tests.fixtures.checks import subscriber_id
from tests.fixtures.factories import bearer, make_federation, make_key
from tests.fixtures.pages import add_subscriber
from tests.fixtures.smtp import SmtpRecorder
from tests.fixtures.staff import as_role

BASE = "/redaktion/prenumeranter"
ROW_LINK = re.compile(r'href="/redaktion/prenumeranter/(\d+)"')


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr")


async def confirmed(client: httpx.AsyncClient, session: AsyncSession, csrf: str, email: str) -> int:
    added = await add_subscriber(
        client, csrf, email=email, mode="confirmed", consent_note="Mässan 2026"
    )
    assert added.status_code == 303, added.text
    return await subscriber_id(session, email)


async def edits(session: AsyncSession, sid: int) -> list[str]:
    rows = await session.scalars(
        select(AuditEntry.summary)
        .where(
            AuditEntry.action == AuditAction.SUBSCRIBER_EDITED,
            AuditEntry.target_type == "subscriber",
            AuditEntry.target_id == sid,
        )
        .order_by(AuditEntry.id)
    )
    return list(rows)


async def current(session: AsyncSession, sid: int) -> Subscriber:
    """The row as the database has it now (the app changed it through its own session)."""
    found = await session.get(Subscriber, sid, populate_existing=True)
    assert found is not None
    return found


class TestUnsubscribeOnRequest:
    async def test_confirmed_then_unsubscribed_with_the_note_kept(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        sid = await confirmed(client, session, csrf, "greta@example.se")
        detail = await client.get(f"{BASE}/{sid}")
        assert f'href="{BASE}/{sid}/avsluta"' in detail.text
        page = await client.get(f"{BASE}/{sid}/avsluta")
        assert page.status_code == 200
        assert "Ja, avsluta prenumerationen" in page.text
        assert 'name="csrf"' in page.text
        assert (await current(session, sid)).status == SubscriptionStatus.CONFIRMED, (
            "GET changes nothing"
        )

        done = await client.post(
            f"{BASE}/{sid}/avsluta", data={"csrf": csrf, "note": " Ringde kansliet 3 mars "}
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"{BASE}/{sid}?klart=avslutad"
        assert (await current(session, sid)).status == SubscriptionStatus.UNSUBSCRIBED
        shown = await client.get(done.headers["location"])
        assert "Prenumerationen är avslutad. Personen finns kvar" in shown.text
        assert "Avslutad prenumeration" in shown.text  # the consent history
        assert "Ringde kansliet 3 mars" in shown.text
        assert "<td>Av förbundet</td>" in shown.text  # how, in Swedish
        assert f'href="{BASE}/{sid}/avsluta"' not in shown.text
        records = await session.scalars(
            select(ConsentRecord.note).where(
                ConsentRecord.subscriber_id == sid, ConsentRecord.event == ConsentEvent.UNSUBSCRIBE
            )
        )
        assert list(records) == ["Ringde kansliet 3 mars"]
        assert await edits(session, sid) == ["avslutade på begäran"]

        again = await client.post(f"{BASE}/{sid}/avsluta", data={"csrf": csrf, "note": ""})
        assert again.headers["location"] == f"{BASE}/{sid}?klart=redan_avslutad"
        assert "var redan avslutad" in (await client.get(again.headers["location"])).text
        assert await edits(session, sid) == ["avslutade på begäran"], "nothing logged twice"
        assert "redan avslutad" in (await client.get(f"{BASE}/{sid}/avsluta")).text

    async def test_too_long_note_and_missing_csrf_change_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        sid = await confirmed(client, session, csrf, "bo@example.se")
        long = await client.post(f"{BASE}/{sid}/avsluta", data={"csrf": csrf, "note": "x" * 501})
        assert long.status_code == 422
        assert "högst 500 tecken" in long.text
        assert "x" * 501 in long.text, "what was typed is kept"
        forged = await client.post(f"{BASE}/{sid}/avsluta", data={"note": "x"})
        assert forged.status_code == 403
        assert (await current(session, sid)).status == SubscriptionStatus.CONFIRMED
        assert await edits(session, sid) == []


class TestResendConfirmation:
    async def test_the_new_mail_arrives_over_smtp_with_a_working_link(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
        federation: Federation,
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        await add_subscriber(client, csrf, email="vantar@example.se", mode="pending")
        sid = await subscriber_id(session, "vantar@example.se")
        await composition.dispatch_once(sessionmaker=sessionmaker)
        assert len(smtp_server.to("vantar@example.se")) == 1
        detail = await client.get(f"{BASE}/{sid}")
        assert "Skicka bekräftelsen igen" in detail.text
        # The first mail was two days ago: the daily limit allows one more.
        await session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == sid)
            .values(created_at=now() - timedelta(days=2))
        )
        await session.commit()

        sent = await client.post(f"{BASE}/{sid}/bekraftelse", data={"csrf": csrf})
        assert sent.status_code == 303
        assert sent.headers["location"] == f"{BASE}/{sid}?klart=bekraftelse"
        assert "En ny bekräftelse är på väg" in (await client.get(sent.headers["location"])).text
        await composition.dispatch_once(sessionmaker=sessionmaker)
        mails = smtp_server.to("vantar@example.se")
        assert len(mails) == 2
        body = mails[-1].get_body(preferencelist=("plain",))
        assert body is not None
        link = re.search(r"https://nyhetsbrev\.example\.se(/\S+)", body.get_content())
        assert link, body.get_content()
        kinds = await session.scalars(
            select(Delivery.kind).where(Delivery.subscriber_id == sid).order_by(Delivery.id)
        )
        assert list(kinds) == [DeliveryKind.CONFIRMATION, DeliveryKind.CONFIRMATION]
        assert await edits(session, sid) == ["skickade en ny bekräftelse"]
        answer = await client.post(link.group(1))
        assert answer.status_code in (200, 303)
        assert (await current(session, sid)).status == SubscriptionStatus.CONFIRMED

    async def test_limit_confirmed_and_missing_csrf_are_explained_and_send_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        await add_subscriber(client, csrf, email="ny@example.se", mode="pending")
        pending = await subscriber_id(session, "ny@example.se")
        done = await confirmed(client, session, csrf, "klar@example.se")
        limited = await client.post(f"{BASE}/{pending}/bekraftelse", data={"csrf": csrf})
        assert limited.status_code == 409
        assert "så många bekräftelser som tillåts" in limited.text
        assert 'role="alert"' in limited.text
        refused = await client.post(f"{BASE}/{done}/bekraftelse", data={"csrf": csrf})
        assert refused.status_code == 409
        assert "Bara den som inte har bekräftat ännu" in refused.text
        assert "Skicka bekräftelsen igen" not in (await client.get(f"{BASE}/{done}")).text
        forged = await client.post(f"{BASE}/{pending}/bekraftelse", data={"csrf": "fel"})
        assert forged.status_code == 403
        count = await session.scalar(
            select(Delivery.id).where(Delivery.kind == DeliveryKind.CONFIRMATION).limit(2).offset(1)
        )
        assert count is None, "only the first confirmation exists"
        assert await edits(session, pending) == []
        assert await edits(session, done) == []


class TestResetBounces:
    async def test_bounce_state_shown_confirmed_and_reset(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        sid = await confirmed(client, session, csrf, "full@example.se")
        assert "Nollställ studsar" not in (await client.get(f"{BASE}/{sid}")).text
        assert "Inga studsar" in (await client.get(f"{BASE}/{sid}")).text
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == sid)
            .values(bounce_state=BounceState.HARD, bounce_count=3)
        )
        await session.commit()
        detail = await client.get(f"{BASE}/{sid}")
        assert "Adressen fungerar inte och får inga utskick (3 st)" in detail.text
        page = await client.get(f"{BASE}/{sid}/studsar")
        assert "Ja, nollställ studsarna" in page.text
        forged = await client.post(f"{BASE}/{sid}/studsar", data={})
        assert forged.status_code == 403
        reset = await client.post(f"{BASE}/{sid}/studsar", data={"csrf": csrf})
        assert reset.headers["location"] == f"{BASE}/{sid}?klart=studsar"
        row = await current(session, sid)
        assert (row.bounce_state, row.bounce_count) == (BounceState.OK, 0)
        after = await client.get(reset.headers["location"])
        assert "Studsarna är nollställda" in after.text
        assert "Nollställ studsar …" not in after.text
        assert await edits(session, sid) == ["nollställde studsar"]


class TestAccess:
    async def test_another_federations_subscriber_is_404_for_every_action(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        theirs = await as_role(client, session, soder, Role.REDAKTOR)
        await add_subscriber(client, theirs, email="hemlig@example.se", mode="pending")
        sid = await subscriber_id(session, "hemlig@example.se")
        await session.execute(
            update(Subscriber).where(Subscriber.id == sid).values(bounce_state=BounceState.SOFT)
        )
        await session.commit()
        mine = await as_role(client, session, federation, Role.REDAKTOR)
        for path in (f"{BASE}/{sid}/avsluta", f"{BASE}/{sid}/studsar"):
            assert (await client.get(path)).status_code == 404, path
        for action in ("avsluta", "bekraftelse", "studsar"):
            answer = await client.post(f"{BASE}/{sid}/{action}", data={"csrf": mine})
            assert answer.status_code == 404, action
        row = await current(session, sid)
        assert (row.status, row.bounce_state) == (SubscriptionStatus.PENDING, BounceState.SOFT)
        assert await edits(session, sid) == []

    async def test_signed_out_changes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.REDAKTOR)
        sid = await confirmed(client, session, csrf, "ute@example.se")
        client.cookies.clear()
        for action in ("avsluta", "bekraftelse", "studsar"):
            answer = await client.post(f"{BASE}/{sid}/{action}", data={"csrf": csrf})
            assert answer.status_code in (303, 401, 403), action
        assert (await current(session, sid)).status == SubscriptionStatus.CONFIRMED
        assert await edits(session, sid) == []


def _subscriber(federation: Federation, email: str, **values: object) -> Subscriber:
    return Subscriber(
        federation_id=federation.id,
        email=email,
        status=values.pop("status", SubscriptionStatus.CONFIRMED),
        confirmed_at=now(),
        **values,
    )


class TestListSearchFilterPaging:
    async def test_status_search_and_paging_work_together(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        session.add_all(
            [_subscriber(federation, f"anna{i:02}@example.se") for i in range(55)]
            + [
                _subscriber(federation, f"anna-v{i}@example.se", status=SubscriptionStatus.PENDING)
                for i in range(3)
            ]
            + [_subscriber(federation, f"bo{i}@example.se") for i in range(3)]
        )
        await session.commit()
        await as_role(client, session, federation, Role.REDAKTOR)
        first = await client.get(BASE, params={"q": "ANNA", "status": "confirmed"})
        assert first.status_code == 200
        assert len(ROW_LINK.findall(first.text)) == 50
        assert "bo0@example.se" not in first.text
        assert "anna-v0@example.se" not in first.text
        assert 'value="ANNA"' in first.text
        assert '<option value="confirmed" selected>' in first.text
        more = re.search(r'href="(/redaktion/prenumeranter\?[^"]*fran=[^"]+)">Fler', first.text)
        assert more, "a link to the next page that keeps the search and the filter"
        url = more.group(1).replace("&amp;", "&")
        assert "q=ANNA" in url
        assert "status=confirmed" in url
        second = await client.get(url)
        rows = ROW_LINK.findall(second.text)
        assert len(rows) == 5
        assert not set(rows) & set(ROW_LINK.findall(first.text))
        assert "Fler prenumeranter" not in second.text
        assert "Till början av listan" in second.text
        pending = await client.get(BASE, params={"q": "anna", "status": "pending"})
        assert len(ROW_LINK.findall(pending.text)) == 3
        none = await client.get(BASE, params={"q": "carl", "status": "confirmed"})
        assert "Inga prenumeranter som matchar sökningen." in none.text

    async def test_bounced_filter_lists_soft_and_hard_only(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        session.add_all(
            [
                _subscriber(federation, "hard@example.se", bounce_state=BounceState.HARD),
                _subscriber(federation, "mjuk@example.se", bounce_state=BounceState.SOFT),
                _subscriber(federation, "fin@example.se"),
            ]
        )
        await session.commit()
        await as_role(client, session, federation, Role.REDAKTOR)
        bounced = await client.get(BASE, params={"status": "studsade"})
        assert '<option value="studsade" selected>Studsade adresser</option>' in bounced.text
        assert "hard@example.se" in bounced.text
        assert "mjuk@example.se" in bounced.text
        assert "fin@example.se" not in bounced.text
        assert "Adressen fungerar inte" in bounced.text
        searched = await client.get(BASE, params={"status": "studsade", "q": "mjuk"})
        assert "mjuk@example.se" in searched.text
        assert "hard@example.se" not in searched.text
        unknown = await client.get(BASE, params={"status": "nonsens"})
        assert unknown.status_code == 200
        assert "fin@example.se" in unknown.text


class TestExport:
    async def test_excel_and_csv_filtered_by_status(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        session.add_all(
            [
                _subscriber(federation, "åsa@example.se", name="Åsa Öberg"),
                _subscriber(federation, "per@example.se", status=SubscriptionStatus.PENDING),
                _subscriber(federation, "studs@example.se", bounce_state=BounceState.HARD),
            ]
        )
        await session.commit()
        await as_role(client, session, federation, Role.REDAKTOR)
        page = await client.get(BASE)
        assert 'action="/redaktion/prenumeranter/export"' in page.text
        assert "Excel (semikolon)" in page.text
        assert "Standard-CSV (komma, UTF-8)" in page.text

        excel = await client.get(
            f"{BASE}/export", params={"format": "excel", "status": "confirmed"}
        )
        assert excel.status_code == 200
        assert excel.headers["cache-control"] == "no-store"
        assert excel.content.startswith(b"\xef\xbb\xbf")
        text = excel.content.decode("utf-8-sig")
        assert text.splitlines()[0].startswith("email;name;status;")
        assert "åsa@example.se;Åsa Öberg;confirmed" in text
        assert "per@example.se" not in text

        plain = await client.get(f"{BASE}/export", params={"format": "csv", "status": "pending"})
        assert not plain.content.startswith(b"\xef\xbb\xbf")
        lines = plain.text.splitlines()
        assert lines[0].startswith("email,name,status,")
        assert [line.split(",")[0] for line in lines[1:]] == ["per@example.se"]

        bounced = await client.get(f"{BASE}/export", params={"status": "studsade"})
        assert [line.split(",")[0] for line in bounced.text.splitlines()[1:]] == [
            "studs@example.se"
        ]
        everyone = await client.get(f"{BASE}/export", params={"format": "okänt"})
        assert len(everyone.text.splitlines()) == 4
        searched = await client.get(f"{BASE}/export", params={"q": "ÅSA"})
        assert [line.split(",")[0] for line in searched.text.splitlines()[1:]] == ["åsa@example.se"]

    async def test_api_export_takes_the_list_filters(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        session.add_all(
            [
                _subscriber(federation, "a@example.se"),
                _subscriber(federation, "b@example.se", status=SubscriptionStatus.PENDING),
                _subscriber(federation, "c@example.se", bounce_state=BounceState.SOFT),
            ]
        )
        await session.commit()
        key = bearer(await make_key(session, federation))
        api = "/api/v1/federations/norr/subscribers"
        pending = await client.get(
            f"{api}/export", params={"status": "pending", "format": "excel"}, headers=key
        )
        assert pending.status_code == 200
        assert [
            line.split(";")[0] for line in pending.content.decode("utf-8-sig").splitlines()[1:]
        ] == ["b@example.se"]
        bounced = await client.get(f"{api}/export", params={"bounced": "true"}, headers=key)
        assert [line.split(",")[0] for line in bounced.text.splitlines()[1:]] == ["c@example.se"]
        listed = await client.get(api, params={"bounced": "false"}, headers=key)
        assert sorted(s["email"] for s in listed.json()["items"]) == [
            "a@example.se",
            "b@example.se",
        ]
        wrong = await client.get(f"{api}/export", params={"status": "nonsens"}, headers=key)
        assert wrong.status_code == 422
        assert "error" in wrong.json()
