"""Desk reports: the figures a supervisor reads, computed from the audit log (``ticket_events``).

Pure: ``storage/reports.py`` aggregates in SQL and hands over :class:`Facts`; :func:`build` turns
them into a :class:`Report`; ``bot/report_render/`` draws it (terminal, CSV, JSON, Slack, PNG).

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

from handlers.reports.build import build, p90
from handlers.reports.facts import (
    FIRST_LINE,
    RESPONSE_ACTIONS,
    WORK_ACTIONS,
    CohortCounts,
    Facts,
    IncidentFacts,
    SolutionOutcome,
    TicketTimes,
    VolumeCell,
)
from handlers.reports.figures import Ratio, Report, TimeFigures, Times
from handlers.reports.metrics import METRIC_HELP, Sample, samples
from handlers.reports.period import (
    Period,
    PeriodError,
    desk_zone,
    last_week,
    parse_period,
    period_between,
)

__all__ = [
    "FIRST_LINE",
    "METRIC_HELP",
    "RESPONSE_ACTIONS",
    "WORK_ACTIONS",
    "CohortCounts",
    "Facts",
    "IncidentFacts",
    "Period",
    "PeriodError",
    "Ratio",
    "Report",
    "Sample",
    "SolutionOutcome",
    "TicketTimes",
    "TimeFigures",
    "Times",
    "VolumeCell",
    "build",
    "desk_zone",
    "last_week",
    "p90",
    "parse_period",
    "period_between",
    "samples",
]
