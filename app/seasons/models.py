"""Table: seasonal_rules (one per recurring letter of a federation)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.campaigns.models import Theme
from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string


class Anchor(StrEnum):
    """The day a rule counts back from: a Swedish holiday eve, or a fixed date."""

    MIDSOMMARAFTON = "midsommarafton"
    JULAFTON = "julafton"
    NYARSAFTON = "nyarsafton"
    DATE = "date"


class SeasonalRule(Base):
    __tablename__ = "seasonal_rules"
    __table_args__ = (
        enum_check("anchor", Anchor),
        enum_check("theme", Theme),
        CheckConstraint("days_before >= 0 AND days_before <= 180", name="days_before_range"),
        # A fixed date needs its month and day; a holiday anchor has none.
        CheckConstraint(
            "(anchor = 'date') = (anchor_month IS NOT NULL AND anchor_day IS NOT NULL)",
            name="anchor_date_given",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(
        ForeignKey("federations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    theme: Mapped[Theme] = mapped_column(enum_string(Theme))
    anchor: Mapped[Anchor] = mapped_column(enum_string(Anchor))
    anchor_month: Mapped[int | None] = mapped_column(Integer)
    anchor_day: Mapped[int | None] = mapped_column(Integer)
    days_before: Mapped[int] = mapped_column(Integer, default=0)
    # Move back to the nearest Monday-Friday that is not a Swedish holiday.
    weekday_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # The staff who own the letter: they get a mail when the draft is made.
    notify_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The year a draft was last made for: the rule fires once a year, however often it runs.
    last_created_year: Mapped[int | None] = mapped_column(Integer)
    last_campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
