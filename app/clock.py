"""The one source of the current time, so tests can freeze it."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """Current aware UTC time (or the frozen time in tests)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Freeze now() at an aware time; None thaws it."""
    global _frozen
    _frozen = at
