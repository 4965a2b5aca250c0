"""The SMTP adapter's transaction, against a real loopback server: addresses beyond ASCII,
the EHLO name and the BODY=8BITMIME option."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app import composition
from app.config import SmtpSecurity, get_settings
from app.delivery.models import DeliveryStatus
from app.delivery.smtp import Relay
from app.subscribers.models import Subscriber, SubscriptionStatus
from tests.fixtures.checks import campaign_deliveries
from tests.fixtures.factories import World, make_campaign, make_world
from tests.fixtures.smtp import SmtpRecorder

UTF8_LOCAL = "först@norr-mottagare.example.se"
IDN_DOMAIN = "anna@bäckström.example.se"


async def add_subscriber(session: AsyncSession, world: World, email: str) -> int:
    subscriber = Subscriber(
        federation_id=world.federation.id, email=email, status=SubscriptionStatus.CONFIRMED
    )
    session.add(subscriber)
    await session.flush()
    return subscriber.id


class TestAddressesBeyondAscii:
    async def test_smtputf8_is_used_when_the_relay_offers_it(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        utf8_id = await add_subscriber(session, world, UTF8_LOCAL)
        campaign = await make_campaign(session, world.federation)
        await session.commit()

        await composition.dispatch_once(connections=1)

        rows = await campaign_deliveries(session, campaign.id)
        assert rows[utf8_id].status == DeliveryStatus.SENT
        assert fault_smtp.delivered[UTF8_LOCAL] == 1
        first_rcpts = [rcpts[0] for _, rcpts, _ in fault_smtp.raw]
        sent = dict(zip(first_rcpts, fault_smtp.mail_options, strict=True))
        assert "SMTPUTF8" in sent[UTF8_LOCAL]
        assert "SMTPUTF8" not in sent[world.address(0)]

    async def test_without_smtputf8_it_fails_alone_and_the_next_recipient_is_untouched(
        self, session: AsyncSession, ascii_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=0)
        utf8_id = await add_subscriber(session, world, UTF8_LOCAL)
        after_ids = [
            await add_subscriber(session, world, f"efter{i}@norr-mottagare.example.se")
            for i in range(3)
        ]
        campaign = await make_campaign(session, world.federation)
        await session.commit()

        # One connection: the innocent recipients share the session the failure happened on.
        report = await composition.dispatch_once(connections=1)

        rows = await campaign_deliveries(session, campaign.id)
        failed = rows[utf8_id]
        assert failed.status == DeliveryStatus.FAILED
        assert failed.smtp_reply is not None
        assert "SMTPUTF8" in failed.smtp_reply
        assert {rows[i].status for i in after_ids} == {DeliveryStatus.SENT}
        assert report.unknown == 0
        assert UTF8_LOCAL not in ascii_smtp.attempts

    async def test_an_international_domain_goes_out_as_an_a_label(
        self, session: AsyncSession, ascii_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=0)
        idn_id = await add_subscriber(session, world, IDN_DOMAIN)
        campaign = await make_campaign(session, world.federation)
        await session.commit()

        await composition.dispatch_once()

        assert (await campaign_deliveries(session, campaign.id))[
            idn_id
        ].status == DeliveryStatus.SENT
        assert list(ascii_smtp.delivered) == ["anna@xn--bckstrm-5wa1o.example.se"]


class TestEnvelope:
    async def test_ehlo_names_the_host_of_base_url_unless_configured(
        self, session: AsyncSession, fault_smtp: SmtpRecorder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        world = await make_world(session, n=1)
        await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        assert set(fault_smtp.ehlo_names) == {"nyhetsbrev.example.se"}

        monkeypatch.setenv("NEWSLETTER_SMTP_EHLO_NAME", "utskick.example.se")
        get_settings.cache_clear()
        second = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        assert (await campaign_deliveries(session, second.id))[
            world.ids[0]
        ].status == DeliveryStatus.SENT
        assert fault_smtp.ehlo_names[-1] == "utskick.example.se"

    async def test_body_8bitmime_only_when_offered(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        assert "BODY=8BITMIME" in fault_smtp.mail_options[0]

        fault_smtp.offer_8bitmime = False
        await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        assert "BODY=8BITMIME" not in fault_smtp.mail_options[1]


class TestRelayOverride:
    """Where and how a federation's own relay is reached, from what its settings leave open."""

    GLOBAL = Relay("127.0.0.1", 2525, SmtpSecurity.NONE, None, None, 10.0)

    @pytest.mark.parametrize(
        ("host", "security", "port", "expected"),
        [
            # Security unset: cleartext only to loopback, STARTTLS to anything else.
            ("localhost", None, None, (SmtpSecurity.NONE, 25)),
            ("smtp.forbundet.example.se", None, None, (SmtpSecurity.STARTTLS, 587)),
            # "none" to a remote host is never cleartext.
            ("smtp.forbundet.example.se", "none", None, (SmtpSecurity.STARTTLS, 587)),
            ("smtp.forbundet.example.se", "tls", None, (SmtpSecurity.TLS, 465)),
            ("smtp.forbundet.example.se", "starttls", 2587, (SmtpSecurity.STARTTLS, 2587)),
        ],
    )
    def test_security_and_port_follow_from_the_host(
        self,
        host: str,
        security: str | None,
        port: int | None,
        expected: tuple[SmtpSecurity, int],
    ) -> None:
        relay = self.GLOBAL.with_override(
            host=host, port=port, security=security, username="sf", password="hemligt"
        )
        assert (relay.host, relay.security, relay.port) == (host, *expected)
        assert (relay.username, relay.password) == ("sf", "hemligt")

    def test_no_host_is_the_installations_relay(self) -> None:
        relay = self.GLOBAL.with_override(
            host=None, port=587, security="tls", username="sf", password="hemligt"
        )
        assert relay is self.GLOBAL
