"""Who made a change: a person or an API key, named at the edge and passed to the services,
which record it in the audit log. A module of its own so that every layer may use it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in person or an API key, passed from the edge to services."""

    label: str
    user_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def person(cls, *, user_id: int, email: str) -> Actor:
        return cls(label=email, user_id=user_id)

    @classmethod
    def key(cls, *, api_key_id: int, name: str, prefix: str) -> Actor:
        return cls(label=f"API-nyckel {name} ({prefix}…)", api_key_id=api_key_id)

    @classmethod
    def system(cls, what: str) -> Actor:
        """A command-line operator or the dispatcher (no person or key behind it)."""
        return cls(label=what)
