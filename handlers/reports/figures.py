"""The report: the figures a supervisor reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from handlers.reports.facts import CSAT_SCALE, SolutionOutcome
from handlers.reports.period import Period


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
