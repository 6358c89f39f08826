"""A report in Slack: the stats message's text and Block Kit blocks."""

from __future__ import annotations

from typing import Any

from bot.report_render.terminal import (
    solution_rows,
    summary_lines,
)
from bot.report_render.words import bar, human_duration, median_p90, percent
from bot.slack_blocks import escape_mrkdwn
from handlers.reports import Report, Times

Block = dict[str, Any]


MAX_BLOCKS = 50


SECTION_LIMIT = 3000


FIELD_LIMIT = 2000


HEADER_LIMIT = 150


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
            f"{'★' * r}{'☆' * (5 - r)} {n} {bar(n, top_rating, 12)}"
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
