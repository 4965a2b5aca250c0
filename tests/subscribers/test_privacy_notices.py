"""The federation's texts as versions: each save is a new version, consent points at the one
shown, and the default notice promises the retention period the purge applies."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from app.subscribers.models import ConsentEvent, ConsentRecord, PrivacyNotice
from tests.fixtures.factories import bearer, make_federation, make_key

URL = "/api/v1/federations/sf-text/privacy-notices"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-text", unsubscribed_retention_days=180)


@pytest.fixture
async def key(session: AsyncSession, federation: Federation) -> dict[str, str]:
    return bearer(await make_key(session, federation))


async def test_each_save_is_a_new_version_and_the_form_shows_the_newest(
    client: httpx.AsyncClient, session: AsyncSession, key: dict[str, str]
) -> None:
    first = await client.get(URL, headers=key)
    assert first.status_code == 200
    (default,) = first.json()["items"]
    assert default["version"] == 1
    assert "efter 180 dagar tar vi bort dina uppgifter" in default["privacy_text"]
    saved = await client.post(
        URL,
        json={
            "form_text": "Ja, jag vill ha nyhetsbrevet från förbundet.",
            "privacy_text": "## Vem ansvarar\\n\\nFörbundet.",
        },
        headers=key,
    )
    assert saved.status_code == 201
    assert saved.json()["version"] == 2
    logged = (
        await session.scalars(select(AuditEntry).where(AuditEntry.target_type == "privacy_notice"))
    ).all()
    assert [(e.action, e.target_id) for e in logged] == [
        (AuditAction.SETTINGS_CHANGED, saved.json()["id"])
    ]
    listed = await client.get(URL, headers=key)
    assert [n["version"] for n in listed.json()["items"]] == [2, 1]
    assert listed.json()["items"][1]["privacy_text"] == default["privacy_text"]
    form = await client.get("/f/sf-text/prenumerera")
    assert "Ja, jag vill ha nyhetsbrevet från förbundet." in form.text
    old = await client.get("/f/sf-text/integritet?version=1")
    assert old.status_code == 200
    empty = await client.post(URL, json={"form_text": "", "privacy_text": "x"}, headers=key)
    assert empty.status_code == 422


async def test_consent_points_at_the_version_shown(
    client: httpx.AsyncClient, session: AsyncSession, key: dict[str, str], frozen_clock: None
) -> None:
    from datetime import timedelta

    from app import clock

    stamp = (await client.get("/api/v1/public/sf-text/stamp")).json()["stamp"]
    await client.post(URL, json={"form_text": "Ny text", "privacy_text": "Ny"}, headers=key)
    clock.freeze(clock.now() + timedelta(seconds=10))
    response = await client.post(
        "/api/v1/public/sf-text/subscriptions",
        json={"email": "anna@exempel.se", "consent": True, "stamp": stamp},
    )
    assert response.status_code == 202
    record = await session.scalar(
        select(ConsentRecord).where(ConsentRecord.event == ConsentEvent.SIGNUP)
    )
    assert record is not None
    shown = await session.get(PrivacyNotice, record.privacy_notice_id)
    assert shown is not None
    assert shown.version == 1
