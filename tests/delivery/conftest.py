"""Fixtures for the delivery engine: a fault-injecting SMTP server and a small federation."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.clock import now
from app.config import get_settings
from app.federations.models import Federation
from app.subscribers.models import Subscriber, SubscriptionStatus
from tests.conftest import free_port


class FaultHandler:
    """Answers per recipient from a script of actions, one per attempt, then accepts.

    Actions: "rcpt:<reply>" answers RCPT, "data:<reply>" answers after the data,
    "drop" closes the connection during DATA, "hang:<seconds>" stays silent after the
    final dot (the message is kept: the relay did take it, the client cannot know)."""

    def __init__(self) -> None:
        self.script: dict[str, deque[str]] = defaultdict(deque)
        self.delivered: Counter[str] = Counter()
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.attempts: Counter[str] = Counter()

    def fail(self, address: str, *actions: str) -> None:
        self.script[address].extend(actions)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.attempts[address] += 1
        action = self.script[address].popleft() if self.script[address] else "ok"
        envelope.fault = action
        if action.startswith("rcpt:"):
            return action[5:]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        action = getattr(envelope, "fault", "ok")
        if action == "drop":
            server.transport.close()
            return "451 4.3.0 gone"
        if action.startswith("data:"):
            return action[5:]
        if action.startswith("hang:"):
            await asyncio.sleep(float(action[5:]))
        for rcpt in envelope.rcpt_tos:
            self.delivered[rcpt] += 1
        self.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return f"250 2.0.0 Ok: queued as Q{len(self.raw)}"


@pytest.fixture
def fault_smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultHandler]:
    handler = FaultHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", str(port))
    monkeypatch.setenv("NEWSLETTER_SMTP_TIMEOUT", "1")
    monkeypatch.setenv("NEWSLETTER_SMTP_MAX_CONNECTIONS", "4")
    get_settings.cache_clear()
    try:
        yield handler
    finally:
        controller.stop()
        get_settings.cache_clear()


@dataclass
class World:
    federation: Federation
    subscribers: list[Subscriber] = field(default_factory=list)
    # Plain copies: the ORM objects expire when tests re-read the database.
    ids: list[int] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    def address(self, i: int) -> str:
        return self.emails[i]


async def make_federation(session: AsyncSession, slug: str = "norr") -> Federation:
    fed = Federation(
        slug=slug,
        name=f"Samordningsförbundet {slug.title()}",
        from_email=f"info@{slug}.example.se",
        from_name=f"Samordningsförbundet {slug.title()}",
        postal_address="Storgatan 1, 901 00 Umeå",
    )
    session.add(fed)
    await session.flush()
    return fed


async def make_world(session: AsyncSession, n: int = 5, slug: str = "norr") -> World:
    fed = await make_federation(session, slug)
    world = World(fed)
    for i in range(n):
        sub = Subscriber(
            federation_id=fed.id,
            email=f"person{i}@{slug}-mottagare.example.se",
            name=f"Person {i}",
            status=SubscriptionStatus.CONFIRMED,
            confirmed_at=now(),
        )
        session.add(sub)
        world.subscribers.append(sub)
    await session.flush()
    world.ids = [s.id for s in world.subscribers]
    world.emails = [s.email for s in world.subscribers]
    return world


async def make_campaign(
    session: AsyncSession,
    federation: Federation,
    *,
    status: CampaignStatus = CampaignStatus.SCHEDULED,
) -> Campaign:
    campaign = Campaign(
        federation_id=federation.id,
        subject="Glad midsommar!",
        theme=Theme.SOMMAR,
        body_markdown="Vi önskar er alla en skön sommar med tid för vila.",
        status=status,
        send_at=now() - timedelta(minutes=1),
    )
    session.add(campaign)
    await session.flush()
    return campaign


@dataclass(frozen=True)
class Factories:
    """The factories above, for test modules that take them by fixture injection."""

    world: Any = make_world
    federation: Any = make_federation
    campaign: Any = make_campaign


@pytest.fixture
def factories() -> Factories:
    return Factories()


@dataclass
class SecondRelay:
    handler: FaultHandler
    port: int


@pytest.fixture
def second_relay() -> Iterator[SecondRelay]:
    """Another loopback SMTP server, not the global relay: a federation's own relay."""
    handler = FaultHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SecondRelay(handler, port)
    finally:
        controller.stop()
