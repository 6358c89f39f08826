"""A desk report drawn for people and programs: rich terminal tables, CSV, JSON, Slack Block Kit
and a PNG chart. Pure functions of a :class:`handlers.reports.Report`; no I/O but the console.

JSON is the nested :func:`to_dict`; CSV is the same document flattened to one row per figure
(``section, group, key, measure``: the figure's path in the JSON document, then ``value``), so
both carry exactly the same figures. Durations are seconds in JSON/CSV, spans for people.
"""

from __future__ import annotations

from bot.report_render.chart import chart_png
from bot.report_render.data import CSV_HEADER, rows, to_csv, to_dict, to_json
from bot.report_render.slack import (
    FIELD_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    Block,
    stats_blocks,
    stats_text,
)
from bot.report_render.terminal import (
    TABLE_ROWS,
    print_report,
    solution_rows,
    summary_lines,
    tables,
    to_text,
)
from bot.report_render.words import hour_span, human_duration, median_p90, percent

__all__ = [
    "CSV_HEADER",
    "FIELD_LIMIT",
    "HEADER_LIMIT",
    "MAX_BLOCKS",
    "SECTION_LIMIT",
    "TABLE_ROWS",
    "Block",
    "chart_png",
    "hour_span",
    "human_duration",
    "median_p90",
    "percent",
    "print_report",
    "rows",
    "solution_rows",
    "stats_blocks",
    "stats_text",
    "summary_lines",
    "tables",
    "to_csv",
    "to_dict",
    "to_json",
    "to_text",
]
