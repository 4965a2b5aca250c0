"""Pure date arithmetic for seasonal rules, on the Swedish holidays of the `holidays` library.

Midsommarafton moves every year (the Friday between 19 and 25 June); the library knows it, and
julafton and nyårsafton, as de facto holidays, so no table here needs updating.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from holidays.constants import DE_FACTO, PUBLIC

from app.seasons.models import Anchor

HOLIDAY_NAMES = {
    Anchor.MIDSOMMARAFTON: "Midsommarafton",
    Anchor.JULAFTON: "Julafton",
    Anchor.NYARSAFTON: "Nyårsafton",
}


@lru_cache(maxsize=16)
def swedish_holidays(year: int) -> holidays.HolidayBase:
    """Public holidays, Sundays and the eves Swedes take off (midsommar-, jul-, nyårsafton)."""
    return holidays.country_holidays("SE", years=year, categories=(PUBLIC, DE_FACTO), language="sv")


def anchor_date(anchor: Anchor, year: int, *, month: int | None, day: int | None) -> date:
    if anchor == Anchor.DATE:
        if month is None or day is None:
            raise ValueError("a date anchor needs month and day")
        return date(year, month, day)
    (found,) = swedish_holidays(year).get_named(HOLIDAY_NAMES[anchor], lookup="exact")
    return found


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in swedish_holidays(day.year)


def fire_date(
    anchor: Anchor,
    year: int,
    *,
    month: int | None,
    day: int | None,
    days_before: int,
    weekday_only: bool,
) -> date:
    """The day the draft is made: `days_before` the anchor, then back to a working day."""
    when = anchor_date(anchor, year, month=month, day=day) - timedelta(days=days_before)
    while weekday_only and not is_working_day(when):
        when -= timedelta(days=1)
    return when
