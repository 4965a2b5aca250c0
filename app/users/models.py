"""Tables: users, federation_memberships, sign_in_tokens, staff_sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string

# Tables the staff tables refer to, so their foreign keys resolve in any process.
from app.delivery import models as delivery_models  # noqa: F401
from app.federations import models as federations_models  # noqa: F401


class Role(StrEnum):
    """A person's role in one federation; each includes the rights of the ones before it."""

    REDAKTOR = "redaktor"
    ANSVARIG = "ansvarig"
    ADMIN = "admin"


class User(Base):
    """A member of staff (a person, not an API key). Signs in with a link mailed to `email`."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # An install admin reaches every federation and the install-wide settings (relay).
    is_install_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Membership(Base):
    __tablename__ = "federation_memberships"
    __table_args__ = (UniqueConstraint("user_id", "federation_id"), enum_check("role", Role))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    federation_id: Mapped[int] = mapped_column(
        ForeignKey("federations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(enum_string(Role))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SignInToken(Base):
    """A single-use sign-in link. As with subscribers' link tokens, the row keeps a seed and the
    hash: the link is HMAC(SECRET_KEY, seed), so a copy of the database alone cannot sign in,
    and the seed is wiped when the link is used or replaced."""

    __tablename__ = "sign_in_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    seed: Mapped[str | None] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The outbox row that carries the link (the mail builder finds the token through it).
    delivery_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("deliveries.id", ondelete="SET NULL"),
        unique=True,
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffSession(Base):
    """A signed-in browser. The cookie holds an opaque id; only its hash is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    # The absolute end (created_at + 7 days); the idle end is last_seen_at + 8 hours.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The federation the person is working in (install admins switch between them).
    federation_id: Mapped[int | None] = mapped_column(
        ForeignKey("federations.id", ondelete="SET NULL")
    )
