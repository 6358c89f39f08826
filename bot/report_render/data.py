"""A report as data for programs: the nested JSON document and the same figures as CSV rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from handlers.reports import Ratio, Report, SolutionOutcome, TimeFigures, Times

CSV_HEADER = ("section", "group", "key", "measure", "value")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
