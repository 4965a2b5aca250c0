"""Seasonal dates from the `holidays` library: midsommarafton moves, working days skip holidays."""

from __future__ import annotations

from datetime import date

import pytest

from app.seasons.dates import fire_date, is_working_day
from app.seasons.models import Anchor


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2026, date(2026, 6, 19)), (2027, date(2027, 6, 25)), (2028, date(2028, 6, 23))],
)
def test_sommarhalsning_seven_days_before_midsommarafton(year: int, expected: date) -> None:
    midsommarafton = fire_date(
        Anchor.MIDSOMMARAFTON, year, month=None, day=None, days_before=0, weekday_only=False
    )
    assert midsommarafton == expected
    assert midsommarafton.weekday() == 4
    sommar = fire_date(
        Anchor.MIDSOMMARAFTON, year, month=None, day=None, days_before=7, weekday_only=False
    )
    assert (midsommarafton - sommar).days == 7


def test_julhalsning_ten_days_before_julafton() -> None:
    assert fire_date(
        Anchor.JULAFTON, 2026, month=None, day=None, days_before=10, weekday_only=False
    ) == date(2026, 12, 14)


@pytest.mark.parametrize(
    ("year", "expected"),
    # 20 Dec 2026 is a Sunday: Friday 18th. 20 Dec 2027 is a Monday: the day before is a
    # Sunday, so Friday 17th. 20 Dec 2028 is a Wednesday: Tuesday 19th.
    [(2026, date(2026, 12, 18)), (2027, date(2027, 12, 17)), (2028, date(2028, 12, 19))],
)
def test_arsskiftesbrev_last_working_day_before_20_december(year: int, expected: date) -> None:
    assert (
        fire_date(Anchor.DATE, year, month=12, day=20, days_before=1, weekday_only=True) == expected
    )


def test_holidays_are_not_working_days() -> None:
    assert not is_working_day(date(2027, 6, 25))  # midsommarafton, a Friday
    assert not is_working_day(date(2026, 12, 24))  # julafton, a Thursday
    assert not is_working_day(date(2027, 5, 6))  # Kristi himmelsfärdsdag
    assert is_working_day(date(2027, 6, 24))
    # A rule landing on midsommarafton itself moves back to Thursday.
    assert fire_date(Anchor.DATE, 2027, month=6, day=26, days_before=1, weekday_only=True) == date(
        2027, 6, 24
    )
