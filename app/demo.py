"""Idempotent demo data: two fictional federations, a demo staff key, a few confirmed
subscribers (with consent evidence) and a draft greeting for each federation."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, Theme
from app.campaigns.samples import SAMPLES, sample_markdown
from app.campaigns.schemas import CampaignCreate
from app.clock import now
from app.config import get_settings
from app.federations import service as federation_service
from app.federations.models import ApiKey, Federation
from app.security import sha256_hex
from app.subscribers import consent, tokens
from app.subscribers.models import ConsentEvent, Subscriber, SubscriptionStatus

DEMO_FEDERATIONS: list[dict[str, Any]] = [
    {
        "slug": "norra-alvdalen",
        "name": "Samordningsförbundet Norra Älvdalen",
        "from_email": "nyhetsbrev@norra-alvdalen.example.se",
        "from_name": "Samordningsförbundet Norra Älvdalen",
        "reply_to": "kansliet@norra-alvdalen.example.se",
        "contact_email": "kansliet@norra-alvdalen.example.se",
        "postal_address": "Samordningsförbundet Norra Älvdalen\nStorgatan 12\n796 30 Älvdalen",
        "website_url": "https://norra-alvdalen.example.se",
        "logo": "alvdalen.png",
        "brand_color": "#1d5c63",
        "accent_color": "#f2c14e",
        "frame_ancestors": ["https://norra-alvdalen.example.se"],
        "draft_theme": "jul",
    },
    {
        "slug": "sjobygden",
        "name": "Samordningsförbundet Sjöbygden",
        "from_email": "nyhetsbrev@sjobygden.example.se",
        "from_name": "Samordningsförbundet Sjöbygden",
        "reply_to": "info@sjobygden.example.se",
        "contact_email": "info@sjobygden.example.se",
        "postal_address": "Samordningsförbundet Sjöbygden\nHamngatan 4\n541 30 Skövde",
        "website_url": "https://sjobygden.example.se",
        "logo": "sjobygden.png",
        "brand_color": "#6a2c70",
        "accent_color": "#f08a5d",
        "frame_ancestors": [],
        "draft_theme": "sommar",
    },
]

# Fictional people at example addresses (RFC 2606): in dev mode the mail catcher gets it all.
DEMO_SUBSCRIBERS = [
    ("karin.lind@example.se", "Karin Lind"),
    ("ahmed.yusuf@example.se", "Ahmed Yusuf"),
    ("maja.ostberg@example.se", "Maja Östberg"),
]


@dataclass
class DemoResult:
    federations: list[str]
    api_key: str


def demo_api_key() -> str:
    """The demo staff key is derived from SECRET_KEY so every `make run` prints the same one."""
    digest = hmac.new(get_settings().secret_key.encode(), b"demo-admin-key", hashlib.sha256)
    return "nb_demo_" + digest.hexdigest()[:40]


async def load_demo(session: AsyncSession) -> DemoResult:
    """Create what is missing; never duplicates or overwrites."""
    base = get_settings().base_url
    slugs = []
    for spec in DEMO_FEDERATIONS:
        data = dict(spec)
        logo = data.pop("logo")
        theme = data.pop("draft_theme")
        federation = await federation_service.find_federation(session, slug=str(data["slug"]))
        if federation is None:
            federation = Federation(**data, logo_url=f"{base}/static/demo/{logo}")
            session.add(federation)
            await session.flush()
            await _add_subscribers(session, federation)
            await _add_draft(session, federation, theme)
        slugs.append(data["slug"])
    key = demo_api_key()
    key_hash = sha256_hex(key)
    if await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash)) is None:
        session.add(
            ApiKey(federation_id=None, name="demo (admin)", prefix=key[:12], key_hash=key_hash)
        )
    await session.flush()
    return DemoResult(federations=slugs, api_key=key)


async def _add_subscribers(session: AsyncSession, federation: Federation) -> None:
    origin = consent.Origin(method="demo", source_page=None)
    for email, name in DEMO_SUBSCRIBERS:
        subscriber = Subscriber(
            federation_id=federation.id,
            email=email,
            name=name,
            status=SubscriptionStatus.CONFIRMED,
            confirmed_at=now(),
        )
        session.add(subscriber)
        await session.flush()
        consent.record(
            session,
            federation_id=federation.id,
            subscriber_id=subscriber.id,
            event=ConsentEvent.STAFF_CONFIRMED,
            origin=origin,
            note="Demodata: påhittad prenumerant för utveckling.",
        )
        await tokens.issue_unsubscribe_token(session, subscriber=subscriber)


async def _add_draft(session: AsyncSession, federation: Federation, theme: str) -> Campaign:
    sample = SAMPLES[theme]
    data = CampaignCreate(
        subject=sample.subject,
        preheader=sample.preheader,
        theme=Theme(theme),
        body_markdown=sample_markdown(theme, get_settings().base_url),
    )
    return await campaigns_service.create_campaign(
        session, federation=federation, data=data, actor=Actor.system("newsletter demo")
    )
