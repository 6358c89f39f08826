"""A report's period: ``[since, until)`` in the desk's time zone, and how people write one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.config import DeskConfig

MAX_DAYS = 366 * 3


_LAST_DAYS = re.compile(r"^(\d{1,4})d$")


_DATE = r"\d{4}-\d{2}-\d{2}"


_RANGE = re.compile(rf"^({_DATE})\s*\.\.\s*({_DATE})$")


class PeriodError(ValueError):
    """A period the user typed cannot be understood; the message is meant for them."""


@dataclass(frozen=True)
class Period:
    since: datetime  # inclusive
    until: datetime  # exclusive
    zone: ZoneInfo

    def __post_init__(self) -> None:
        # Kept in UTC: subtracting two datetimes of one local zone would ignore DST changes.
        for name in ("since", "until"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None:
                raise ValueError(f"Period.{name} must be timezone-aware")
            object.__setattr__(self, name, moment.astimezone(UTC))

    @property
    def timezone(self) -> str:
        return self.zone.key

    def days(self) -> list[date]:
        """The local calendar days the period touches, in order."""
        first = self.since.astimezone(self.zone).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(self.zone).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    @property
    def label(self) -> str:
        """'2026-11-16 – 2026-11-22 (Europe/Kyiv)': the local days, inclusive."""
        days = self.days()
        span = str(days[0]) if len(days) == 1 else f"{days[0]} – {days[-1]}"
        return f"{span} ({self.timezone})"


def desk_zone(config: DeskConfig) -> ZoneInfo:
    """The zone reports use: the business-hours zone, else UTC."""
    return config.business_hours.zone if config.business_hours else ZoneInfo("UTC")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _whole_days(first: date, last: date, zone: ZoneInfo) -> Period:
    if last < first:
        raise PeriodError(f"the period ends ({last}) before it starts ({first})")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError(f"a period can be at most {MAX_DAYS} days long")
    return Period(_midnight(first, zone), _midnight(last + timedelta(days=1), zone), zone)


def parse_period(text: str, now: datetime, zone: ZoneInfo) -> Period:
    """``7d`` / ``30d`` (that many local days, today included), ``YYYY-MM-DD..YYYY-MM-DD``
    (both days included) or one ``YYYY-MM-DD``; empty means ``7d``."""
    text = text.strip().lower() or "7d"
    today = now.astimezone(zone).date()
    if match := _LAST_DAYS.match(text):
        days = int(match[1])
        if days < 1:
            raise PeriodError("a period needs at least one day")
        return _whole_days(today - timedelta(days=days - 1), today, zone)
    if match := _RANGE.match(text):
        return _whole_days(_day(match[1]), _day(match[2]), zone)
    if re.fullmatch(_DATE, text):
        return _whole_days(_day(text), _day(text), zone)
    raise PeriodError(f"{text!r} is not a period: use 7d, 30d or YYYY-MM-DD..YYYY-MM-DD")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{text} is not a date") from None


def parse_moment(text: str, zone: ZoneInfo) -> datetime:
    """``YYYY-MM-DD`` (local midnight) or an ISO date-time (local unless it has an offset)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{text!r} is not a date (YYYY-MM-DD) or ISO date-time") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def period_between(since: str, until: str | None, now: datetime, zone: ZoneInfo) -> Period:
    """The command line's ``--since`` (inclusive) and ``--until`` (exclusive, default now)."""
    start = parse_moment(since, zone)
    end = parse_moment(until, zone) if until else now
    if end <= start:
        raise PeriodError("--until must be after --since")
    return Period(start, end, zone)


def last_week(now: datetime, zone: ZoneInfo) -> Period:
    """Monday to Sunday of the week before ``now``'s (local): what a weekly digest covers."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return _whole_days(monday - timedelta(days=7), monday - timedelta(days=1), zone)
