"""``helpdesk demo``: the whole desk in a browser, in one command, with no accounts.

The real desk (:class:`bot.app.HelpdeskApp`, wired as ``helpdesk run`` wires it: intake, outbox,
pacing, SLA housekeeping) runs on a fresh SQLite file in a temporary folder, against the local
stand-ins for the Telegram Bot API and the Slack Web API. One page shows what each person
sees and lets them act (bot/demo_web.py). Nothing is configured, nothing is read from the
environment, and everything is gone when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import tempfile
import webbrowser
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.app import HelpdeskApp
from bot.demo_seed import seed
from bot.demo_web import DemoPage
from bot.demo_world import World, demo_settings, furnish, make_world
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI
from handlers.clock import utc_now
from handlers.config import DeskConfig

HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo", help="the whole desk in a browser, against local stand-ins (no accounts needed)"
    )
    demo.add_argument("--port", type=_port, default=DEFAULT_PORT, help="the page's port")
    demo.add_argument(
        "--seed",
        type=_count,
        default=0,
        metavar="N",
        help="file N sample tickets over the last weeks",
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")


@dataclass
class Demo:
    """A running demo: the desk, the stand-ins it talks to, and the page."""

    app: HelpdeskApp
    world: World
    telegram: FakeTelegramAPI
    slack: FakeSlackAPI
    page: DemoPage
    url: str


@contextlib.asynccontextmanager
async def running_demo(port: int, host: str = HOST) -> AsyncIterator[Demo]:
    """Start the stand-ins, the desk against them, and the page on ``host:port``."""
    config = DeskConfig()
    world = make_world(config)
    with tempfile.TemporaryDirectory(prefix="helpdesk-demo-") as folder:
        async with FakeTelegramAPI() as telegram, FakeSlackAPI() as slack:
            furnish(world, slack)
            settings = demo_settings(Path(folder), telegram, slack, _free_port(host))
            app = HelpdeskApp(settings, config)
            await app.start()
            page = DemoPage(world, telegram, slack, f"http://{host}:{settings.http_port}")
            try:
                await page.start(host, port)
                yield Demo(app, world, telegram, slack, page, f"http://{host}:{port}/")
            finally:
                await page.stop()
                await app.stop()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(args.port, args.seed, not args.no_browser))
    except OSError as error:
        print(
            f"helpdesk demo: cannot serve on {HOST}:{args.port}: {error.strerror}", file=sys.stderr
        )
        return 1
    return 0


async def _serve(port: int, count: int, browse: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_demo(port) as demo:
        print(f"helpdesk demo: {demo.url} (Ctrl+C stops)", flush=True)
        if browse:
            await asyncio.to_thread(webbrowser.open, demo.url)
        if count:
            await seed(demo.app, demo.world, count, utc_now())
            print(f"helpdesk demo: {count} sample tickets filed", flush=True)
        await stop.wait()
        print("helpdesk demo: stopping", flush=True)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of tickets (0 or more)")
    return int(text)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
