"""SLA clocks as values: start, pause, resume, stop and retarget, with reminder and breach times.

A clock counts working time towards a target. While it runs, ``reminder_at`` and ``breach_at``
say when the reminder share (75% by default) and the whole target will have been used; paused or
stopped clocks have neither. Storage keeps one clock per ticket and kind; the scheduler fires
each due moment once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from escalation import business_hours
from handlers.config import BusinessHours


class Kind(StrEnum):
    RESPOND = "respond"  # until the first response (claim or reply)
    RESOLVE = "resolve"  # until resolved; paused while waiting on the user


@dataclass(frozen=True)
class SlaClock:
    kind: Kind
    target: timedelta
    consumed: timedelta = timedelta(0)  # working time used before ``running_since``
    running_since: datetime | None = None
    stopped: bool = False
    reminder_at: datetime | None = None
    breach_at: datetime | None = None
    reminded: bool = False
    breached: bool = False


def start(
    kind: Kind, target: timedelta, now: datetime, hours: BusinessHours | None, share: float
) -> SlaClock:
    return _schedule(SlaClock(kind=kind, target=target, running_since=now), hours, share)


def pause(clock: SlaClock, now: datetime, hours: BusinessHours | None) -> SlaClock:
    if clock.running_since is None:
        return clock
    used = clock.consumed + business_hours.elapsed(clock.running_since, now, hours)
    return replace(clock, consumed=used, running_since=None, reminder_at=None, breach_at=None)


def resume(clock: SlaClock, now: datetime, hours: BusinessHours | None, share: float) -> SlaClock:
    if clock.stopped or clock.running_since is not None:
        return clock
    return _schedule(replace(clock, running_since=now), hours, share)


def stop(clock: SlaClock, now: datetime, hours: BusinessHours | None) -> SlaClock:
    return replace(pause(clock, now, hours), stopped=True)


def retarget(
    clock: SlaClock, target: timedelta, now: datetime, hours: BusinessHours | None, share: float
) -> SlaClock:
    """A new target (the priority changed); already-fired reminders and breaches stay fired."""
    if clock.running_since is None:
        return replace(clock, target=target)
    return resume(replace(pause(clock, now, hours), target=target), now, hours, share)


def used(clock: SlaClock, now: datetime, hours: BusinessHours | None) -> timedelta:
    """Working time consumed so far."""
    if clock.running_since is None:
        return clock.consumed
    return clock.consumed + business_hours.elapsed(clock.running_since, now, hours)


def remaining(clock: SlaClock, now: datetime, hours: BusinessHours | None) -> timedelta:
    return clock.target - used(clock, now, hours)


def _schedule(clock: SlaClock, hours: BusinessHours | None, share: float) -> SlaClock:
    assert clock.running_since is not None
    since = clock.running_since
    to_breach = max(timedelta(0), clock.target - clock.consumed)
    to_reminder = max(timedelta(0), clock.target * share - clock.consumed)
    return replace(
        clock,
        breach_at=None if clock.breached else business_hours.add(since, to_breach, hours),
        reminder_at=None if clock.reminded else business_hours.add(since, to_reminder, hours),
    )


def span(delta: timedelta) -> str:
    """A duration for people: '7 min', '3 h', '2 h 5 min'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def summary(clocks: dict[Kind, SlaClock], now: datetime, hours: BusinessHours | None) -> str:
    """One line on the most urgent running clock, for a ticket's card ('' if none runs)."""
    running = [c for c in clocks.values() if c.running_since is not None and not c.stopped]
    if not running:
        return ""
    clock = min(running, key=lambda c: remaining(c, now, hours))
    what = "Response" if clock.kind is Kind.RESPOND else "Resolution"
    left = remaining(clock, now, hours)
    if left <= timedelta(0):
        return f"⚠️ {what} overdue by {span(-left)}"
    return f"⏱ {what} due in {span(left)}"
