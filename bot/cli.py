"""``helpdesk``: run the desk, migrate the database, check the configuration."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from importlib.metadata import version

from sqlalchemy.exc import SQLAlchemyError

from bot import report_cli
from bot.app import HelpdeskApp
from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging
from bot.places import unserved
from bot.slack_check import slack_channel_problems
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
    args = parser.parse_args(argv)
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
    return lines


def check(settings: Settings, config: DeskConfig) -> int:
    print("\n".join(describe(settings, config)))
    if not (settings.telegram_enabled or settings.slack_enabled):
        print("nothing would run: set TELEGRAM_BOT_TOKEN and/or SLACK_BOT_TOKEN", file=sys.stderr)
        return 1
    try:
        problems = unserved(settings, config)
    except ConfigError as error:
        print(f"helpdesk: {error}", file=sys.stderr)
        return 1
    if problems:  # the platforms are asked only about a desk that could work
        for problem in problems:
            print(f"helpdesk: {problem}", file=sys.stderr)
        return 1
    if settings.telegram_enabled:
        problems += asyncio.run(telegram_group_problems(settings, config))
    if settings.slack_enabled:
        problems += asyncio.run(slack_channel_problems(settings, config))
    for problem in problems:
        print(f"helpdesk: {problem}", file=sys.stderr)
    return 1 if problems else 0


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
    except asyncio.CancelledError:  # a second signal cut the graceful stop short
        return 1
    return 0


async def _serve(settings: Settings, config: DeskConfig) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully within ``SHUTDOWN_GRACE`` seconds
    (docs/operations.md); a second signal stops at once."""
    app = HelpdeskApp(settings, config)
    stop = asyncio.Event()
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set() and main is not None:
            log.warning("second signal: stopping now")
            main.cancel()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    await app.start()
    log.info("helpdesk is running; %s", "; ".join(describe(settings, config)[:4]))
    await stop.wait()
    log.info("stopping: up to %ss to deliver what is queued", settings.shutdown_grace)
    await app.stop()
    log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
