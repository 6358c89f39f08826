"""``helpdesk report``: the desk's figures for a period, on the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from bot.config import Settings
from bot.report_render import print_report, to_csv, to_json
from handlers import report_query
from handlers.config import DeskConfig
from handlers.reports import (
    Period,
    PeriodError,
    Report,
    desk_zone,
    parse_period,
    period_between,
)
from storage.db import make_engine, make_sessions


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = commands.add_parser(
        "report", help="figures from the ticket history for a period (table, CSV or JSON)"
    )
    report.add_argument("--since", help="first day or moment (YYYY-MM-DD[THH:MM]), local time")
    report.add_argument("--until", help="end, exclusive (default: now)")
    report.add_argument("--period", default="7d", help="7d, 30d or A..B when --since is absent")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")


def run(args: argparse.Namespace, settings: Settings, config: DeskConfig) -> int:
    zone = desk_zone(config)
    now = datetime.now(UTC)
    try:
        if args.since:
            period = period_between(args.since, args.until, now, zone)
        else:
            period = parse_period(args.period, now, zone)
    except PeriodError as error:
        print(f"helpdesk: {error}", file=sys.stderr)
        return 2
    report = asyncio.run(_report(settings, period))
    if args.format == "table":
        print_report(report)
    else:
        sys.stdout.write(to_csv(report) if args.format == "csv" else to_json(report))
    return 0


async def _report(settings: Settings, period: Period) -> Report:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessions(engine)() as session:
            return await report_query.report(session, period)
    finally:
        await engine.dispose()
