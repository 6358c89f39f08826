"""Desk reports: the figures a supervisor reads, computed from the audit log (``ticket_events``).

Pure: ``storage/reports.py`` aggregates in SQL and hands over :class:`Facts`; :func:`build` turns
them into a :class:`Report`; ``bot/report_render.py`` draws it (terminal, CSV, JSON, Slack, PNG).

What the figures mean, so each one can be traced back to the ticket history:

- A period is ``[since, until)``: an event at ``since`` counts, one at ``until`` does not. Local
  days and hours are in the period's time zone (the desk's business-hours zone, or UTC).
- **Opened cohort.** Volume, times and rates are about the tickets whose ``open`` event lies in
  the period, as the audit log stood at ``until`` (later events are ignored), so the report of a
  past period never changes. Rates are fractions of that same set of tickets. The dimensions
  (category, line, location, priority, status) are the ticket's *current* columns; a ticket
  never escalated, or returned to the first line, counts under :data:`FIRST_LINE`.
- **Activity.** CSAT answers (the latest per ticket) and the per-operator / per-line workload
  count events inside the period, whichever period the ticket was opened in.
- First response = ``open`` -> first of claim/escalate/respond/resolve/reject; resolution =
  ``open`` -> first ``resolve``. Both are **wall-clock** durations (what the user waited), not
  business time; the SLA breach rate covers the business-hours view (``sla_breach`` events).
- **Known solutions.** Started intakes, deflections (offers answered "This solved it") and the
  solutions solved by or rejected with ("No, register my request") count what happened inside the
  period. Deflected is a share of the intakes started in the period. "Where a solution is
  missing" counts tickets of the opened cohort that were offered no solution, by category.
- **Incidents.** A ticket linked to a major incident (as the log stood at ``until``) is left
  out of the cohort: the incident counts the problem once in volume, times and rates, and
  ``linked`` says how many requests it folded in. "Where IT hurts" (``hurts``) counts *people*
  per category, each person once, a linked request under its incident's category. The incidents
  listed are those declared before ``until`` and not resolved before ``since``; their duration
  runs from the parent's opening to its first resolve (or ``until``).
- Median is the usual median (mean of the two middle values); p90 is the nearest-rank
  percentile, i.e. a duration some ticket actually had.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.config import DeskConfig

FIRST_LINE = "first_line"
RESPONSE_ACTIONS = ("claim", "escalate", "respond", "resolve", "reject")
WORK_ACTIONS = ("claim", "take", "escalate", "resolve")
CSAT_SCALE = (1, 2, 3, 4, 5)
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


# --- what storage hands over ----------------------------------------------------------------


@dataclass(frozen=True)
class TicketTimes:
    """One ticket of the opened cohort: the two or three moments its durations come from."""

    opened_at: datetime
    category: str
    priority: str
    line: str | None
    first_response_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class CohortCounts:
    """Counts over the opened cohort, events before ``until``."""

    opened: int = 0
    resolved: int = 0
    resolved_first_contact: int = 0  # resolved, and never escalated
    reopened: int = 0
    escalated: int = 0
    breached: int = 0  # any sla_breach event
    breached_respond: int = 0
    breached_resolve: int = 0


@dataclass(frozen=True)
class VolumeCell:
    category: str
    line: str | None
    location: str
    status: str
    priority: str
    tickets: int


@dataclass(frozen=True)
class SolutionOutcome:
    """How often one known solution helped or was turned down in the period."""

    solution_id: int
    key: str | None  # the config id; None for a solution an operator saved
    title: str
    solved: int = 0
    rejected: int = 0

    @property
    def name(self) -> str:
        return self.key or f"#{self.solution_id}"


@dataclass(frozen=True)
class IncidentFacts:
    """A major incident and the tickets linked to it (category, platform, requester id)."""

    number: int
    title: str  # the operator's title, or the description's first line
    category: str
    opened_at: datetime
    resolved_at: datetime | None
    requester: tuple[str, str]  # platform, id
    children: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Facts:
    counts: CohortCounts = field(default_factory=CohortCounts)
    volume: Sequence[VolumeCell] = ()
    times: Sequence[TicketTimes] = ()
    csat: dict[str, int] = field(default_factory=dict)  # rating note -> answers
    work: Sequence[tuple[str, str, int]] = ()  # actor, action, distinct tickets
    escalations: Sequence[tuple[int, str]] = ()  # ticket, the escalate note's head
    intakes_started: int = 0
    deflected: int = 0  # offers answered "This solved it"
    solutions: Sequence[SolutionOutcome] = ()
    unmatched: dict[str, int] = field(default_factory=dict)  # category -> tickets offered nothing
    linked: int = 0  # tickets of the period linked to an incident
    people: dict[str, int] = field(default_factory=dict)  # category -> people affected
    incidents: Sequence[IncidentFacts] = ()


# --- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Times:
    """Durations in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class TimeFigures:
    all: Times = field(default_factory=Times)
    by_priority: dict[str, Times] = field(default_factory=dict)
    by_line: dict[str, Times] = field(default_factory=dict)


@dataclass(frozen=True)
class Ratio:
    count: int
    of: int

    @property
    def rate(self) -> float | None:
        return self.count / self.of if self.of else None


@dataclass(frozen=True)
class Csat:
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CSAT_SCALE, 0))

    @property
    def count(self) -> int:
        return sum(self.distribution.values())

    @property
    def average(self) -> float | None:
        total = self.count
        return sum(r * n for r, n in self.distribution.items()) / total if total else None


@dataclass(frozen=True)
class Workload:
    actor: str  # platform:id:name, as the audit log has it
    claimed: int = 0
    taken: int = 0
    escalated: int = 0
    resolved: int = 0

    @property
    def ref(self) -> str:
        """``platform:id``: who, without the name (for places names must not go)."""
        return ":".join(self.actor.split(":", 2)[:2])

    @property
    def name(self) -> str:
        parts = self.actor.split(":", 2)
        return parts[2] if len(parts) == 3 and parts[2] else self.actor

    @property
    def total(self) -> int:
        return self.claimed + self.taken + self.escalated + self.resolved


@dataclass(frozen=True)
class Day:
    day: date
    opened: dict[str, int]  # by category
    resolution_median: float | None  # of the tickets opened that day


@dataclass(frozen=True)
class Incident:
    number: int
    title: str
    category: str
    opened_at: datetime
    resolved_at: datetime | None
    duration: float  # seconds, to the first resolve or the end of the period
    children: int  # tickets linked to it
    people: int  # requesters affected, its own included, each once
    categories: tuple[str, ...]  # of the incident and its children, most hit first


@dataclass(frozen=True)
class Report:
    period: Period
    opened: int
    by_category: dict[str, int]
    by_line: dict[str, int]
    by_location: dict[str, int]
    by_status: dict[str, int]
    by_priority: dict[str, int]
    hotspots: list[tuple[str, str, int]]  # location, category, tickets; the top ones
    hours: tuple[int, ...]  # opened per local hour of day, 0..23
    days: tuple[Day, ...]
    first_response: TimeFigures
    resolution: TimeFigures
    awaiting_response: int  # opened, no response before ``until``
    unresolved: int  # opened, not resolved before ``until``
    escalated: Ratio  # of opened
    sla_breached: Ratio  # of opened
    sla_breached_respond: Ratio
    sla_breached_resolve: Ratio
    first_contact: Ratio  # of resolved
    reopened: Ratio  # of resolved
    csat: Csat
    operators: tuple[Workload, ...]
    lines: dict[str, int]  # tickets escalated to each line during the period
    deflected: Ratio  # of intakes started
    solved_most: tuple[SolutionOutcome, ...]  # the top ones, most solved first
    rejected_most: tuple[SolutionOutcome, ...]  # the top ones, most rejected first
    unmatched: dict[str, int]  # by category, most first: where a solution is missing
    linked: int = 0  # requests opened in the period and counted through their incident
    hurts: dict[str, int] = field(default_factory=dict)  # category -> people affected
    incidents: tuple[Incident, ...] = ()

    @property
    def resolved(self) -> int:
        return self.first_contact.of

    @property
    def busiest_hour(self) -> int | None:
        top = max(self.hours)
        return self.hours.index(top) if top else None


# --- computations ---------------------------------------------------------------------------


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile (an observed value); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[(90 * len(ordered) + 99) // 100 - 1]


def summarize(values: Sequence[float]) -> Times:
    if not values:
        return Times()
    return Times(len(values), float(statistics.median(values)), p90(values))


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def line_key(line: str | None) -> str:
    return line or FIRST_LINE


def escalated_line(note: str) -> str:
    """The line id out of an escalate note ``'to <line>: <note>'``."""
    head = note.removeprefix("to ") if note.startswith("to ") else ""
    return head.split(":", 1)[0].strip() or "unknown"


def _time_figures(samples: Iterable[tuple[str, str, float]]) -> TimeFigures:
    every: list[float] = []
    by_priority: defaultdict[str, list[float]] = defaultdict(list)
    by_line: defaultdict[str, list[float]] = defaultdict(list)
    for priority, line, seconds in samples:
        every.append(seconds)
        by_priority[priority].append(seconds)
        by_line[line].append(seconds)
    return TimeFigures(
        summarize(every),
        {k: summarize(v) for k, v in sorted(by_priority.items())},
        {k: summarize(v) for k, v in sorted(by_line.items())},
    )


def _local(period: Period, times: Sequence[TicketTimes]) -> tuple[tuple[int, ...], tuple[Day, ...]]:
    """Opened per local hour of day, and per local day (with that day's median resolution)."""
    hours = [0] * 24
    opened: defaultdict[date, Counter[str]] = defaultdict(Counter)
    durations: defaultdict[date, list[float]] = defaultdict(list)
    for t in times:
        local = t.opened_at.astimezone(period.zone)
        hours[local.hour] += 1
        day = local.date()
        opened[day][t.category] += 1
        if t.resolved_at is not None:
            durations[day].append((t.resolved_at - t.opened_at).total_seconds())
    days = (Day(d, _ranked(opened[d]), summarize(durations[d]).median) for d in period.days())
    return tuple(hours), tuple(days)


def _workload(work: Iterable[tuple[str, str, int]]) -> tuple[Workload, ...]:
    fields = {"claim": "claimed", "take": "taken", "escalate": "escalated", "resolve": "resolved"}
    per_actor: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for actor, action, tickets in work:
        if action in fields:
            per_actor[actor][fields[action]] = tickets
    loads = [Workload(actor, **counts) for actor, counts in per_actor.items()]
    return tuple(sorted(loads, key=lambda w: (-w.total, w.name, w.actor)))


def _most(outcomes: Iterable[SolutionOutcome], count: str, top: int) -> tuple[SolutionOutcome, ...]:
    """The outcomes with ``count`` above zero, highest first, the first ``top``."""
    counted = [o for o in outcomes if getattr(o, count)]
    return tuple(sorted(counted, key=lambda o: (-getattr(o, count), o.name))[:top])


def _incident(facts: IncidentFacts, until: datetime) -> Incident:
    categories = Counter([facts.category, *(category for category, _, _ in facts.children)])
    people = {facts.requester, *((platform, user) for _, platform, user in facts.children)}
    end = facts.resolved_at or until
    return Incident(
        number=facts.number,
        title=facts.title,
        category=facts.category,
        opened_at=facts.opened_at,
        resolved_at=facts.resolved_at,
        duration=max(0.0, (end - facts.opened_at).total_seconds()),
        children=len(facts.children),
        people=len(people),
        categories=tuple(_ranked(categories)),
    )


def build(facts: Facts, period: Period, top: int = 10) -> Report:
    volumes: dict[str, Counter[str]] = {k: Counter() for k in ("cat", "line", "loc", "st", "pri")}
    hotspots: Counter[tuple[str, str]] = Counter()
    for cell in facts.volume:
        volumes["cat"][cell.category] += cell.tickets
        volumes["line"][line_key(cell.line)] += cell.tickets
        volumes["loc"][cell.location] += cell.tickets
        volumes["st"][cell.status] += cell.tickets
        volumes["pri"][cell.priority] += cell.tickets
        hotspots[(cell.location, cell.category)] += cell.tickets

    responses: list[tuple[str, str, float]] = []
    resolutions: list[tuple[str, str, float]] = []
    for t in facts.times:
        line = line_key(t.line)
        if t.first_response_at is not None:
            seconds = (t.first_response_at - t.opened_at).total_seconds()
            responses.append((t.priority, line, seconds))
        if t.resolved_at is not None:
            seconds = (t.resolved_at - t.opened_at).total_seconds()
            resolutions.append((t.priority, line, seconds))

    csat = dict.fromkeys(CSAT_SCALE, 0)
    for note, answers in facts.csat.items():
        if note.strip().isdigit() and int(note) in csat:
            csat[int(note)] += answers

    pairs = {(ticket, escalated_line(note)) for ticket, note in facts.escalations}
    lines: Counter[str] = Counter(line for _, line in pairs)

    hours, days = _local(period, facts.times)
    c = facts.counts
    ranked_spots = sorted(hotspots.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return Report(
        period=period,
        opened=c.opened,
        by_category=_ranked(volumes["cat"]),
        by_line=_ranked(volumes["line"]),
        by_location=_ranked(volumes["loc"]),
        by_status=_ranked(volumes["st"]),
        by_priority=dict(sorted(volumes["pri"].items())),
        hotspots=[(loc, cat, n) for (loc, cat), n in ranked_spots],
        hours=hours,
        days=days,
        first_response=_time_figures(responses),
        resolution=_time_figures(resolutions),
        awaiting_response=c.opened - len(responses),
        unresolved=c.opened - c.resolved,
        escalated=Ratio(c.escalated, c.opened),
        sla_breached=Ratio(c.breached, c.opened),
        sla_breached_respond=Ratio(c.breached_respond, c.opened),
        sla_breached_resolve=Ratio(c.breached_resolve, c.opened),
        first_contact=Ratio(c.resolved_first_contact, c.resolved),
        reopened=Ratio(c.reopened, c.resolved),
        csat=Csat(csat),
        operators=_workload(facts.work),
        lines=_ranked(lines),
        deflected=Ratio(facts.deflected, facts.intakes_started),
        solved_most=_most(facts.solutions, "solved", top),
        rejected_most=_most(facts.solutions, "rejected", top),
        unmatched=_ranked(Counter(facts.unmatched)),
        linked=facts.linked,
        hurts=_ranked(Counter(facts.people)),
        incidents=tuple(_incident(i, period.until) for i in facts.incidents),
    )


# --- Prometheus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One gauge value for /metrics; ``name`` is a Prometheus metric name."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


METRIC_HELP = {
    "helpdesk_report_tickets_opened": "Tickets opened in the report window, by category",
    "helpdesk_report_first_response_seconds": "First-response time (wall clock) quantiles",
    "helpdesk_report_resolution_seconds": "Resolution time (wall clock) quantiles",
    "helpdesk_report_sla_breach_ratio": "Share of opened tickets with an SLA breach",
    "helpdesk_report_escalation_ratio": "Share of opened tickets escalated to a second line",
    "helpdesk_report_first_contact_resolution_ratio": "Share of resolved tickets never escalated",
    "helpdesk_report_reopen_ratio": "Share of resolved tickets reopened",
    "helpdesk_report_csat_average": "Average CSAT rating (1-5) in the window",
    "helpdesk_report_csat_answers": "CSAT answers in the window, by rating",
    "helpdesk_report_operator_tickets": "Tickets an operator claimed/took/escalated/resolved",
    "helpdesk_report_deflection_ratio": "Share of started intakes a known solution solved",
}


def samples(report: Report) -> list[Sample]:
    """The key figures as gauge samples (figures without data are left out)."""
    out: list[Sample] = []

    def add(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            out.append(Sample(name, tuple(sorted(labels.items())), float(value)))

    for category, n in report.by_category.items():
        add("helpdesk_report_tickets_opened", n, category=category)
    for name, figures in (
        ("helpdesk_report_first_response_seconds", report.first_response),
        ("helpdesk_report_resolution_seconds", report.resolution),
    ):
        for priority, times in (("all", figures.all), *figures.by_priority.items()):
            add(name, times.median, priority=priority, quantile="0.5")
            add(name, times.p90, priority=priority, quantile="0.9")
    add("helpdesk_report_sla_breach_ratio", report.sla_breached.rate)
    add("helpdesk_report_escalation_ratio", report.escalated.rate)
    add("helpdesk_report_first_contact_resolution_ratio", report.first_contact.rate)
    add("helpdesk_report_reopen_ratio", report.reopened.rate)
    add("helpdesk_report_csat_average", report.csat.average)
    add("helpdesk_report_deflection_ratio", report.deflected.rate)
    for rating, n in report.csat.distribution.items():
        add("helpdesk_report_csat_answers", n, rating=str(rating))
    for load in report.operators:
        for action in ("claimed", "taken", "escalated", "resolved"):
            value = getattr(load, action)
            add("helpdesk_report_operator_tickets", value, operator=load.ref, action=action)
    return out
