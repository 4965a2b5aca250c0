"""The welcome mail: queued in the outbox on confirmation, with its own unsubscribe link."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.subscribers import service
from app.subscribers.consent import Origin
from app.subscribers.models import SubscriptionStatus
from tests.fixtures.factories import confirm_by_link, make_federation, welcome_deliveries

ORIGIN = Origin(method="test")


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


class TestWelcomeMail:
    async def test_confirmation_queues_a_welcome_with_its_own_unsubscribe_link(
        self, session: AsyncSession
    ) -> None:
        federation = await make_federation(session, name="Samordningsförbundet Exempel")
        subscriber = await confirm_by_link(session, federation)
        (welcome,) = await welcome_deliveries(session, subscriber)
        recipient, raw = await service.build_transactional_mail(session, delivery=welcome)
        assert recipient == "anna@exempel.se"
        msg = _parse(raw)
        assert msg["Subject"].startswith("Välkommen")
        link = msg["List-Unsubscribe"].strip("<>")
        assert link.startswith("https://nyhetsbrev.example.se/u/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = (part.get_content() for part in msg.iter_parts())
        assert "Tack för att du bekräftade din prenumeration." in text
        assert link in text
        assert f'href="{link}"' in html
        # The link is the subscriber's real unsubscribe link.
        await service.unsubscribe(session, raw=link.rsplit("/", 1)[1], origin=ORIGIN)
        assert subscriber.status == SubscriptionStatus.UNSUBSCRIBED
        # Left before the welcome went out: the dispatcher gives the row up.
        with pytest.raises(NotFound):
            await service.build_transactional_mail(session, delivery=welcome)

    async def test_the_federation_writes_its_own_text_or_turns_it_off(
        self, session: AsyncSession
    ) -> None:
        federation = await make_federation(session)
        federation.welcome_text = "Hej och välkommen!\n\nVi skriver <b>fyra</b> gånger om året."
        subscriber = await confirm_by_link(session, federation)
        (welcome,) = await welcome_deliveries(session, subscriber)
        _, raw = await service.build_transactional_mail(session, delivery=welcome)
        text, html = (part.get_content() for part in _parse(raw).iter_parts())
        assert "Vi skriver <b>fyra</b> gånger om året." in text
        assert "Vi skriver &lt;b&gt;fyra&lt;/b&gt; gånger om året.</p>" in html
        assert "<b>fyra" not in html
        assert "Tack för att du bekräftade" not in text

        other = await make_federation(session, "sf-tyst", welcome_enabled=False)
        quiet = await confirm_by_link(session, other)
        assert quiet.status == SubscriptionStatus.CONFIRMED
        assert await welcome_deliveries(session, quiet) == []
