"""``helpdesk``: run the desk, migrate the database, check the configuration, try the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from importlib.metadata import version

from sqlalchemy.exc import SQLAlchemyError

from bot import demo, preflight, report_cli
from bot.app import HelpdeskApp
from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging
from bot.places import TELEGRAM, chats_on, unserved
from bot.preflight import StartupError
from bot.slack_check import slack_channel_findings
from bot.telegram_check import telegram_group_problems
from handlers.config import ConfigError, DeskConfig, load_desk_config
from storage.db import make_engine
from storage.migrate import upgrade

log = logging.getLogger("helpdesk")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpdesk", description=__doc__)
    parser.add_argument("--version", action="version", version=f"helpdesk {version('helpdesk')}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the configured adapters")
    commands.add_parser("check", help="validate settings and the desk config; show what would run")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    report_cli.add_parser(commands)
    demo.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "demo":  # needs no settings: it brings its own
        return demo.run(args)
    try:
        settings = load_settings()
        config = load_desk_config(settings.helpdesk_config)
    except (SettingsError, ConfigError) as error:
        print(f"helpdesk: {error}", file=sys.stderr)
        return 2
    setup_logging(settings)
    if args.command == "check":
        return check(settings, config)
    if args.command == "report":
        return report_cli.run(args, settings, config)
    if args.command == "db":
        try:
            asyncio.run(_upgrade(settings))
        except (OSError, SQLAlchemyError) as error:
            print(f"helpdesk: DATABASE_URL: cannot migrate: {_first_line(error)}", file=sys.stderr)
            return 1
        print("database is up to date")
        return 0
    return run(settings, config)


def describe(settings: Settings, config: DeskConfig) -> list[str]:
    """What this configuration would run, in lines for a human."""
    lines = [f"database: {settings.database_url.split('://', 1)[0]}"]
    lines.append(f"redis: {'yes' if settings.redis_url else 'no (embedded mode)'}")
    telegram = (
        f"telegram: {settings.telegram_mode}"
        if settings.telegram_enabled
        else ("telegram: off (set TELEGRAM_BOT_TOKEN)")
    )
    slack = (
        f"slack: {settings.slack_mode}"
        if settings.slack_enabled
        else "slack: off (set SLACK_BOT_TOKEN and SLACK_OPERATORS_CHANNEL)"
    )
    operators = (
        f"operators: Telegram group {settings.telegram_operators_chat}"
        if settings.telegram_operators_chat
        else f"operators: Slack channel {settings.slack_operators_channel or '(none)'}"
    )
    lines += [telegram, slack, operators, f"categories ({len(config.categories)}):"]
    lines += [f"  {c.id}: {c.label('en')} -> {c.line}" for c in config.categories]
    lines.append(f"support lines ({len(config.lines)}):")
    lines += [
        f"  {line.id}: {line.name} in {line.channel}"
        + (f", pings {', '.join(line.ping)}" if line.ping else "")
        for line in config.lines
    ]
    lines.append("SLA targets:")
    lines += [
        f"  {p}: respond {target.respond}, resolve {target.resolve}"
        for p, target in sorted(config.sla.items())
    ]
    lines.append(f"known solutions ({len(config.solutions)}):")
    lines += [f"  {s.id}: {', '.join(s.categories)}" for s in config.solutions]
    lines.append(f"saved replies ({len(config.replies)})")
    return lines


def check(settings: Settings, config: DeskConfig) -> int:
    """What would run, then a line per connection: on stdout when it works, on stderr what is
    wrong (exit code 1) or risky."""
    print("\n".join(describe(settings, config)))
    if not (settings.telegram_enabled or settings.slack_enabled):
        print("nothing would run: set TELEGRAM_BOT_TOKEN and/or SLACK_BOT_TOKEN", file=sys.stderr)
        return 1
    try:
        unserved_places = unserved(settings, config)
    except ConfigError as error:
        print(f"helpdesk: {error}", file=sys.stderr)
        return 1
    if unserved_places:  # the platforms are asked only about a desk that could work
        for problem in unserved_places:
            print(f"helpdesk: {problem}", file=sys.stderr)
        return 1
    results, warnings = asyncio.run(_connections(settings, config))
    print("connections:")
    for name, problem in results:
        if not problem:
            print(f"  {name}: ok")
    problems = [problem for _, problem in results if problem]
    for line in [*(f"warning: {warning}" for warning in warnings), *problems]:
        print(f"helpdesk: {line}", file=sys.stderr)
    return 1 if problems else 0


async def _connections(
    settings: Settings, config: DeskConfig
) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, problem or "") of each connection: the database, Redis and the platforms
    (bot/preflight.py), then the groups and channels the desk uses on each platform that takes
    its token; and warnings."""
    results = list((await preflight.results(settings)).items())
    warnings: list[str] = []
    if ("telegram", "") in results and chats_on(TELEGRAM, settings, config):
        groups = await telegram_group_problems(settings, config)
        results += [("telegram groups", problem) for problem in groups] or [("telegram groups", "")]
    if ("slack", "") in results:
        channels = await slack_channel_findings(settings, config)
        results += [("slack channels", problem) for problem in channels.problems] or [
            (f"slack channels ({channels.checked})", "")
        ]
        warnings = channels.warnings
    return results, warnings


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


async def _upgrade(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def run(settings: Settings, config: DeskConfig) -> int:
    if not (settings.telegram_enabled or settings.slack_enabled):
        print(
            "helpdesk: no adapter configured: set TELEGRAM_BOT_TOKEN for Telegram and/or "
            "SLACK_BOT_TOKEN + SLACK_OPERATORS_CHANNEL for Slack",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_serve(settings, config))
    except StartupError as error:
        print(f"helpdesk: {error}", file=sys.stderr)
        return 2
    except asyncio.CancelledError:  # a signal while starting, or a second one while stopping
        return 1
    return 0


async def _serve(settings: Settings, config: DeskConfig) -> None:
    """Start (which first checks that what the settings name can be reached and takes our
    tokens: bot/preflight.py), run until SIGTERM or SIGINT, then stop gracefully within
    ``SHUTDOWN_GRACE`` seconds (docs/operations.md). A signal while starting, or a second one
    while stopping, stops at once."""
    stop = asyncio.Event()
    started = asyncio.Event()
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if (stop.is_set() or not started.is_set()) and main is not None:
            log.warning("signal: stopping now")
            main.cancel()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    app = HelpdeskApp(settings, config)
    await app.start()
    started.set()
    log.info("helpdesk is running; %s", "; ".join(describe(settings, config)[:4]))
    await stop.wait()
    log.info("stopping: up to %ss to deliver what is queued", settings.shutdown_grace)
    await app.stop()
    log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
