"""Business-time arithmetic: SLA clocks only run during working hours.

Working time is local wall-clock time in the configured zone (so a 09:00-18:00 day is nine hours
on the day clocks change, too), on the configured weekdays, except holidays. Without business
hours configured, every second counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from handlers.config import WEEKDAYS, BusinessHours

_MAX_DAYS = 366 * 5  # a target longer than this is a configuration error, not a loop


def _working_day(hours: BusinessHours, day: date) -> bool:
    return WEEKDAYS[day.weekday()] in hours.days and day not in hours.holidays


def _windows(hours: BusinessHours, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working windows (UTC, start <= end) from ``start`` on, the first one clipped to it."""
    zone = hours.zone
    local = start.astimezone(zone)
    day = local.date()
    for _ in range(_MAX_DAYS):
        if _working_day(hours, day):
            opens = datetime.combine(day, hours.start, zone).astimezone(UTC)
            closes = datetime.combine(day, hours.end, zone).astimezone(UTC)
            begin = max(opens, start)
            if begin < closes:
                yield begin, closes
        day += timedelta(days=1)
    raise ValueError("business hours have no working time within five years")


def add(start: datetime, duration: timedelta, hours: BusinessHours | None) -> datetime:
    """The moment ``duration`` of working time after ``start`` has passed."""
    if hours is None:
        return start + duration
    left = duration
    for begin, end in _windows(hours, start):
        if left <= end - begin:
            return begin + left
        left -= end - begin
    raise AssertionError("unreachable")


def elapsed(start: datetime, end: datetime, hours: BusinessHours | None) -> timedelta:
    """Working time between ``start`` and ``end``."""
    if end <= start:
        return timedelta(0)
    if hours is None:
        return end - start
    total = timedelta(0)
    for begin, close in _windows(hours, start):
        if begin >= end:
            break
        total += min(close, end) - begin
    return total


def is_open(moment: datetime, hours: BusinessHours | None) -> bool:
    if hours is None:
        return True
    local = moment.astimezone(hours.zone)
    return _working_day(hours, local.date()) and hours.start <= local.time() < hours.end


def next_opening(moment: datetime, hours: BusinessHours | None) -> datetime:
    """``moment`` itself during working hours, else when work starts next."""
    if hours is None:
        return moment
    begin, _ = next(_windows(hours, moment))
    return begin


def local_time(moment: datetime, hours: BusinessHours | None) -> tuple[date, time]:
    """``moment`` as the desk's local date and time (UTC without business hours)."""
    zone = hours.zone if hours else UTC
    local = moment.astimezone(zone)
    return local.date(), local.time()
