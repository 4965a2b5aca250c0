"""Consent: versioned privacy notices, the signed form stamp and append-only evidence rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.cache import Cache, clear_after_commit
from app.clock import now
from app.config import get_settings
from app.errors import Conflict
from app.federations.models import Federation
from app.security import sign, unsign
from app.subscribers import repository
from app.subscribers.models import ConsentEvent, ConsentRecord, PrivacyNotice
from app.web import TEMPLATE_DIR

# Plain-text templates (Markdown and the consent sentence): no HTML autoescape here, the
# Markdown renderer below has raw HTML switched off, so nothing in them becomes markup.
_texts = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str) -> str:
    """Privacy text (Markdown, raw HTML disabled) as HTML for the page."""
    return str(_markdown.render(text))


def default_notice_texts(federation: Federation) -> tuple[str, str]:
    """(consent sentence, privacy notice in Markdown) for a federation without its own."""
    settings = get_settings()
    context = {
        "federation": federation,
        "contact": federation.contact_email or federation.reply_to or federation.from_email,
        "store_ip": settings.store_ip_and_user_agent,
        "ip_days": settings.ip_retention_days,
        "unconfirmed_days": settings.unconfirmed_retention_days,
        "unsubscribed_days": federation.unsubscribed_retention_days
        or settings.unsubscribed_retention_days,
    }
    form_text = _texts.get_template("form_text_default.txt").render(context).strip()
    privacy = _texts.get_template("privacy_default.md").render(context).strip() + "\n"
    return form_text, privacy


# Notice rows never change (new versions are added), so a cached one is never wrong in itself;
# only which is newest can change, and that is seen within MAX_AGE_SECONDS. Version 1, created
# below on the first visit, is cached only once it can be read back (committed).
_current: Cache[PrivacyNotice | None] = Cache("current privacy notice", keep_none=False)


async def _cached_latest(session: AsyncSession, federation: Federation) -> PrivacyNotice | None:
    """The newest notice through the cache; None when the federation has none yet."""

    async def load() -> PrivacyNotice | None:
        latest = await repository.latest_privacy_notice(session, federation_id=federation.id)
        if latest is not None:
            session.expunge(latest)
        return latest

    return await _current.get(federation.id, load)


async def current_notice(session: AsyncSession, *, federation: Federation) -> PrivacyNotice:
    """The federation's newest privacy notice; version 1 is created from the default text."""
    notice = await _cached_latest(session, federation)
    if notice is not None:
        return notice
    form_text, privacy_text = default_notice_texts(federation)
    notice = PrivacyNotice(
        federation_id=federation.id,
        version=1,
        form_text=form_text,
        privacy_text=privacy_text,
        created_at=now(),
    )
    try:
        # Two first visitors at once both try to create version 1; the loser reads the winner's.
        async with session.begin_nested():
            session.add(notice)
    except IntegrityError:
        existing = await repository.latest_privacy_notice(session, federation_id=federation.id)
        if existing is None:
            raise
        return existing
    return notice


def cached_current_notice(federation: Federation) -> PrivacyNotice | None:
    """The notice current_notice would answer now, from the cache alone (None when cold)."""
    return _current.peek(federation.id)


class NoticeChanged(Conflict):
    code = "notice_changed"
    default_message = "Someone saved a new version at the same moment; reload and try again."


async def publish_notice(
    session: AsyncSession,
    *,
    federation: Federation,
    form_text: str,
    privacy_text: str,
    actor: Actor,
) -> PrivacyNotice:
    """Save the form wording and privacy notice as a new version. Earlier versions stay as
    they were shown: consent records point at the version the person saw."""
    current = await current_notice(session, federation=federation)
    notice = PrivacyNotice(
        federation_id=federation.id,
        version=current.version + 1,
        form_text=form_text,
        privacy_text=privacy_text,
        created_at=now(),
    )
    try:
        async with session.begin_nested():
            session.add(notice)
    except IntegrityError:
        raise NoticeChanged() from None
    clear_after_commit(session, _current)
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SETTINGS_CHANGED,
        federation_id=federation.id,
        target_type="privacy_notice",
        target_id=notice.id,
        summary=f"publicerade formulärtext och integritetstext, version {notice.version}",
    )
    return notice


async def list_notices(session: AsyncSession, *, federation: Federation) -> Sequence[PrivacyNotice]:
    await current_notice(session, federation=federation)
    return await repository.privacy_notices(session, federation_id=federation.id)


async def stamped_notice(
    session: AsyncSession, *, federation: Federation, notice_id: int
) -> PrivacyNotice | None:
    """The notice a form stamp names, if it is this federation's."""
    # Nearly every stamp names the current notice: read from the cache, not per sign-up.
    current = await _cached_latest(session, federation)
    if current is not None and current.id == notice_id:
        return current
    return await repository.get_privacy_notice(
        session, federation_id=federation.id, notice_id=notice_id
    )


@dataclass(frozen=True)
class Stamp:
    rendered_at: float
    privacy_notice_id: int


def make_stamp(notice: PrivacyNotice, *, at: float | None = None) -> str:
    """Signed "render time:privacy notice id", put in the form as a hidden field."""
    rendered = now().timestamp() if at is None else at
    return sign(f"{rendered:.3f}:{notice.id}")


def read_stamp(stamp: str) -> Stamp | None:
    """The stamp's content if it is genuine, plausibly slow and not too old; else None.

    Only implausibly fast posts (bots) and stale or forged stamps fail; a person who needs
    a long time to fill in the form is fine up to form_max_age_hours."""
    value = unsign(stamp or "")
    if value is None:
        return None
    try:
        rendered_text, _, notice_text = value.partition(":")
        rendered = float(rendered_text)
        notice_id = int(notice_text)
    except ValueError:
        return None
    settings = get_settings()
    age = now().timestamp() - rendered
    if age < settings.form_min_seconds or age > settings.form_max_age_hours * 3600:
        return None
    return Stamp(rendered_at=rendered, privacy_notice_id=notice_id)


@dataclass(frozen=True)
class Origin:
    """Where a consent event came from (the web edge fills this in)."""

    method: str
    source_page: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


def record(
    session: AsyncSession,
    *,
    federation_id: int,
    subscriber_id: int,
    event: ConsentEvent,
    origin: Origin,
    privacy_notice_id: int | None = None,
    note: str | None = None,
) -> ConsentRecord:
    """Append one consent record (never updated). IP and user agent only when configured."""
    keep_client = get_settings().store_ip_and_user_agent
    row = ConsentRecord(
        federation_id=federation_id,
        subscriber_id=subscriber_id,
        event=event,
        occurred_at=now(),
        method=origin.method[:32],
        source_page=(origin.source_page or None) and origin.source_page[:1000],
        privacy_notice_id=privacy_notice_id,
        ip_address=origin.ip_address[:64] if keep_client and origin.ip_address else None,
        user_agent=origin.user_agent[:500] if keep_client and origin.user_agent else None,
        note=note,
    )
    session.add(row)
    return row
