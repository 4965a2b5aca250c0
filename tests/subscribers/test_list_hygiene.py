"""List hygiene for staff: unsubscribe on request, resend a confirmation, reset bounces, and a
person who erased themselves coming back while staff imports stay blocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.models import AuditAction, AuditEntry
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.subscribers.models import (
    BounceState,
    ConsentEvent,
    ConsentRecord,
    Subscriber,
    SubscriptionStatus,
)
from tests.fixtures.factories import bearer, make_federation, make_key

BASE = "/api/v1/federations/sf-hyg/subscribers"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-hyg")


@pytest.fixture
async def key(session: AsyncSession, federation: Federation) -> dict[str, str]:
    return bearer(await make_key(session, federation))


async def _add(client: httpx.AsyncClient, key: dict[str, str], **body: str) -> dict[str, object]:
    response = await client.post(BASE, json={"email": "anna@exempel.se", **body}, headers=key)
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestStaffActions:
    async def test_unsubscribe_on_request_keeps_the_person_and_the_evidence(
        self, client: httpx.AsyncClient, session: AsyncSession, key: dict[str, str]
    ) -> None:
        added = await _add(client, key, status="confirmed", consent_note="Papperslista")
        url = f"{BASE}/{added['id']}/unsubscribe"
        response = await client.post(url, json={"note": "Ringde kansliet"}, headers=key)
        assert response.status_code == 200
        assert response.json()["status"] == "unsubscribed"
        again = await client.post(url, headers=key)
        assert again.json()["status"] == "unsubscribed"
        records = (
            await session.scalars(
                select(ConsentRecord).where(ConsentRecord.event == ConsentEvent.UNSUBSCRIBE)
            )
        ).all()
        assert [(r.method, r.note) for r in records] == [("staff_api", "Ringde kansliet")]
        assert (await client.get(f"{BASE}/{added['id']}", headers=key)).status_code == 200

    async def test_resend_confirmation_only_to_pending_and_within_limits(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        key: dict[str, str],
        frozen_clock: None,
    ) -> None:
        start = datetime(2027, 3, 1, 9, tzinfo=UTC)
        clock.freeze(start)
        added = await _add(client, key)  # the first confirmation mail
        url = f"{BASE}/{added['id']}/resend-confirmation"
        # One a day, three a week, as for the public form.
        limited = await client.post(url, headers=key)
        assert limited.status_code == 409
        assert limited.json()["error"]["code"] == "confirmation_limit"
        clock.freeze(start + timedelta(days=1, minutes=1))
        response = await client.post(url, headers=key)
        assert response.status_code == 202
        logged = await session.scalar(
            select(AuditEntry.summary).where(AuditEntry.action == AuditAction.SUBSCRIBER_EDITED)
        )
        assert logged == "skickade en ny bekräftelse"
        delivery = await session.get(Delivery, response.json()["delivery_id"])
        assert delivery is not None
        assert delivery.kind == DeliveryKind.CONFIRMATION
        confirmed = await _add(
            client, key, email="bo@exempel.se", status="confirmed", consent_note="Mässan"
        )
        refused = await client.post(f"{BASE}/{confirmed['id']}/resend-confirmation", headers=key)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "not_pending"

    async def test_reset_bounce_state(
        self, client: httpx.AsyncClient, session: AsyncSession, key: dict[str, str]
    ) -> None:
        added = await _add(client, key, status="confirmed", consent_note="Mässan")
        subscriber = await session.get(Subscriber, added["id"])
        assert subscriber is not None
        subscriber.bounce_state = BounceState.HARD
        subscriber.bounce_count = 3
        await session.commit()
        response = await client.post(f"{BASE}/{added['id']}/reset-bounces", headers=key)
        assert response.status_code == 200
        await session.refresh(subscriber)
        assert (subscriber.bounce_state, subscriber.bounce_count) == (BounceState.OK, 0)

    async def test_each_staff_action_is_in_the_audit_log(
        self, client: httpx.AsyncClient, session: AsyncSession, key: dict[str, str]
    ) -> None:
        pending = await _add(client, key, email="ny@exempel.se")
        confirmed = await _add(client, key, status="confirmed", consent_note="Mässan")
        url = f"{BASE}/{confirmed['id']}"
        assert (await client.post(f"{url}/reset-bounces", headers=key)).status_code == 200
        assert (await client.post(f"{url}/unsubscribe", headers=key)).status_code == 200
        # Already unsubscribed: nothing changes, nothing is logged.
        assert (await client.post(f"{url}/unsubscribe", headers=key)).status_code == 200
        refused = await client.post(f"{BASE}/{pending['id']}/resend-confirmation", headers=key)
        assert refused.status_code == 409  # the first mail went out today
        logged = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == AuditAction.SUBSCRIBER_EDITED)
            .order_by(AuditEntry.id)
        )
        assert [(e.target_id, e.summary) for e in logged] == [
            (confirmed["id"], "nollställde studsar"),
            (confirmed["id"], "avslutade på begäran"),
        ]

    async def test_another_federations_subscriber_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, key: dict[str, str]
    ) -> None:
        added = await _add(client, key)
        other = await make_federation(session, "sf-annan")
        other_key = bearer(await make_key(session, other))
        for action in ("unsubscribe", "resend-confirmation", "reset-bounces"):
            response = await client.post(
                f"/api/v1/federations/sf-annan/subscribers/{added['id']}/{action}",
                headers=other_key,
            )
            assert response.status_code == 404, action


class TestErasedPersonComesBack:
    async def test_staff_cannot_add_the_address_but_the_person_can_opt_in_again(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        key: dict[str, str],
        frozen_clock: None,
    ) -> None:
        added = await _add(client, key, status="confirmed", consent_note="Mässan")
        assert (await client.delete(f"{BASE}/{added['id']}", headers=key)).status_code == 204
        blocked = await client.post(BASE, json={"email": "anna@exempel.se"}, headers=key)
        assert blocked.status_code == 409
        assert blocked.json()["error"]["code"] == "suppressed"
        form = await client.get("/f/sf-hyg/prenumerera")
        stamp = form.text.split('name="stamp" value="', 1)[1].split('"', 1)[0]
        clock.freeze(clock.now() + timedelta(seconds=10))  # a person, not a bot, posts it
        signup = await client.post(
            "/f/sf-hyg/prenumerera",
            data={"email": "anna@exempel.se", "name": "", "consent": "ja", "stamp": stamp},
        )
        assert signup.status_code == 200, signup.text
        back = await session.scalar(select(Subscriber).where(Subscriber.email == "anna@exempel.se"))
        assert back is not None
        assert back.status == SubscriptionStatus.PENDING
        still = await client.post(
            f"{BASE}/import",
            params={"wait": "true"},
            files={"file": ("l.csv", b"email\nanna@exempel.se\n", "text/csv")},
            headers=key,
        )
        assert still.json()["created"] == 0
