"""A relay reply that quotes a subscriber's address leaves no address behind: not in the
delivery's stored reply, not in a paused campaign's reason, not in a log line."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import composition
from app.campaigns.models import Campaign
from app.delivery.models import Delivery
from app.redaction import install_log_redaction
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
    caplog: pytest.LogCaptureFixture,
    reply: str,
) -> None:
    world = await make_world(session, n=2)
    address = world.address(0)
    fault_smtp.fail(address, reply.format(address=address))
    campaign = await make_campaign(session, world.federation)
    await session.commit()
    install_log_redaction()  # as `newsletter dispatch` and the web app do at start-up
    with caplog.at_level(logging.INFO):
        await composition.dispatch_once()
    # The app's own lines (the test relay, aiosmtpd, logs the conversation as it likes).
    logged = "\n".join(caplog.handler.format(r) for r in caplog.records if r.name.startswith("app"))

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
