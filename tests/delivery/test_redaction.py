"""A relay reply that quotes a subscriber's address leaves no address behind: not in the
delivery's stored reply, not in a paused campaign's reason, not in a log line."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import composition, logs
from app.campaigns.models import Campaign
from app.delivery.models import Delivery
from tests.fixtures.factories import make_campaign, make_world
from tests.fixtures.smtp import SmtpRecorder


@pytest.mark.parametrize(
    "reply",
    [
        "data:550 5.7.1 <{address}>: Sender not authorised",
        "rcpt:550 5.1.1 <{address}>: Recipient address rejected: User unknown",
        "rcpt:450 4.2.0 <{address}>: Greylisted, try again",
    ],
)
async def test_replies_quoting_the_address_are_stored_and_logged_without_it(
    session: AsyncSession,
    fault_smtp: SmtpRecorder,
    reply: str,
) -> None:
    world = await make_world(session, n=2)
    address = world.address(0)
    fault_smtp.fail(address, reply.format(address=address))
    campaign = await make_campaign(session, world.federation)
    await session.commit()
    # The app's own log lines, as a command writes them (app.logs, with its redaction).
    buffer = io.StringIO()
    logs.configure_logging(buffer)
    try:
        await composition.dispatch_once()
    finally:
        logs.configure_logging()
    logged = buffer.getvalue()

    stored = [
        d.smtp_reply or ""
        for d in await session.scalars(select(Delivery).execution_options(populate_existing=True))
    ]
    assert any("[redacted]" in text for text in stored), stored
    await session.refresh(campaign)
    reason = (
        await session.scalar(select(Campaign.paused_reason).where(Campaign.id == campaign.id)) or ""
    )
    for text in [*stored, reason, logged]:
        assert address not in text
        assert address.split("@")[0] not in text
