"""Queries on staff people, their memberships, sign-in tokens and sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_for_change
from app.federations.models import Federation
from app.users.models import Membership, Role, SignInToken, StaffSession, User


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def add(session: AsyncSession, row: User | Membership | SignInToken | StaffSession) -> None:
    session.add(row)
    await session.flush()


async def take_turn_with_people(session: AsyncSession, *, federation_id: int) -> None:
    """Wait for any other change to this federation's people to commit (app.db.lock_for_change,
    on the federation's row): the last-admin rule reads every membership, so two admins who
    demote each other at once must not both see the other still an admin."""
    await session.execute(
        lock_for_change(select(Federation.id).where(Federation.id == federation_id))
    )


async def membership(
    session: AsyncSession, *, federation_id: int, user_id: int, lock: bool = False
) -> Membership | None:
    """The person's membership; `lock` when the caller checks and changes it."""
    stmt = select(Membership).where(
        Membership.federation_id == federation_id, Membership.user_id == user_id
    )
    result = await session.execute(lock_for_change(stmt) if lock else stmt)
    return result.scalar_one_or_none()


async def other_admins(session: AsyncSession, *, federation_id: int, besides: int) -> int:
    """How many admins the federation has besides one membership (counted in the database,
    not from objects the session may have loaded before a concurrent change)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.federation_id == federation_id,
            Membership.role == Role.ADMIN,
            Membership.id != besides,
        )
    )
    return int(count or 0)


async def memberships_of(
    session: AsyncSession, *, user_id: int
) -> Sequence[tuple[Membership, Federation]]:
    """The person's federations with their role, by federation name."""
    result = await session.execute(
        select(Membership, Federation)
        .join(Federation, Federation.id == Membership.federation_id)
        .where(Membership.user_id == user_id)
        .order_by(Federation.name)
    )
    return [(m, f) for m, f in result.all()]


async def people_of(
    session: AsyncSession, *, federation_id: int
) -> Sequence[tuple[User, Membership]]:
    """The federation's people with their memberships, by e-mail address."""
    result = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.federation_id == federation_id)
        .order_by(User.email)
    )
    return [(u, m) for u, m in result.all()]


async def remove(session: AsyncSession, row: Membership) -> None:
    await session.delete(row)
    await session.flush()


async def token_by_hash(session: AsyncSession, digest: str) -> SignInToken | None:
    result = await session.execute(select(SignInToken).where(SignInToken.token_hash == digest))
    return result.scalar_one_or_none()


async def token_by_delivery(session: AsyncSession, delivery_id: int) -> SignInToken | None:
    result = await session.execute(
        select(SignInToken).where(SignInToken.delivery_id == delivery_id)
    )
    return result.scalar_one_or_none()


async def retire_open_tokens(session: AsyncSession, *, user_id: int, at: datetime) -> None:
    """Earlier unused links of the person stop working when a new one is issued or one is used:
    only the newest link signs in, and its seed is wiped (the link cannot be rebuilt)."""
    await session.execute(
        update(SignInToken)
        .where(SignInToken.user_id == user_id, SignInToken.used_at.is_(None))
        .values(used_at=at, seed=None)
    )


async def session_by_hash(session: AsyncSession, digest: str) -> StaffSession | None:
    result = await session.execute(select(StaffSession).where(StaffSession.id_hash == digest))
    return result.scalar_one_or_none()


async def end_sessions(session: AsyncSession, *, user_id: int, at: datetime) -> int:
    """End every open session of the person (sign out everywhere); returns how many."""
    result = await session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=at)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
