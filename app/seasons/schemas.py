"""Pydantic shapes for the seasonal-rule API."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from app.campaigns.models import Theme
from app.seasons.models import Anchor


class SeasonalRuleCreate(BaseModel):
    """E.g. sommarhälsning 7 days before midsommarafton; årsskiftesbrev on the last working
    day before 20 December (anchor `date`, 12-20, days_before 1, weekday_only)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Sommarhälsning",
                    "theme": "sommar",
                    "anchor": "midsommarafton",
                    "days_before": 7,
                    "notify_emails": ["kansliet@sf-norra.example.se"],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    theme: Theme
    anchor: Anchor
    anchor_month: int | None = Field(None, ge=1, le=12, description="Only for anchor `date`.")
    anchor_day: int | None = Field(None, ge=1, le=31, description="Only for anchor `date`.")
    days_before: int = Field(0, ge=0, le=180)
    weekday_only: bool = Field(
        False, description="Move back to the nearest working day (not a Swedish holiday)."
    )
    notify_emails: list[EmailStr] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _anchor_date(self) -> SeasonalRuleCreate:
        given = self.anchor_month is not None and self.anchor_day is not None
        if self.anchor == Anchor.DATE:
            if not given:
                raise ValueError("anchor `date` needs anchor_month and anchor_day")
            # 2027 is not a leap year: 29 February would be skipped three years in four.
            date(2027, self.anchor_month or 1, self.anchor_day or 1)
        elif self.anchor_month is not None or self.anchor_day is not None:
            raise ValueError("anchor_month and anchor_day are only for anchor `date`")
        return self


class SeasonalRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    theme: Theme
    anchor: Anchor
    anchor_month: int | None
    anchor_day: int | None
    days_before: int
    weekday_only: bool
    notify_emails: list[str]
    last_created_year: int | None
    last_campaign_id: int | None
    next_date: date | None = Field(None, description="The next day a draft will be made.")


class SeasonalRuleList(BaseModel):
    items: list[SeasonalRuleRead]


class SeasonalRunResult(BaseModel):
    created_campaign_ids: list[int]
