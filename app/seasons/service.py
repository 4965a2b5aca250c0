"""Seasonal rules: keep them, and on the right day make the draft and tell its owners."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.campaigns import service as campaigns_service
from app.campaigns.schemas import CampaignCreate
from app.clock import now
from app.config import get_settings
from app.db import session_scope
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryKind
from app.errors import AppError, NotFound, Unprocessable
from app.federations import service as federation_service
from app.federations.models import Federation
from app.rendering import transactional
from app.seasons import repository
from app.seasons.dates import fire_date
from app.seasons.models import SeasonalRule
from app.seasons.schemas import SeasonalRuleCreate
from app.security import dkim_key

log = logging.getLogger(__name__)
STARTERS = Path(__file__).resolve().parent / "starters"
# Who the audit log names for the drafts the worker (or `newsletter seasons run`) makes.
SEASONS_ACTOR = Actor.system("säsongsutkast")
# A runner that was down catches up for three weeks; a summer letter never turns up in autumn.
CATCH_UP = timedelta(days=21)


@dataclass(frozen=True)
class CreatedDraft:
    federation_slug: str
    rule_id: int
    campaign_id: int


def rule_fire_date(rule: SeasonalRule, year: int) -> date:
    return fire_date(
        rule.anchor,
        year,
        month=rule.anchor_month,
        day=rule.anchor_day,
        days_before=rule.days_before,
        weekday_only=rule.weekday_only,
    )


def next_date(rule: SeasonalRule, today: date) -> date:
    """The next day this rule makes a draft (this year's, unless done or past)."""
    this_year = rule_fire_date(rule, today.year)
    done = rule.last_created_year is not None and rule.last_created_year >= today.year
    if not done and today <= this_year + CATCH_UP:
        return max(this_year, today)
    return rule_fire_date(rule, today.year + 1)


def zone_name(federation: Federation) -> str:
    """The federation's own time zone, else the installation's (TIMEZONE)."""
    return federation.timezone or get_settings().timezone


def _zone(federation: Federation) -> ZoneInfo:
    return ZoneInfo(zone_name(federation))


def local_today(federation: Federation, at: datetime) -> date:
    return at.astimezone(_zone(federation)).date()


async def create_rule(
    session: AsyncSession, *, federation: Federation, data: SeasonalRuleCreate, actor: Actor
) -> SeasonalRule:
    values = data.model_dump()
    values["notify_emails"] = [str(e) for e in data.notify_emails]
    rule = await repository.add(session, SeasonalRule(federation_id=federation.id, **values))
    await _audit(session, actor, rule, "lade till säsongsregeln")
    return rule


async def list_rules(session: AsyncSession, *, federation_id: int) -> Sequence[SeasonalRule]:
    return await repository.list_for_federation(session, federation_id=federation_id)


async def delete_rule(
    session: AsyncSession, *, federation_id: int, rule_id: int, actor: Actor
) -> None:
    rule = await repository.get(session, federation_id=federation_id, rule_id=rule_id)
    if rule is None:
        raise NotFound("Seasonal rule not found.")
    await _audit(session, actor, rule, "tog bort säsongsregeln")
    await repository.delete(session, rule)


async def _audit(session: AsyncSession, actor: Actor, rule: SeasonalRule, what: str) -> None:
    # The year plan is part of the federation's settings; the owners' addresses stay out.
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SETTINGS_CHANGED,
        federation_id=rule.federation_id,
        target_type="seasonal_rule",
        target_id=rule.id,
        summary=f"{what} {rule.name!r}",
    )


async def _draft_from(
    session: AsyncSession, *, rule: SeasonalRule, federation: Federation, year: int
) -> CampaignCreate:
    """Last year's letter of the theme if there is one, else the theme's starter text."""
    start = datetime(year, 1, 1, tzinfo=_zone(federation))
    previous = await repository.previous_letter(
        session, federation_id=federation.id, theme=rule.theme, before=start
    )
    if previous is not None:
        return CampaignCreate(
            subject=previous.subject,
            preheader=previous.preheader,
            theme=rule.theme,
            body_markdown=previous.body_markdown,
            header_image_id=previous.header_image_id,
            sign_off=previous.sign_off,
            signature_name=previous.signature_name,
            signature_title=previous.signature_title,
            signature_image_id=previous.signature_image_id,
        )
    return CampaignCreate(
        subject=f"{rule.name} {year}",
        preheader="",
        theme=rule.theme,
        body_markdown=(STARTERS / f"{rule.theme}.md").read_text(encoding="utf-8"),
    )


async def _fire(
    session: AsyncSession, *, rule: SeasonalRule, federation: Federation, year: int
) -> int | None:
    if not await repository.claim(session, rule_id=rule.id, year=year):
        return None
    data = await _draft_from(session, rule=rule, federation=federation, year=year)
    campaign = await campaigns_service.create_campaign(
        session, federation=federation, data=data, actor=SEASONS_ACTOR
    )
    rule.last_created_year = year
    rule.last_campaign_id = campaign.id
    if rule.notify_emails:
        # Each owner gets a short notice with a link to the draft, through the outbox.
        await delivery_service.enqueue_draft_notices(
            session,
            federation_id=federation.id,
            campaign_id=campaign.id,
            addresses=rule.notify_emails,
        )
    await session.flush()
    return campaign.id


def draft_link(campaign_id: int) -> str:
    return f"{get_settings().base_url}/redaktion/utskick/{campaign_id}"


async def build_draft_notice_mail(
    session: AsyncSession, *, delivery: Delivery
) -> tuple[str, bytes]:
    """(recipient, RFC 5322 bytes) for "Ett utkast till … väntar på dig"; NotFound when the
    draft is gone (the dispatcher then gives the row up)."""
    if (
        delivery.kind != DeliveryKind.DRAFT_NOTICE
        or delivery.to_address is None
        or delivery.campaign_id is None
    ):
        raise Unprocessable(f"not a draft notice: {delivery.kind}")
    federation = await federation_service.get_federation_by_id(
        session, federation_id=delivery.federation_id
    )
    campaign = await campaigns_service.get_campaign(
        session, federation_id=federation.id, campaign_id=delivery.campaign_id
    )
    message = transactional.staff_message(
        transactional.MailKind.DRAFT_NOTICE,
        federation,
        to=delivery.to_address,
        at=now(),
        base_url=get_settings().base_url,
        link=draft_link(campaign.id),
        dkim=dkim_key(federation.from_email.rpartition("@")[2]),
        title=campaign.subject,
    )
    return delivery.to_address, message


async def run_due_rules(session: AsyncSession, *, at: datetime | None = None) -> list[CreatedDraft]:
    """Make this year's draft for every rule whose day has come; running twice makes nothing
    twice. Each rule is its own savepoint, so one broken rule does not stop the others."""
    at = at or now()
    created: list[CreatedDraft] = []
    for rule, federation in await repository.pending(session, year=at.year + 1):
        today = local_today(federation, at)
        if rule.last_created_year is not None and rule.last_created_year >= today.year:
            continue
        day = rule_fire_date(rule, today.year)
        if not day <= today <= day + CATCH_UP:
            continue
        try:
            async with session.begin_nested():
                campaign_id = await _fire(
                    session, rule=rule, federation=federation, year=today.year
                )
        except AppError:
            log.exception("seasonal rule %s of %s failed", rule.id, federation.slug)
            continue
        if campaign_id is not None:
            created.append(CreatedDraft(federation.slug, rule.id, campaign_id))
    return created


async def run_loop(stop: asyncio.Event, interval: float = 3600.0) -> None:
    """Check the rules every `interval` seconds until stopped (run by the worker)."""
    while not stop.is_set():
        try:
            async with session_scope() as session:
                for draft in await run_due_rules(session):
                    log.info(
                        "seasonal draft %s made for %s", draft.campaign_id, draft.federation_slug
                    )
        except Exception:
            log.exception("seasonal rules failed; retrying in %s s", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
