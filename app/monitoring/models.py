"""Table: dispatcher_ticks (one row per kind of dispatcher: its last successful tick and totals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime

# What a tick counts, as columns; the dispatch report's fields of the same names fill them.
OUTCOMES = ("sent", "deferred", "failed", "unknown", "suppressed")


class DispatcherTick(Base):
    """Cron dispatchers and workers are separate processes whose in-memory counters never reach
    the web process's /metrics: each tick adds its counts here, and /metrics reads them."""

    __tablename__ = "dispatcher_ticks"

    # "dispatch" (a cron tick) or "worker"; not per host, so restarts add no new series.
    dispatcher: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_tick_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    deferred: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    unknown: Mapped[int] = mapped_column(BigInteger, default=0)
    suppressed: Mapped[int] = mapped_column(BigInteger, default=0)
