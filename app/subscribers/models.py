"""Tables: subscribers, tokens, consent_records, privacy_notices, suppressions, retention_runs,
import_jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string
from app.security import new_seed, token_from_seed, token_hash


class SubscriptionStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class BounceState(StrEnum):
    OK = "ok"
    SOFT = "soft"
    HARD = "hard"


class TokenPurpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    SELF_SERVICE = "self_service"


class ImportJobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ConsentEvent(StrEnum):
    SIGNUP = "signup"
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    IMPORT = "import"
    STAFF_CONFIRMED = "staff_confirmed"


def email_key(email: str) -> str:
    """What makes two spellings one mailbox: the address lower-cased. Local parts are
    case-sensitive on paper and case-insensitive at every provider that matters."""
    return email.lower()


def _email_key_default(context: Any) -> str:
    return email_key(context.get_current_parameters()["email"])


# A subscriber's name: the column, the staff API, the sign-up form and the CSV import.
NAME_LENGTH = 200


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("federation_id", "email"),
        # One mailbox is one subscriber per federation: the database refuses a second
        # spelling, also when eight of them arrive in the same instant.
        Index("uq_subscribers_federation_id_email_key", "federation_id", "email_key", unique=True),
        Index("ix_subscribers_federation_status", "federation_id", "status", "id"),
        # What the tokens' and consent records' (federation, subscriber) keys point at.
        Index("uq_subscribers_federation_id_id", "federation_id", "id", unique=True),
        enum_check("status", SubscriptionStatus),
        enum_check("bounce_state", BounceState),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(ForeignKey("federations.id", ondelete="CASCADE"))
    # Normalised: local part as given, domain lower-case A-labels (email_validator's ascii_email).
    email: Mapped[str] = mapped_column(String(254))
    # email_key(email), filled on every insert (Core and ORM); nullable only because SQLite
    # cannot add NOT NULL to an existing table without rebuilding it.
    email_key: Mapped[str | None] = mapped_column(String(254), default=_email_key_default)
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_string(SubscriptionStatus), default=SubscriptionStatus.PENDING
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    bounce_state: Mapped[BounceState] = mapped_column(enum_string(BounceState), default="ok")
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def same_federation_as_subscriber() -> ForeignKeyConstraint:
    """(federation_id, subscriber_id) → the subscriber with that id in that federation: a row
    can never name another federation's subscriber, and the federation exists because the
    subscriber does. One check per inserted row instead of two (federation, then subscriber):
    about a tenth of PostgreSQL's time in a 200,000-row import (bench/results-speed.md)."""
    return ForeignKeyConstraint(
        ["federation_id", "subscriber_id"],
        ["subscribers.federation_id", "subscribers.id"],
        ondelete="CASCADE",
    )


class Token(Base):
    """A single-purpose link token. Only its SHA-256 is stored; the raw token is
    HMAC(SECRET_KEY, seed), so the database alone cannot produce a working link."""

    __tablename__ = "tokens"
    __table_args__ = (enum_check("purpose", TokenPurpose), same_federation_as_subscriber())

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int] = mapped_column(Integer, index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(enum_string(TokenPurpose))
    seed: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def token_secret() -> tuple[str, str]:
    """A fresh token's seed and the hash stored for it: the one place a seed is drawn and its
    hash computed (token_row, and the import's set-based insert, which takes them as arrays)."""
    seed = new_seed()
    return seed, token_hash(token_from_seed(seed))


def token_row(
    *, federation_id: int, subscriber_id: int, purpose: TokenPurpose, expires_at: datetime | None
) -> dict[str, Any]:
    """The columns of a fresh token.

    Bulk writers insert the dict as it is; others build `Token(**token_row(...))`. It lives
    beside the table so the dispatcher can issue tokens without importing subscriber logic."""
    seed, digest = token_secret()
    return {
        "federation_id": federation_id,
        "subscriber_id": subscriber_id,
        "purpose": purpose,
        "seed": seed,
        "token_hash": digest,
        "created_at": now(),
        "expires_at": expires_at,
    }


class PrivacyNotice(Base):
    """A version of a federation's form text and privacy notice, kept as shown."""

    __tablename__ = "privacy_notices"
    __table_args__ = (UniqueConstraint("federation_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(ForeignKey("federations.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    form_text: Mapped[str] = mapped_column(Text)
    privacy_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ConsentRecord(Base):
    """Append-only evidence of consent events; never updated, deleted only with erasure."""

    __tablename__ = "consent_records"
    __table_args__ = (enum_check("event", ConsentEvent), same_federation_as_subscriber())

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int] = mapped_column(Integer, index=True)
    event: Mapped[ConsentEvent] = mapped_column(enum_string(ConsentEvent))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    method: Mapped[str] = mapped_column(String(32))
    source_page: Mapped[str | None] = mapped_column(String(1000))
    privacy_notice_id: Mapped[int | None] = mapped_column(ForeignKey("privacy_notices.id"))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)


class Suppression(Base):
    """Keyed hash of an erased or blocked address, so it is never re-added or mailed."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("federation_id", "email_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(ForeignKey("federations.id", ondelete="CASCADE"))
    email_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class RetentionRun(Base):
    """Log of every deletion run (what was deleted, per federation)."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int | None] = mapped_column(
        ForeignKey("federations.id", ondelete="SET NULL")
    )
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    kind: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)


class ImportJob(Base):
    """A CSV import run by a worker: the uploaded file itself (so any web instance can take the
    upload and any worker can run it), the report so far and who holds it.

    `report` is rewritten at every checkpoint in the same transaction as the rows it counts,
    so a job taken over after a crash resumes exactly after the last committed row."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_status", "status", "id"),
        enum_check("status", ImportJobStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(ForeignKey("federations.id", ondelete="CASCADE"))
    status: Mapped[ImportJobStatus] = mapped_column(
        enum_string(ImportJobStatus), default=ImportJobStatus.QUEUED
    )
    filename: Mapped[str | None] = mapped_column(String(255))
    # The upload; emptied when the job ends (it holds personal data). Never loaded unless asked
    # for: a progress poll must not read 50 MB.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    mode: Mapped[str] = mapped_column(String(16))
    consent_note: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    failure: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Who asked, for the audit row written when the job ends.
    actor_label: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
