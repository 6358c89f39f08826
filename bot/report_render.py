"""A desk report drawn for people and programs: rich terminal tables, CSV, JSON, Slack Block Kit
and a PNG chart. Pure functions of a :class:`handlers.reports.Report`; no I/O but the console.

JSON is the nested :func:`to_dict`; CSV is the same document flattened to one row per figure
(``section, group, key, measure``: the figure's path in the JSON document, then ``value``), so
both carry exactly the same figures. Durations are seconds in JSON/CSV, spans for people.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.slack_blocks import escape_mrkdwn
from handlers.reports import Ratio, Report, SolutionOutcome, TimeFigures, Times

Block = dict[str, Any]

CSV_HEADER = ("section", "group", "key", "measure", "value")
MAX_BLOCKS = 50
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
TABLE_ROWS = 15  # rows per dimension in terminal tables; JSON and CSV carry them all
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- words for people -------------------------------------------------------------------------


def human_duration(seconds: float | None) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h'; '—' when there is nothing to show."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def percent(ratio: Ratio) -> str:
    rate = ratio.rate
    return "—" if rate is None else f"{rate:.1%} ({ratio.count}/{ratio.of})"


def median_p90(times: Times) -> str:
    if not times.count:
        return "—"
    return f"{human_duration(times.median)} · p90 {human_duration(times.p90)}"


def hour_span(hour: int | None) -> str:
    return "—" if hour is None else f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"


# --- JSON and CSV -------------------------------------------------------------------------------


def _times(times: Times) -> dict[str, Any]:
    return {"count": times.count, "median_s": times.median, "p90_s": times.p90}


def _time_figures(figures: TimeFigures) -> dict[str, Any]:
    return {
        "all": _times(figures.all),
        "priority": {k: _times(v) for k, v in figures.by_priority.items()},
        "line": {k: _times(v) for k, v in figures.by_line.items()},
    }


def _ratio(ratio: Ratio) -> dict[str, Any]:
    return {"count": ratio.count, "of": ratio.of, "rate": ratio.rate}


def _outcomes(outcomes: tuple[SolutionOutcome, ...], count: str) -> dict[str, Any]:
    return {
        str(rank): {"solution": o.name, "title": o.title, count: getattr(o, count)}
        for rank, o in enumerate(outcomes, start=1)
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The whole report as plain JSON data (at most four levels deep)."""
    period = report.period
    return {
        "period": {
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "timezone": period.timezone,
        },
        "volume": {
            "opened": report.opened,
            "linked_to_incidents": report.linked,
            "category": report.by_category,
            "line": report.by_line,
            "location": report.by_location,
            "status": report.by_status,
            "priority": report.by_priority,
        },
        "first_response": {
            **_time_figures(report.first_response),
            "awaiting": report.awaiting_response,
        },
        "resolution": {**_time_figures(report.resolution), "unresolved": report.unresolved},
        "rates": {
            "escalated": _ratio(report.escalated),
            "sla_breached": _ratio(report.sla_breached),
            "sla_breached_respond": _ratio(report.sla_breached_respond),
            "sla_breached_resolve": _ratio(report.sla_breached_resolve),
            "first_contact_resolution": _ratio(report.first_contact),
            "reopened": _ratio(report.reopened),
        },
        "csat": {
            "answers": report.csat.count,
            "average": report.csat.average,
            "distribution": {str(k): v for k, v in report.csat.distribution.items()},
        },
        "busiest_hours": {f"{hour:02d}": n for hour, n in enumerate(report.hours)},
        "hotspots": {
            str(rank): {"location": loc, "category": cat, "tickets": n}
            for rank, (loc, cat, n) in enumerate(report.hotspots, start=1)
        },
        "people_affected": {"category": report.hurts},
        "incidents": {
            str(i.number): {
                "title": i.title,
                "category": i.category,
                "children": i.children,
                "people": i.people,
                "duration_s": i.duration,
                "resolved": i.resolved_at is not None,
                "categories": ", ".join(i.categories),
            }
            for i in report.incidents
        },
        "workload": {
            "operators": {
                w.actor: {
                    "name": w.name,
                    "claimed": w.claimed,
                    "taken": w.taken,
                    "escalated": w.escalated,
                    "resolved": w.resolved,
                }
                for w in report.operators
            },
            "lines": {line: {"escalated": n} for line, n in report.lines.items()},
        },
        "deflected": _ratio(report.deflected),
        "solutions": {
            "solved_most": _outcomes(report.solved_most, "solved"),
            "rejected_most": _outcomes(report.rejected_most, "rejected"),
            "missing": report.unmatched,
        },
        "days": {
            d.day.isoformat(): {
                "opened": sum(d.opened.values()),
                "category": d.opened,
                "resolution_median_s": d.resolution_median,
            }
            for d in report.days
        },
    }


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False)


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return repr(value) if isinstance(value, float) else str(value)


def rows(data: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """``to_dict`` (or its JSON, parsed) as CSV rows: the figure's path in the document, padded
    to four columns on the right, then its value."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from rows(value, (*path, key))
        else:
            keys = [_cell(k) for k in (*path, key)]
            yield keys + [""] * (4 - len(keys)) + [_cell(value)]


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows(to_dict(report)))
    return out.getvalue()


# --- terminal ----------------------------------------------------------------------------------


def _bar(n: int, top: int, width: int = 30) -> str:
    return "█" * round(width * n / top) if top else ""


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
        hours.add_row(f"{hour:02d}", str(n), _bar(n, top_hour))

    csat = Table(title="CSAT answers")
    for name in ("rating", "answers", ""):
        csat.add_column(name)
    top_rating = max(report.csat.distribution.values())
    for rating, n in sorted(report.csat.distribution.items(), reverse=True):
        csat.add_row("★" * rating, str(n), _bar(n, top_rating))

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


# --- Slack -------------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}}


def _listing(title: str, items: list[str]) -> Block:
    return _section(f"*{title}*\n" + "\n".join(items))


def stats_text(report: Report) -> str:
    """A one-line summary: the notification text of the stats message."""
    return (
        f"Helpdesk {report.period.label}: {report.opened} opened, {report.resolved} resolved, "
        f"SLA breached {percent(report.sla_breached)}"
    )


def stats_blocks(report: Report, title: str = "Helpdesk stats", top: int = 8) -> list[Block]:
    """The Block Kit summary behind ``/helpdesk stats`` and the weekly digest (<= 50 blocks)."""
    e = escape_mrkdwn
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, HEADER_LIMIT)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{e(report.period.label)} · tickets opened in the period · "
                    "wall-clock times",
                }
            ],
        },
    ]
    if not (report.opened or report.csat.count or report.operators or report.deflected.of):
        blocks.append(_section("No tickets in this period."))
        return blocks
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{e(value)}", FIELD_LIMIT)}
        for label, value in summary_lines(report)
    ]
    blocks.append({"type": "section", "fields": fields[:10]})
    blocks.append({"type": "divider"})
    if report.by_category:
        items = [f"{e(k)}: {n}" for k, n in list(report.by_category.items())[:top]]
        blocks.append(_listing("By category", items))
    if report.by_line:
        by_line = report.resolution.by_line
        items = [
            f"{e(k)}: {n} opened · resolution {median_p90(by_line.get(k, Times()))}"
            for k, n in list(report.by_line.items())[:top]
        ]
        blocks.append(_listing("By line", items))
    priorities = sorted(set(report.first_response.by_priority) | set(report.resolution.by_priority))
    if priorities:
        items = [
            f"{e(p)}: response {median_p90(report.first_response.by_priority.get(p, Times()))}; "
            f"resolution {median_p90(report.resolution.by_priority.get(p, Times()))}"
            for p in priorities
        ]
        blocks.append(_listing("Times by priority (median · p90)", items))
    if report.hotspots:
        items = [f"{e(loc)} × {e(cat)}: {n}" for loc, cat, n in report.hotspots[:top]]
        blocks.append(_listing("Where IT hurts", items))
    if report.hurts:
        items = [f"{e(k)}: {n}" for k, n in list(report.hurts.items())[:top]]
        blocks.append(_listing("People affected by category", items))
    if report.incidents:
        items = [
            f"#{i.number} {e(i.title)}: {i.children} linked, {i.people} people, "
            f"{human_duration(i.duration)}{'' if i.resolved_at else ' so far'}; "
            f"{e(', '.join(i.categories))}"
            for i in report.incidents[:top]
        ]
        blocks.append(_listing("Major incidents", items))
    if report.csat.count:
        top_rating = max(report.csat.distribution.values())
        items = [
            f"{'★' * r}{'☆' * (5 - r)} {n} {_bar(n, top_rating, 12)}"
            for r, n in sorted(report.csat.distribution.items(), reverse=True)
        ]
        blocks.append(_listing("CSAT", items))
    if report.operators or report.lines:
        items = [
            f"{e(w.name)}: claimed {w.claimed}, resolved {w.resolved}, escalated {w.escalated}"
            + (f", took {w.taken}" if w.taken else "")
            for w in report.operators[:top]
        ]
        items += [f"line {e(line)}: {n} escalated in" for line, n in report.lines.items()]
        blocks.append(_listing("Workload", items[: top * 2]))
    known = solution_rows(report, top)
    if known:
        items = [f"{label}: {e(item)} ({n})" for label, item, n in known]
        blocks.append(_listing("Known solutions (solved / rejected / missing)", items))
    return blocks[:MAX_BLOCKS]


# --- PNG ---------------------------------------------------------------------------------------


def chart_png(report: Report, categories: int = 6) -> bytes:
    """Tickets opened per local day, stacked by category (the top ones, the rest as 'other'),
    with the median resolution time of each day's tickets on a second axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy; only when drawing
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(f"Tickets per day by category — {report.period.label}")
    days = [d.day for d in report.days]
    shown = list(report.by_category)[:categories]
    rest = [c for c in report.by_category if c not in shown]
    series = [(c, [d.opened.get(c, 0) for d in report.days]) for c in shown]
    if rest:
        series.append(("other", [sum(d.opened.get(c, 0) for c in rest) for d in report.days]))
    bottom = [0] * len(days)
    for label, counts in series:
        axes.bar(days, counts, bottom=bottom, label=label)
        bottom = [b + n for b, n in zip(bottom, counts, strict=True)]
    axes.set_ylabel("tickets opened")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not report.opened:
        axes.text(0.5, 0.5, "No tickets in this period", ha="center", transform=axes.transAxes)
    hours = [
        None if d.resolution_median is None else d.resolution_median / 3600 for d in report.days
    ]
    if any(h is not None for h in hours):
        trend = axes.twinx()
        points = [(d, h) for d, h in zip(days, hours, strict=True) if h is not None]
        trend.plot(*zip(*points, strict=True), color="black", marker="o", label="median resolution")
        trend.set_ylabel("median resolution (h)")
        trend.set_ylim(bottom=0)
        trend.legend(loc="upper right")
    if series:
        axes.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
