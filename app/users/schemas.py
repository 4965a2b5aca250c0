"""Shapes of staff people: who is signed in, and the results the edge needs."""

from __future__ import annotations

from dataclasses import dataclass

from app.federations.models import Federation
from app.users.models import Role, StaffSession, User


@dataclass(frozen=True)
class FederationAccess:
    """One federation the person may work in, with the role there (admin for install admins)."""

    federation: Federation
    role: Role


@dataclass(frozen=True)
class SignedIn:
    """The signed-in person on one request: the session row, the person and what they reach."""

    session: StaffSession
    user: User
    csrf: str
    federations: list[FederationAccess]

    @property
    def current(self) -> FederationAccess | None:
        """The federation the person is working in (the session's choice, else the first)."""
        for access in self.federations:
            if access.federation.id == self.session.federation_id:
                return access
        return self.federations[0] if self.federations else None


@dataclass(frozen=True)
class Staff:
    """A signed-in person at work in one federation (what every federation page needs)."""

    who: SignedIn
    access: FederationAccess

    @property
    def federation(self) -> Federation:
        return self.access.federation

    @property
    def role(self) -> Role:
        return self.access.role


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the raw id goes into the cookie and is never stored."""

    raw_id: str
    session: StaffSession


@dataclass(frozen=True)
class Invited:
    user: User
    created: bool
    delivery_id: int
