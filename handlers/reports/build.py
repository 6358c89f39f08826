"""Facts into figures: medians, percentiles, rankings, the local days and hours."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from handlers.reports.facts import (
    CSAT_SCALE,
    FIRST_LINE,
    Facts,
    IncidentFacts,
    SolutionOutcome,
    TicketTimes,
)
from handlers.reports.figures import (
    Csat,
    Day,
    Incident,
    Ratio,
    Report,
    TimeFigures,
    Times,
    Workload,
)
from handlers.reports.period import Period


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
