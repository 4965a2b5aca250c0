"""Campaign use cases: write drafts, preview and test them, schedule, cancel, prepare sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app import messages
from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.campaigns import repository
from app.campaigns.feed import FeedEntry, build_feed
from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.campaigns.samples import SAMPLES, sample_markdown
from app.campaigns.schemas import BOUNCED, CampaignCreate, CampaignUpdate, DeliveryFilter
from app.clock import now
from app.config import get_settings
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryStatus
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.federations import service as federation_service
from app.federations.models import Federation
from app.images import service as images_service
from app.pagination import decode_cursor, encode_cursor
from app.rendering.mail import (
    SAMPLE_NAME,
    SAMPLE_TOKEN,
    CampaignContent,
    Closing,
    MailIdentity,
    MailOptions,
    PreparedCampaign,
    RenderError,
    archive_url,
    body_warnings,
    letter_body,
    prepare_campaign,
    render_web_version,
)
from app.rendering.markdown import MarkdownWarning
from app.rendering.themes import get_theme
from app.security import constant_time_equal, dkim_key, preview_signature

# Names the cursor of the deliveries list (a cursor of another list is refused).
DELIVERIES_CURSOR = "deliveries"
# The query parameter of a test send's signed preview link.
PREVIEW_PARAMETER = "forhandsvisning"
# Gmail clips a message near 102 KB and hides what follows, the unsubscribe link included.
MAX_HTML_BYTES = 90_000
# How long the editor's unsaved text stays previewable (the frame loads it within a second).
PREVIEW_DRAFT_LIFETIME = timedelta(minutes=30)
IMAGE_FIELDS = {"header_image_id", "signature_image_id"}
# Null on these means "the default"; the other fields cannot be emptied.
NULLABLE = {"sign_off", "signature_name", "signature_title"}
# Fields that do not change the letter, so they may change after it is sent.
ANY_TIME = {"publish_in_archive"}
CANCELLABLE = {
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
}


def branding(federation: Federation) -> MailIdentity:
    return MailIdentity(
        slug=federation.slug,
        name=federation.name,
        from_email=federation.from_email,
        from_name=federation.from_name,
        reply_to=federation.reply_to,
        postal_address=federation.postal_address or "",
        contact_email=federation.contact_email,
        website_url=federation.website_url,
        logo_url=federation.logo_url,
        brand_color=federation.brand_color,
        accent_color=federation.accent_color,
        timezone=federation.timezone or "Europe/Stockholm",
    )


async def content(
    session: AsyncSession, *, campaign: Campaign, federation: Federation, test: bool = False
) -> CampaignContent:
    """What the renderer needs, with the header photo and uploaded images' widths looked up;
    a staff test send says so in the subject."""
    subject = f"{messages.TEST_SUBJECT_PREFIX} {campaign.subject}" if test else campaign.subject
    return CampaignContent(
        id=campaign.id,
        subject=subject,
        preheader=campaign.preheader,
        theme=str(campaign.theme),
        body_markdown=campaign.body_markdown,
        header_image=await images_service.header_image(
            session, federation=federation, image_id=campaign.header_image_id
        ),
        image_widths=await images_service.widths_in(
            session, federation=federation, markdown=campaign.body_markdown
        ),
        closing=await _closing(session, campaign=campaign, federation=federation),
    )


def _or(value: str | None, default: str) -> str:
    return default if value is None else value


async def _closing(session: AsyncSession, *, campaign: Campaign, federation: Federation) -> Closing:
    """The campaign's own closing where set, else the federation's, else the theme's line."""
    theme_line = get_theme(str(campaign.theme)).sign_off
    name = _or(campaign.signature_name, federation.default_signature_name or "")
    return Closing(
        sign_off=_or(campaign.sign_off, _or(federation.default_sign_off, theme_line)),
        name=name,
        title=_or(campaign.signature_title, federation.default_signature_title or "")
        if name
        else "",
        portrait=await images_service.header_image(
            session, federation=federation, image_id=campaign.signature_image_id
        ),
    )


def mail_options(from_domain: str) -> MailOptions:
    settings = get_settings()
    return MailOptions(
        base_url=settings.base_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        dkim=dkim_key(from_domain),
    )


def preview_url(federation: Federation, campaign_id: int) -> str:
    """The signed link that opens a campaign in the browser before it is sent."""
    url = archive_url(get_settings().base_url, federation.slug, campaign_id)
    return f"{url}?{PREVIEW_PARAMETER}={preview_signature(campaign_id)}"


async def _prepare(
    session: AsyncSession, campaign: Campaign, federation: Federation, *, test: bool = False
) -> PreparedCampaign:
    from_domain = federation.from_email.rpartition("@")[2].lower()
    letter = await content(session, campaign=campaign, federation=federation, test=test)
    if test:
        # An unsent campaign is not in the archive: the test links to a signed preview.
        letter = replace(letter, web_url=preview_url(federation, campaign.id))
    try:
        prepared = prepare_campaign(letter, branding(federation), mail_options(from_domain))
    except RenderError as exc:
        raise Unprocessable(str(exc)) from None
    if prepared.html_size > MAX_HTML_BYTES:
        raise Unprocessable(
            f"The HTML part is {prepared.html_size} bytes; keep it under {MAX_HTML_BYTES} "
            "(Gmail clips longer mail and hides the unsubscribe link)."
        )
    return prepared


async def _get(
    session: AsyncSession, *, federation_id: int, campaign_id: int, lock: bool = False
) -> Campaign:
    """The campaign or NotFound; `lock` in every change that checks the campaign's state or
    adds rows that refer to it, so that concurrent changes take turns (app.db.lock_for_change).
    requeue_unknown takes it only after changing the deliveries, in the order the dispatcher's
    rounds lock them: a lock on the campaign first could deadlock with one."""
    campaign = await repository.get(
        session, federation_id=federation_id, campaign_id=campaign_id, lock=lock
    )
    if campaign is None:
        raise NotFound("Campaign not found.")
    return campaign


async def _federation(session: AsyncSession, *, federation_id: int) -> Federation:
    federation = await federation_service.find_federation_by_id(session, federation_id)
    if federation is None:
        raise NotFound("Federation not found.")
    return federation


async def _require_image(
    session: AsyncSession, *, federation_id: int, image_id: int | None, field: str
) -> None:
    """A header photo or portrait must be one of the federation's own uploads."""
    if image_id is None:
        return
    try:
        await images_service.get_image(session, federation_id=federation_id, image_id=image_id)
    except NotFound:
        raise Unprocessable(
            f"{field} is not one of this federation's images.", details={"field": field}
        ) from None


def _require_draft(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(
            f"The campaign is {campaign.status}; only drafts can be changed.",
            details={"status": str(campaign.status)},
        )


async def prepare_for_sending(
    session: AsyncSession, *, federation_id: int, campaign_id: int, test: bool = False
) -> PreparedCampaign:
    """Render a campaign once for sending (or for a staff test send); `render()` then gives
    each recipient's bytes."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id)
    federation = await _federation(session, federation_id=federation_id)
    return await _prepare(session, campaign, federation, test=test)


async def create_campaign(
    session: AsyncSession,
    *,
    federation: Federation,
    data: CampaignCreate,
    actor: Actor,
    extra: str = "",
) -> Campaign:
    """Save a new draft; it must render (a line too long for mail is refused here)."""
    for field in IMAGE_FIELDS:
        await _require_image(
            session, federation_id=federation.id, image_id=getattr(data, field), field=field
        )
    values = data.model_dump()
    if values["publish_in_archive"] is None:
        values["publish_in_archive"] = federation.publish_in_archive_default
    campaign = Campaign(
        federation_id=federation.id,
        status=CampaignStatus.DRAFT,
        version=1,
        created_by_user_id=actor.user_id,
        edited_by_user_id=actor.user_id,
        **values,
    )
    await repository.add(session, campaign)
    await _prepare(session, campaign, federation)
    await _audit(session, actor, AuditAction.CAMPAIGN_CREATED, campaign, extra)
    return campaign


async def create_from_theme(
    session: AsyncSession, *, federation: Federation, theme: Theme, actor: Actor
) -> Campaign:
    """A new draft that starts from the theme's sample letter, ready to be rewritten."""
    sample = SAMPLES[theme]
    data = CampaignCreate(
        subject=sample.subject,
        preheader=sample.preheader,
        theme=theme,
        # The sample's illustrations live under this install's /static/demo/photos/.
        body_markdown=sample_markdown(theme, get_settings().base_url),
    )
    return await create_campaign(session, federation=federation, data=data, actor=actor)


async def _audit(
    session: AsyncSession, actor: Actor, action: AuditAction, campaign: Campaign, extra: str = ""
) -> None:
    summary = f"{campaign.subject!r} (version {campaign.version}){extra}"
    await audit_service.record(
        session,
        actor=actor,
        action=action,
        federation_id=campaign.federation_id,
        target_type="campaign",
        target_id=campaign.id,
        summary=summary,
    )


async def list_campaigns(session: AsyncSession, *, federation_id: int) -> Sequence[Campaign]:
    return await repository.list_for_federation(session, federation_id=federation_id)


async def get_campaign(session: AsyncSession, *, federation_id: int, campaign_id: int) -> Campaign:
    return await _get(session, federation_id=federation_id, campaign_id=campaign_id)


async def update_campaign(
    session: AsyncSession,
    *,
    federation: Federation,
    campaign_id: int,
    data: CampaignUpdate,
    actor: Actor,
) -> Campaign:
    """Change a draft; whether a letter shows in the archive may change at any time. Any real
    change to the letter is a new version, which withdraws an approval."""
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id, lock=True)
    changed = await _apply(session, federation=federation, campaign=campaign, data=data)
    await _prepare(session, campaign, federation)
    if not changed:
        return campaign
    withdrawn = False
    if changed - ANY_TIME:
        withdrawn = campaign.approved_version is not None
        campaign.version += 1
        campaign.approved_version = None
        campaign.approved_by_user_id = None
        campaign.approved_at = None
        campaign.edited_by_user_id = actor.user_id
    campaign.updated_at = now()
    await session.flush()
    await _audit(
        session,
        actor,
        AuditAction.CAMPAIGN_EDITED,
        campaign,
        "; godkännandet återkallades" if withdrawn else "",
    )
    return campaign


async def _apply(
    session: AsyncSession, *, federation: Federation, campaign: Campaign, data: CampaignUpdate
) -> set[str]:
    """Check the changes and set them on `campaign`; the fields that changed."""
    changes = data.model_dump(exclude_unset=True)
    if changes.keys() - ANY_TIME:
        _require_draft(campaign)
    changed: set[str] = set()
    for field, value in changes.items():
        if field in IMAGE_FIELDS:
            await _require_image(session, federation_id=federation.id, image_id=value, field=field)
        elif value is None and field not in NULLABLE:
            raise Unprocessable(f"{field} cannot be null.", details={"field": field})
        if getattr(campaign, field) != value:
            setattr(campaign, field, value)
            changed.add(field)
    return changed


async def _unsaved(
    session: AsyncSession, *, federation: Federation, campaign: Campaign, data: CampaignUpdate
) -> Campaign:
    """A copy of the campaign with the changes applied, never added to the session (so
    nothing of it is written), checked like a save."""
    columns = Campaign.__table__.c
    copy = Campaign(**{column.key: getattr(campaign, column.key) for column in columns})
    await _apply(session, federation=federation, campaign=copy, data=data)
    return copy


def closing_defaults(federation: Federation, theme: Theme) -> tuple[str, str, str]:
    """(sign-off, signature name, title) a campaign gets when it sets none of its own."""
    return (
        _or(federation.default_sign_off, get_theme(str(theme)).sign_off),
        federation.default_signature_name or "",
        federation.default_signature_title or "",
    )


async def approve_campaign(
    session: AsyncSession, *, federation: Federation, campaign_id: int, version: int, actor: Actor
) -> Campaign:
    """Approve the version the approver saw (four eyes). Only a person, and not one who wrote
    or last edited it; a version that changed meanwhile is refused."""
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id, lock=True)
    _require_draft(campaign)
    if actor.user_id is None:
        raise Forbidden("Only a person can approve a campaign.")
    if actor.user_id in (campaign.created_by_user_id, campaign.edited_by_user_id):
        raise Conflict(messages.APPROVAL_BY_AUTHOR, details={"code": "own_campaign"})
    if version != campaign.version:
        raise Conflict(messages.APPROVAL_STALE, details={"version": campaign.version})
    await _prepare(session, campaign, federation)
    campaign.approved_version = campaign.version
    campaign.approved_by_user_id = actor.user_id
    campaign.approved_at = now()
    await session.flush()
    await _audit(session, actor, AuditAction.CAMPAIGN_APPROVED, campaign)
    return campaign


def needs_approval(federation: Federation, campaign: Campaign) -> bool:
    """True while four eyes are required and this exact version is not approved."""
    return federation.four_eyes and campaign.approved_version != campaign.version


async def delete_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int, actor: Actor
) -> None:
    """Delete a draft (the audit row keeps its subject and id)."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id, lock=True)
    _require_draft(campaign)
    await _audit(session, actor, AuditAction.CAMPAIGN_DELETED, campaign)
    await repository.delete(session, campaign)


async def warnings(
    session: AsyncSession, *, federation: Federation, campaign: Campaign
) -> list[MarkdownWarning]:
    """What the author should fix in the campaign's Markdown, with line numbers."""
    letter = await content(session, campaign=campaign, federation=federation)
    return body_warnings(letter, branding(federation))


async def preview_campaign(
    session: AsyncSession, *, federation: Federation, campaign_id: int
) -> tuple[str, str, list[MarkdownWarning]]:
    """(text, html, warnings): the mail exactly as sent, for the sample subscriber."""
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id)
    prepared = await _prepare(session, campaign, federation)
    text, html = prepared.render_parts(name=SAMPLE_NAME, unsubscribe_token=SAMPLE_TOKEN)
    return text, html, await warnings(session, federation=federation, campaign=campaign)


async def store_preview_draft(
    session: AsyncSession,
    *,
    federation: Federation,
    campaign_id: int,
    staff_session_id: int,
    data: CampaignUpdate,
) -> tuple[int, list[MarkdownWarning]]:
    """Keep the editor's unsaved fields briefly for the preview frame: (draft id, warnings).

    Refused as a save would be (not a draft, not the federation's image, does not render),
    but nothing of the campaign changes: no new version, no audit entry."""
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id, lock=True)
    unsaved = await _unsaved(session, federation=federation, campaign=campaign, data=data)
    await _prepare(session, unsaved, federation)
    at = now()
    draft_id = await repository.put_preview_draft(
        session,
        staff_session_id=staff_session_id,
        campaign_id=campaign.id,
        fields=data.model_dump(mode="json", exclude_unset=True),
        expires_at=at + PREVIEW_DRAFT_LIFETIME,
        now=at,
    )
    return draft_id, await warnings(session, federation=federation, campaign=unsaved)


async def preview_draft(
    session: AsyncSession,
    *,
    federation: Federation,
    campaign_id: int,
    staff_session_id: int,
    draft_id: int,
) -> str:
    """The HTML of a stored unsaved draft, rendered as sending would; another browser's,
    an expired one or another federation's: NotFound."""
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id)
    fields = await repository.preview_draft(
        session,
        federation_id=federation.id,
        campaign_id=campaign.id,
        staff_session_id=staff_session_id,
        draft_id=draft_id,
        now=now(),
    )
    if fields is None:
        raise NotFound("The unsaved preview has expired; preview again.")
    data = CampaignUpdate.model_validate(fields)
    unsaved = await _unsaved(session, federation=federation, campaign=campaign, data=data)
    prepared = await _prepare(session, unsaved, federation)
    return prepared.render_parts(name=SAMPLE_NAME, unsubscribe_token=SAMPLE_TOKEN)[1]


async def send_test(
    session: AsyncSession,
    *,
    federation: Federation,
    campaign_id: int,
    addresses: Sequence[str],
    actor: Actor,
) -> list[Delivery]:
    """Queue the campaign to up to ten staff addresses (not counted in the statistics)."""
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id, lock=True)
    await _prepare(session, campaign, federation)
    unique = list(dict.fromkeys(a.strip() for a in addresses))
    deliveries = await delivery_service.enqueue_test(
        session, federation_id=federation.id, campaign_id=campaign.id, addresses=unique
    )
    # Staff addresses, not subscribers': the count is enough for the log.
    await _audit(
        session, actor, AuditAction.CAMPAIGN_TEST_SENT, campaign, f" till {len(unique)} adress(er)"
    )
    return deliveries


async def schedule_campaign(
    session: AsyncSession,
    *,
    federation: Federation,
    campaign_id: int,
    send_at: datetime,
    actor: Actor,
) -> Campaign:
    """Set a draft (or a scheduled campaign) to go out at `send_at`; the dispatcher sends.
    A time without an offset is the federation's wall-clock time."""
    send_at = _aware(send_at, federation)
    if send_at <= now():
        raise Unprocessable("send_at must be in the future.", details={"send_at": str(send_at)})
    return await _schedule(
        session, federation=federation, campaign_id=campaign_id, at=send_at, actor=actor
    )


def _aware(at: datetime, federation: Federation) -> datetime:
    if at.tzinfo is not None and at.utcoffset() is not None:
        return at
    zone = ZoneInfo(federation.timezone or "Europe/Stockholm")
    local = at.replace(tzinfo=zone)
    # A wall-clock time the spring change skips (02.30 on the last Sunday of March) does not
    # exist: refuse it rather than guess an hour.
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != at:
        raise Unprocessable(
            f"{at:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it).",
            details={"send_at": at.isoformat()},
        )
    return local


def _require_status(campaign: Campaign, status: CampaignStatus, verb: str) -> None:
    """Refuse a staff transition that only a campaign in `status` allows."""
    if campaign.status != status:
        raise Conflict(
            f"The campaign is {campaign.status}; only a {status} campaign can be {verb}.",
            details={"status": str(campaign.status)},
        )


async def unschedule_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int, actor: Actor
) -> Campaign:
    """Take a scheduled campaign back to draft; nothing is sent."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id, lock=True)
    _require_status(campaign, CampaignStatus.SCHEDULED, "unscheduled")
    campaign.status = CampaignStatus.DRAFT
    campaign.send_at = None
    campaign.updated_at = now()
    await session.flush()
    await _audit(session, actor, AuditAction.CAMPAIGN_UNSCHEDULED, campaign)
    return campaign


async def duplicate_campaign(
    session: AsyncSession, *, federation: Federation, campaign_id: int, actor: Actor
) -> Campaign:
    """A new draft with the same content as any campaign of the federation."""
    source = await _get(session, federation_id=federation.id, campaign_id=campaign_id)
    data = CampaignCreate.model_validate(
        {field: getattr(source, field) for field in CampaignCreate.model_fields}
    )
    # A new draft at version 1: an approval of the source does not carry over.
    return await create_campaign(
        session, federation=federation, data=data, actor=actor, extra=f", kopia av {source.id}"
    )


async def pause_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int, actor: Actor
) -> Campaign:
    """Stop a sending campaign after the mail already handed over; resume continues it."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id, lock=True)
    _require_status(campaign, CampaignStatus.SENDING, "paused")
    campaign.status = CampaignStatus.PAUSED
    campaign.paused_reason = messages.PAUSED_BY_STAFF
    campaign.updated_at = now()
    await session.flush()
    await _audit(session, actor, AuditAction.CAMPAIGN_PAUSED, campaign)
    return campaign


async def schedule_now(
    session: AsyncSession, *, federation: Federation, campaign_id: int, actor: Actor
) -> Campaign:
    """Schedule for the next dispatcher tick."""
    return await _schedule(
        session, federation=federation, campaign_id=campaign_id, at=now(), actor=actor
    )


async def _schedule(
    session: AsyncSession, *, federation: Federation, campaign_id: int, at: datetime, actor: Actor
) -> Campaign:
    campaign = await _get(session, federation_id=federation.id, campaign_id=campaign_id, lock=True)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise Conflict(
            f"The campaign is {campaign.status}; only drafts and scheduled campaigns can be "
            "scheduled.",
            details={"status": str(campaign.status)},
        )
    if needs_approval(federation, campaign):
        raise Conflict(messages.APPROVAL_NEEDED, details={"code": "approval_needed"})
    await _prepare(session, campaign, federation)
    if not await delivery_service.count_recipients(session, federation_id=federation.id):
        raise Conflict(
            messages.STAFF_ERRORS["no_recipients"],
            details={"code": "no_recipients", "recipients": 0},
        )
    campaign.status = CampaignStatus.SCHEDULED
    campaign.send_at = at.astimezone(UTC)
    # Sending now or at a new time is the staff's answer to a campaign held as overdue.
    campaign.paused_reason = None
    campaign.updated_at = now()
    await session.flush()
    await _audit(
        session, actor, AuditAction.CAMPAIGN_SCHEDULED, campaign, f" till {at.isoformat()}"
    )
    return campaign


async def cancel_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int, actor: Actor
) -> Campaign:
    """Stop a campaign; mail not yet handed to the relay is not sent."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id, lock=True)
    if campaign.status not in CANCELLABLE:
        raise Conflict(
            f"The campaign is {campaign.status} and cannot be cancelled.",
            details={"status": str(campaign.status)},
        )
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = now()
    campaign.updated_at = now()
    await session.flush()
    await _audit(session, actor, AuditAction.CAMPAIGN_CANCELLED, campaign)
    return campaign


async def resume_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int, actor: Actor
) -> Campaign:
    """Resume a campaign the dispatcher paused (the relay refused the sender, 5.7.x)."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id, lock=True)
    if campaign.status != CampaignStatus.PAUSED:
        raise Conflict(messages.CAMPAIGN_NOT_PAUSED)
    campaign.status = CampaignStatus.SENDING
    campaign.paused_reason = None
    await session.flush()
    await _audit(session, actor, AuditAction.CAMPAIGN_RESUMED, campaign)
    return campaign


async def requeue_unknown(
    session: AsyncSession, *, federation_id: int, campaign_id: int, actor: Actor
) -> int:
    """Send again the deliveries whose outcome is unknown, after staff have checked; a sent
    campaign with any such delivery is sending again.

    The campaign is read, locked, only after its deliveries are queued (the order in which the
    dispatcher's rounds lock them): a dispatcher that marked it sent meanwhile has committed by
    then, and one that comes later waits and sees the queued deliveries
    (app.delivery.repository.finish_campaigns). Another federation's campaign has no
    deliveries in this federation's scope, so its NotFound after them has changed nothing."""
    count = await delivery_service.requeue_unknown(
        session, federation_id=federation_id, campaign_id=campaign_id
    )
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id, lock=True)
    if count and campaign.status == CampaignStatus.SENT:
        campaign.status = CampaignStatus.SENDING
        campaign.finished_at = None
    await session.flush()
    await _audit(session, actor, AuditAction.CAMPAIGN_REQUEUED, campaign, f": {count} mejl")
    return count


async def campaign_stats(
    session: AsyncSession, *, federation_id: int, campaign_id: int
) -> tuple[Campaign, int, dict[str, int]]:
    """(campaign, recipients, deliveries per state), counted live."""
    campaign = await _get(session, federation_id=federation_id, campaign_id=campaign_id)
    counts = await repository.delivery_counts(
        session, federation_id=federation_id, campaign_id=campaign_id
    )
    full = {str(state): counts.get(str(state), 0) for state in DeliveryStatus}
    return campaign, sum(counts.values()), full


def is_public(campaign: Campaign) -> bool:
    return campaign.status in repository.ARCHIVED and campaign.publish_in_archive


def public_archive_url(federation: Federation, campaign: Campaign) -> str | None:
    if not is_public(campaign):
        return None
    return archive_url(get_settings().base_url, federation.slug, campaign.id)


async def archive_list(session: AsyncSession, *, federation: Federation) -> Sequence[Campaign]:
    """Sent campaigns for the public archive."""
    return await repository.archived(session, federation_id=federation.id)


async def web_version(
    session: AsyncSession, *, federation: Federation, campaign_id: int, preview: str | None = None
) -> str:
    """The non-personal HTML of a sent campaign, or of any campaign with the signed preview
    link of a test send; otherwise (or another federation's): NotFound."""
    campaign = await repository.get(session, federation_id=federation.id, campaign_id=campaign_id)
    previewed = preview is not None and constant_time_equal(preview, preview_signature(campaign_id))
    if campaign is None or (not is_public(campaign) and not previewed):
        raise NotFound()
    letter = await content(session, campaign=campaign, federation=federation)
    return render_web_version(letter, branding(federation), get_settings().base_url)


FEED_SIZE = 20


async def archive_feed(session: AsyncSession, *, federation: Federation) -> bytes:
    """The latest published letters as Atom: subject, preheader and the letter's text."""
    base = get_settings().base_url
    campaigns = list(await repository.archived(session, federation_id=federation.id))
    entries = []
    for campaign in campaigns[:FEED_SIZE]:
        letter = await content(session, campaign=campaign, federation=federation)
        entries.append(
            FeedEntry(
                campaign_id=campaign.id,
                title=campaign.subject,
                summary=campaign.preheader,
                url=archive_url(base, federation.slug, campaign.id),
                published=campaign.started_at or campaign.send_at or campaign.created_at,
                content_html=letter_body(letter, branding(federation)).html,
            )
        )
    return build_feed(
        base_url=base,
        slug=federation.slug,
        title=federation.name,
        archive_url=f"{base}/f/{federation.slug}/arkiv",
        feed_url=f"{base}/f/{federation.slug}/arkiv.atom",
        created=federation.created_at,
        updated=entries[0].published if entries else federation.created_at,
        entries=entries,
    )


async def public_federation(session: AsyncSession, *, slug: str) -> Federation:
    """A federation by slug for the public archive, or NotFound."""
    federation = await federation_service.find_federation(session, slug=slug)
    if federation is None:
        raise NotFound()
    return federation


async def campaign_outcomes(
    session: AsyncSession,
    *,
    federation_id: int,
    campaign_id: int,
    status: DeliveryStatus | None = None,
    before_id: int | None = None,
    limit: int = 100,
    bounced: bool = False,
) -> list[delivery_service.Outcome]:
    """The campaign's per-recipient outcomes (404 for another federation's campaign)."""
    await _get(session, federation_id=federation_id, campaign_id=campaign_id)
    return await delivery_service.campaign_outcomes(
        session,
        federation_id=federation_id,
        campaign_id=campaign_id,
        status=status,
        before_id=before_id,
        limit=limit,
        bounced=bounced,
    )


@dataclass(frozen=True)
class DeliveryPage:
    items: list[delivery_service.Outcome]
    next_cursor: str | None


async def list_deliveries(
    session: AsyncSession,
    *,
    federation_id: int,
    campaign_id: int,
    status: DeliveryFilter | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> DeliveryPage:
    """One page of the campaign's per-recipient outcomes, newest first, with a cursor."""
    before_id = decode_cursor(DELIVERIES_CURSOR, cursor) if cursor else None
    rows = await campaign_outcomes(
        session,
        federation_id=federation_id,
        campaign_id=campaign_id,
        status=status if isinstance(status, DeliveryStatus) else None,
        bounced=status == BOUNCED,
        before_id=before_id,
        limit=limit + 1,
    )
    items = rows[:limit]
    more = len(rows) > limit
    return DeliveryPage(
        items=items, next_cursor=encode_cursor(DELIVERIES_CURSOR, items[-1].id) if more else None
    )
