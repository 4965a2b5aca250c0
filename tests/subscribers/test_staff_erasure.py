"""Erasure through the staff API: no table keeps the address or the name afterwards."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import Delivery, DeliveryKind
from app.security import email_hash
from app.subscribers.models import Suppression
from tests.fixtures.checks import find_personal_data
from tests.fixtures.factories import bearer, make_federation, make_key

BASE = "/api/v1/federations/sf-alfa/subscribers"
EMAIL = "Karin.Lindqvist@example.se"
NAME = "Karin Lindqvist-Öberg"


async def test_erasure_leaves_no_trace(client: httpx.AsyncClient, session: AsyncSession) -> None:
    federation = await make_federation(session, "sf-alfa")
    key = await make_key(session, federation)
    created = await client.post(
        BASE,
        json={"email": EMAIL, "name": NAME, "attributes": {"anteckning": NAME}},
        headers=bearer(key),
    )
    sid = created.json()["id"]
    # A bounce reply that quotes the address, and a staff test send to it.
    await session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == sid)
        .values(smtp_reply=f"550 5.1.1 <{EMAIL}>: Recipient address rejected")
    )
    session.add(
        Delivery(federation_id=federation.id, kind=DeliveryKind.TEST, to_address=EMAIL.lower())
    )
    await session.commit()
    assert await find_personal_data(session, EMAIL, NAME)

    response = await client.delete(f"{BASE}/{sid}", headers=bearer(key))
    assert response.status_code == 204

    assert await find_personal_data(session, EMAIL, NAME, "lindqvist") == []
    # The deliveries remain (statistics) but point at nobody.
    assert await session.scalar(select(func.count(Delivery.id))) == 2
    assert (await client.get(f"{BASE}/{sid}", headers=bearer(key))).status_code == 404
    export = await client.get(f"{BASE}/export", headers=bearer(key))
    assert export.text.strip().splitlines()[1:] == []
    suppression = await session.scalar(select(Suppression))
    assert suppression is not None
    assert suppression.email_hash == email_hash(federation.id, "karin.lindqvist@example.se")

    # The address cannot be added again by staff, and a second erase is a 404.
    again = await client.post(BASE, json={"email": EMAIL}, headers=bearer(key))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "suppressed"
    assert (await client.delete(f"{BASE}/{sid}", headers=bearer(key))).status_code == 404
