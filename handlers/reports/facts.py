"""What storage hands over to build a report from (``storage/reports.py`` aggregates it in SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

FIRST_LINE = "first_line"


RESPONSE_ACTIONS = ("claim", "escalate", "respond", "resolve", "reject")


WORK_ACTIONS = ("claim", "take", "escalate", "resolve")


CSAT_SCALE = (1, 2, 3, 4, 5)


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
