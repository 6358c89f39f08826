"""A report as rich terminal tables (``helpdesk report``)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from bot.report_render.words import bar, hour_span, human_duration, median_p90, percent
from handlers.reports import Report, Times

TABLE_ROWS = 15  # rows per dimension in terminal tables; JSON and CSV carry them all


def summary_lines(report: Report) -> list[tuple[str, str]]:
    """The headline figures as (label, value) pairs, shared by the terminal and Slack."""
    csat = report.csat
    average = "—" if csat.average is None else f"{csat.average:.2f} / 5 ({csat.count} answers)"
    busiest = report.busiest_hour
    return [
        ("Opened", str(report.opened)),
        ("Resolved", f"{report.resolved} ({report.unresolved} not yet)" if report.opened else "0"),
        ("First response", median_p90(report.first_response.all)),
        ("Resolution", median_p90(report.resolution.all)),
        ("SLA breached", percent(report.sla_breached)),
        ("Escalated", percent(report.escalated)),
        ("First-contact resolution", percent(report.first_contact)),
        ("Reopened", percent(report.reopened)),
        ("CSAT", average),
        ("Deflected by known solutions", percent(report.deflected)),
        (
            "Busiest hour",
            hour_span(busiest) + (f" ({report.hours[busiest]})" if busiest is not None else ""),
        ),
    ]


def tables(report: Report) -> list[Table]:
    summary = Table(title=f"Helpdesk report {report.period.label}", show_header=False)
    summary.add_column("figure", style="bold")
    summary.add_column("value")
    for label, value in summary_lines(report):
        summary.add_row(label, value)
    summary.add_row("Awaiting first response", str(report.awaiting_response))
    summary.add_row("SLA breached: respond", percent(report.sla_breached_respond))
    summary.add_row("SLA breached: resolve", percent(report.sla_breached_resolve))
    summary.add_row("Requests linked to incidents", str(report.linked))

    volume = Table(title="Tickets opened")
    for name in ("by", "value", "tickets", "share"):
        volume.add_column(name, justify="right" if name in ("tickets", "share") else "left")
    for label, counts in (
        ("category", report.by_category),
        ("line", report.by_line),
        ("location", report.by_location),
        ("status now", report.by_status),
        ("priority", report.by_priority),
    ):
        for key, n in list(counts.items())[:TABLE_ROWS]:
            volume.add_row(label, key, str(n), f"{n / report.opened:.0%}" if report.opened else "")
        label_gap = len(counts) - TABLE_ROWS
        if label_gap > 0:
            volume.add_row(label, f"… {label_gap} more", "", "")

    times = Table(title="First response and resolution (wall clock)")
    for name in ("group", "responded", "median", "p90", "resolved", "median ", "p90 "):
        times.add_column(name, justify="left" if name == "group" else "right")
    groups = [("all", report.first_response.all, report.resolution.all)]
    for dim, first, resolved in (
        ("priority", report.first_response.by_priority, report.resolution.by_priority),
        ("line", report.first_response.by_line, report.resolution.by_line),
    ):
        for key in sorted(set(first) | set(resolved)):
            groups.append((f"{dim} {key}", first.get(key, Times()), resolved.get(key, Times())))
    for label, a, b in groups:
        times.add_row(
            label,
            str(a.count),
            human_duration(a.median),
            human_duration(a.p90),
            str(b.count),
            human_duration(b.median),
            human_duration(b.p90),
        )

    hurts = Table(title="Where IT hurts (location × category)")
    for name in ("location", "category", "tickets"):
        hurts.add_column(name, justify="right" if name == "tickets" else "left")
    for location, category, n in report.hotspots:
        hurts.add_row(location, category, str(n))

    people = Table(title="Where IT hurts (people affected per category)")
    for name in ("category", "people"):
        people.add_column(name, justify="right" if name == "people" else "left")
    for category, n in list(report.hurts.items())[:TABLE_ROWS]:
        people.add_row(category, str(n))

    incidents = Table(title="Major incidents")
    for name in ("#", "title", "linked", "people", "duration", "categories"):
        incidents.add_column(name, justify="right" if name in ("linked", "people") else "left")
    for i in report.incidents:
        duration = human_duration(i.duration) + ("" if i.resolved_at else " (open)")
        counts = (str(i.children), str(i.people))
        incidents.add_row(str(i.number), i.title, *counts, duration, ", ".join(i.categories))

    hours = Table(title=f"Opened per hour of day ({report.period.timezone})")
    for name in ("hour", "tickets", ""):
        hours.add_column(name)
    top_hour = max(report.hours)
    for hour, n in enumerate(report.hours):
        hours.add_row(f"{hour:02d}", str(n), bar(n, top_hour))

    csat = Table(title="CSAT answers")
    for name in ("rating", "answers", ""):
        csat.add_column(name)
    top_rating = max(report.csat.distribution.values())
    for rating, n in sorted(report.csat.distribution.items(), reverse=True):
        csat.add_row("★" * rating, str(n), bar(n, top_rating))

    work = Table(title="Workload (distinct tickets)")
    for name in ("who", "claimed", "taken", "escalated", "resolved"):
        work.add_column(name, justify="left" if name == "who" else "right")
    for w in report.operators:
        work.add_row(w.name, str(w.claimed), str(w.taken), str(w.escalated), str(w.resolved))
    for line, n in report.lines.items():
        work.add_row(f"line {line}", "", "", f"{n} in", "")

    known = Table(title="Known solutions")
    for name in ("figure", "solution / category", "times"):
        known.add_column(name, justify="right" if name == "times" else "left")
    for label, item, n in solution_rows(report):
        known.add_row(label, item, str(n))
    return [summary, volume, times, hurts, people, incidents, hours, csat, work, known]


def solution_rows(report: Report, top: int = TABLE_ROWS) -> list[tuple[str, str, int]]:
    """(figure, solution or category, times): what solved most, what was turned down most,
    and where a solution is missing; shared by the terminal and Slack."""
    out = [("solved", f"{o.name}: {o.title}", o.solved) for o in report.solved_most[:top]]
    out += [("rejected", f"{o.name}: {o.title}", o.rejected) for o in report.rejected_most[:top]]
    out += [("missing", category, n) for category, n in list(report.unmatched.items())[:top]]
    return out


def print_report(report: Report, console: Console | None = None) -> None:
    console = console or Console()
    for table in tables(report):
        console.print(table)


def to_text(report: Report, width: int = 110) -> str:
    """The terminal tables as plain text (no colours), e.g. for a file or a test."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    print_report(report, console)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()
