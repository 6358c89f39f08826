"""Business-time arithmetic and SLA clocks, table-tested, including weekends and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation import business_hours as bh
from escalation import policy, sla
from handlers.config import BusinessHours
from handlers.tickets import Status

KYIV = ZoneInfo("Europe/Kyiv")
WEEKDAYS = BusinessHours(timezone="Europe/Kyiv", start=time(9), end=time(18))
EVERY_DAY = BusinessHours(
    timezone="Europe/Kyiv",
    days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    start=time(9),
    end=time(18),
)
WITH_HOLIDAY = BusinessHours(timezone="Europe/Kyiv", holidays=[date(2026, 12, 25)])


def kyiv(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV).astimezone(UTC)


@pytest.mark.parametrize(
    ("hours", "start", "duration", "due"),
    [
        pytest.param(
            None,
            kyiv(2026, 11, 27, 17),
            timedelta(hours=2),
            kyiv(2026, 11, 27, 19),
            id="no business hours: wall clock",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 25, 10),
            timedelta(hours=2),
            kyiv(2026, 11, 25, 12),
            id="inside one day",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 25, 17),
            timedelta(hours=2),
            kyiv(2026, 11, 26, 10),
            id="overnight",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 27, 17),
            timedelta(hours=2),
            kyiv(2026, 11, 30, 10),
            id="across a weekend",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 28, 12),
            timedelta(minutes=30),
            kyiv(2026, 11, 30, 9, 30),
            id="raised on a Saturday",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 30, 7),
            timedelta(hours=1),
            kyiv(2026, 11, 30, 10),
            id="before opening",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 30, 18),
            timedelta(minutes=15),
            kyiv(2026, 12, 1, 9, 15),
            id="exactly at closing",
        ),
        pytest.param(
            WEEKDAYS,
            kyiv(2026, 11, 23, 9),
            timedelta(hours=27),
            kyiv(2026, 11, 25, 18),
            id="three full days",
        ),
        pytest.param(
            WITH_HOLIDAY,
            kyiv(2026, 12, 24, 17),
            timedelta(hours=2),
            kyiv(2026, 12, 28, 10),
            id="holiday then weekend",
        ),
        pytest.param(
            EVERY_DAY,
            kyiv(2026, 10, 24, 17),
            timedelta(hours=2),
            kyiv(2026, 10, 25, 10),
            id="autumn DST change overnight",
        ),
        pytest.param(
            EVERY_DAY,
            kyiv(2026, 3, 28, 17),
            timedelta(hours=2),
            kyiv(2026, 3, 29, 10),
            id="spring DST change overnight",
        ),
        pytest.param(
            None,
            datetime(2026, 10, 24, 23, tzinfo=UTC),
            timedelta(hours=2),
            datetime(2026, 10, 25, 1, tzinfo=UTC),
            id="24x7 counts real hours",
        ),
    ],
)
def test_add_working_time(hours, start: datetime, duration: timedelta, due: datetime) -> None:
    assert bh.add(start, duration, hours) == due
    assert bh.elapsed(start, due, hours) == duration


def test_dst_day_is_still_nine_working_hours() -> None:
    # 25 Oct 2026 has 25 hours in Kyiv; the working day 09:00-18:00 still has nine.
    day_start, day_end = kyiv(2026, 10, 25, 0), kyiv(2026, 10, 26, 0)
    assert day_end - day_start == timedelta(hours=25)
    assert bh.elapsed(day_start, day_end, EVERY_DAY) == timedelta(hours=9)


@pytest.mark.parametrize(
    ("moment", "open_", "next_open"),
    [
        (kyiv(2026, 11, 27, 12), True, kyiv(2026, 11, 27, 12)),
        (kyiv(2026, 11, 27, 18), False, kyiv(2026, 11, 30, 9)),
        (kyiv(2026, 11, 29, 12), False, kyiv(2026, 11, 30, 9)),
        (kyiv(2026, 12, 25, 12), False, kyiv(2026, 12, 28, 9)),
    ],
)
def test_is_open_and_next_opening(moment: datetime, open_: bool, next_open: datetime) -> None:
    hours = WITH_HOLIDAY
    assert bh.is_open(moment, hours) is open_
    assert bh.next_opening(moment, hours) == next_open


def test_no_working_days_is_an_error_not_a_hang() -> None:
    nothing = BusinessHours(timezone="UTC", days=[])
    with pytest.raises(ValueError, match="no working time"):
        bh.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1), nothing)


def test_clock_reminds_at_three_quarters_and_breaches_at_the_target() -> None:
    start = kyiv(2026, 11, 27, 17)  # Friday, one working hour left
    clock = sla.start(sla.Kind.RESPOND, timedelta(hours=2), start, WEEKDAYS, 0.75)
    assert clock.reminder_at == kyiv(2026, 11, 30, 9, 30)
    assert clock.breach_at == kyiv(2026, 11, 30, 10)
    assert sla.remaining(clock, kyiv(2026, 11, 30, 9), WEEKDAYS) == timedelta(hours=1)


def test_pause_while_waiting_on_the_user_moves_the_deadlines() -> None:
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    clock = sla.start(sla.Kind.RESOLVE, timedelta(hours=4), t0, None, 0.75)
    assert clock.breach_at == t0 + timedelta(hours=4)
    paused = sla.pause(clock, t0 + timedelta(hours=1), None)
    assert (paused.consumed, paused.reminder_at, paused.breach_at) == (
        timedelta(hours=1),
        None,
        None,
    )
    assert sla.remaining(paused, t0 + timedelta(hours=20), None) == timedelta(hours=3)
    resumed = sla.resume(paused, t0 + timedelta(hours=6), None, 0.75)
    assert resumed.reminder_at == t0 + timedelta(hours=8)  # 3h of 4h used at 08:00 + 6h + 2h
    assert resumed.breach_at == t0 + timedelta(hours=9)


def test_pause_counts_only_working_time() -> None:
    start = kyiv(2026, 11, 27, 16)
    clock = sla.start(sla.Kind.RESOLVE, timedelta(hours=8), start, WEEKDAYS, 0.75)
    paused = sla.pause(clock, kyiv(2026, 11, 30, 10), WEEKDAYS)  # Fri 2h + Mon 1h
    assert paused.consumed == timedelta(hours=3)


def test_stopped_clock_neither_reminds_nor_breaches_nor_resumes() -> None:
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    clock = sla.stop(
        sla.start(sla.Kind.RESPOND, timedelta(minutes=15), t0, None, 0.75),
        t0 + timedelta(minutes=5),
        None,
    )
    assert clock.stopped and clock.breach_at is None and clock.reminder_at is None
    assert sla.resume(clock, t0 + timedelta(hours=1), None, 0.75) == clock


def test_fired_reminder_and_breach_are_not_scheduled_again() -> None:
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    clock = sla.start(sla.Kind.RESOLVE, timedelta(hours=1), t0, None, 0.75)
    fired = sla.pause(
        sla.SlaClock(**{**clock.__dict__, "reminded": True, "breached": True}),
        t0 + timedelta(hours=2),
        None,
    )
    again = sla.resume(fired, t0 + timedelta(hours=3), None, 0.75)
    assert again.reminder_at is None and again.breach_at is None


def test_retarget_keeps_the_time_already_used() -> None:
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    clock = sla.start(sla.Kind.RESOLVE, timedelta(hours=24), t0, None, 0.75)
    tighter = sla.retarget(clock, timedelta(hours=4), t0 + timedelta(hours=1), None, 0.75)
    assert tighter.breach_at == t0 + timedelta(hours=4)
    assert tighter.reminder_at == t0 + timedelta(hours=3)


def _follow(clocks, status, responded=False, priority=None, minutes=0):
    from handlers.config import DeskConfig
    from handlers.tickets import Priority

    t = datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(minutes=minutes)
    return policy.follow(clocks, status, priority or Priority.P2, responded, t, DeskConfig())


def test_policy_follows_the_ticket_through_its_life() -> None:
    new = _follow({}, Status.NEW)
    assert new[sla.Kind.RESPOND].breach_at == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert new[sla.Kind.RESOLVE].breach_at == datetime(2026, 11, 23, 16, tzinfo=UTC)
    claimed = _follow(new, Status.CLAIMED, responded=True, minutes=10)
    assert claimed[sla.Kind.RESPOND].stopped
    assert claimed[sla.Kind.RESOLVE].running_since is not None
    waiting = _follow(claimed, Status.WAITING, responded=True, minutes=60)
    assert waiting[sla.Kind.RESOLVE].breach_at is None
    assert waiting[sla.Kind.RESOLVE].consumed == timedelta(hours=1)
    back = _follow(waiting, Status.CLAIMED, responded=True, minutes=180)
    assert back[sla.Kind.RESOLVE].breach_at == datetime(2026, 11, 23, 18, tzinfo=UTC)
    closed = _follow(back, Status.CLOSED, responded=True, minutes=200)
    assert all(c.stopped for c in closed.values())


def test_policy_retargets_when_the_priority_changes() -> None:
    from handlers.tickets import Priority

    p4 = _follow({}, Status.NEW, priority=Priority.P4)
    p1 = _follow(p4, Status.ESCALATED, priority=Priority.P1, minutes=5)
    assert p1[sla.Kind.RESPOND].breach_at == datetime(2026, 11, 23, 8, 15, tzinfo=UTC)
    assert p1[sla.Kind.RESOLVE].breach_at == datetime(2026, 11, 23, 12, tzinfo=UTC)
