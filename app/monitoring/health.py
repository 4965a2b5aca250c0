"""Readiness: the database answers and carries the schema this version was built for."""

from __future__ import annotations

import logging
from typing import Literal

from app import migrate
from app.db import get_sessionmaker

log = logging.getLogger(__name__)

DatabaseState = Literal["ok", "unreachable", "not_migrated"]


async def database_state() -> DatabaseState:
    """Pages answer 500 on an unmigrated database, so readiness must say so too."""
    try:
        async with get_sessionmaker()() as session:
            at_head = await migrate.is_at_head(await session.connection())
    except Exception as exc:  # any failure to reach the database means: not ready
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return "unreachable"
    return "ok" if at_head else "not_migrated"
