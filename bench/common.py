"""What the scenarios share: databases, the fake platforms in a child process, the running desk,
the intake conversation as Telegram updates, and measuring (CPU, latency, round trips, memory)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import ctypes
import io
import itertools
import json
import logging
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot.app import HelpdeskApp
from bot.config import Settings
from bot.standins import slack_requests as sr
from bot.standins.ports import free_port
from bot.standins.telegram_api import TgUser
from handlers.config import DeskConfig
from handlers.intake import Step, choice
from storage.db import make_engine
from storage.models import OutboxRow

Json = dict[str, Any]
REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PG_ENV, REDIS_ENV = "HELPDESK_TEST_DATABASE_URL", "HELPDESK_TEST_REDIS_URL"

# --- command line and results -----------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every scenario has."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help=f"postgres (+Redis) needs {PG_ENV} and {REDIS_ENV}; its public schema is DROPPED",
    )
    return p


def run(main: Callable[[argparse.Namespace], Awaitable[None]], args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # warnings are counted (ErrorCount), not shown
        handler.setLevel(logging.ERROR)
    asyncio.run(main(args))


def machine() -> Json:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
    }


def code_version() -> str:
    """The commit measured, and whether files outside bench/ differed from it."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    changed = [line for line in git("status", "--porcelain").splitlines() if "bench/" not in line]
    return git("rev-parse", "--short", "HEAD") + (
        f" + {len(changed)} changed files" if changed else ""
    )


def save(name: str, data: Json) -> Path:
    """Write ``bench/results/<name>.json`` (with the machine and the command line) and say so."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {
        "scenario": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "code": code_version(),
        "machine": machine(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        **data,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"results: {path.relative_to(REPO)}")
    return path


def pct(values: Sequence[float]) -> Json:
    """p50/p95/p99/max in milliseconds of ``values`` given in seconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []

    def at(p: int) -> float:
        return round(1000 * (cuts[p - 1] if cuts else ordered[0]), 2)

    return {
        "n": len(ordered),
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": round(1000 * ordered[-1], 2),
    }


def show(title: str, rows: Iterable[tuple[str, Any]]) -> None:
    print(f"\n{title}")
    for name, value in rows:
        print(f"  {name:<34} {value}")


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Meter:
    """CPU (all threads of this process) and wall time between :meth:`start` and :meth:`stop`."""

    cpu: float = 0.0
    wall: float = 0.0
    _cpu0: float = 0.0
    _wall0: float = 0.0

    def start(self) -> Meter:
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        return self

    def stop(self) -> Meter:
        self.cpu = time.process_time() - self._cpu0
        self.wall = time.perf_counter() - self._wall0
        return self


_SOURCE: contextvars.ContextVar[str] = contextvars.ContextVar("bench_source", default="other")


class RoundTrips:
    """Statements sent to the database (``before_cursor_execute``) and commits, split into those
    made while handling an inbound event (code run after :meth:`inbound`, and tasks it starts)
    and the rest (the delivery worker, housekeeping)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counts: Counter[str] = Counter()
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    @staticmethod
    def inbound() -> contextvars.Token[str]:
        """Count what the current task does from now on as inbound."""
        return _SOURCE.set("inbound")

    def _statement(self, *_: Any) -> None:
        self.counts[f"{_SOURCE.get()}_statements"] += 1

    def _commit(self, *_: Any) -> None:
        self.counts[f"{_SOURCE.get()}_commits"] += 1

    def reset(self) -> None:
        self.counts.clear()

    def per(self, n: int) -> Json:
        return {key: round(value / n, 2) for key, value in sorted(self.counts.items())}


class RedisCommands:
    """Commands the Redis server processed between :meth:`start` and :meth:`stop` (None without
    Redis), read from ``INFO stats`` on one connection (its own INFO is not counted)."""

    def __init__(self, url: str) -> None:
        self._client = Redis.from_url(url) if url else None
        self._start = 0

    async def _total(self) -> int:
        assert self._client is not None
        return int((await self._client.info("stats"))["total_commands_processed"])

    async def start(self) -> None:
        if self._client is not None:
            self._start = await self._total()

    async def stop(self) -> int | None:
        if self._client is None:
            return None
        try:
            return await self._total() - self._start - 1
        finally:
            await self._client.aclose()


def rss_bytes() -> int:
    """VmRSS of this process, after a full collection and giving free heap back to the OS."""
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


_ALIASES = {"httpcore": "httpx", "anyio": "httpx", "h11": "httpx", "sniffio": "httpx"}


def _package(filename: str, function: str) -> str:
    """Which library (or product folder) a profiled function belongs to."""
    if filename == "~":
        return "C builtins: " + (
            "epoll" if "poll" in function else "sockets" if "socket" in function else "other"
        )
    if match := re.search(r"site-packages/([A-Za-z0-9_]+)", filename):
        return _ALIASES.get(match[1], match[1])
    if filename.startswith(str(REPO)):
        return "ours: " + Path(filename).relative_to(REPO).parts[0] + "/"
    if "importlib" in filename:
        return "importlib (imports at run time)"
    if match := re.search(r"python3\.\d+/([A-Za-z0-9_]+)", filename):
        return "stdlib " + match[1]
    return "other"


def by_package(stats: pstats.Stats) -> str:
    """CPU (tottime) per library, the biggest first, as text."""
    totals: Counter[str] = Counter()
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[_package(filename, function)] += row[2]
    whole = sum(totals.values()) or 1.0
    lines = [f"{100 * t / whole:5.1f}%  {t:8.2f}s  {name}" for name, t in totals.most_common(20)]
    return "\n".join(["===== CPU by library (tottime) =====", *lines]) + "\n"


@contextlib.contextmanager
def profiled(tool: str, name: str) -> Iterator[None]:
    """Profile the block with ``tool`` (cprofile, pyinstrument or ""); the report goes to
    bench/results/<name>.txt (cProfile also writes <name>.prof for pstats or snakeviz).
    cProfile measures CPU time and roughly doubles it; only the main thread is profiled."""
    if not tool:
        yield
        return
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.txt"
    if tool == "pyinstrument":
        from pyinstrument import Profiler  # a dev tool: pip install pyinstrument

        sampler = Profiler(interval=0.001, async_mode="disabled")
        with sampler:
            yield
        path.write_text(sampler.output_text(unicode=True, color=False))
    else:
        profile = cProfile.Profile(time.process_time)
        with profile:
            yield
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        out.write(by_package(stats))
        stats.strip_dirs()
        for key in ("tottime", "cumulative"):
            out.write(f"\n===== top 40 by {key} (CPU seconds) =====\n")
            stats.sort_stats(key).print_stats(40)
        path.write_text(out.getvalue())
        profile.dump_stats(path.with_suffix(".prof"))
    print(f"profile: {path.relative_to(REPO)}")


# --- databases ----------------------------------------------------------------------------------


@dataclass
class Backend:
    """Where the desk keeps its data for one run: a fresh SQLite file, or the (emptied) test
    PostgreSQL database plus Redis."""

    kind: str
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="helpdesk-bench-")))
    _runs: int = 0

    @property
    def redis_url(self) -> str:
        return os.environ[REDIS_ENV] if self.kind == "postgres" else ""

    async def fresh(self) -> str:
        """An empty database URL (the schema is created by the app, or by the caller)."""
        self._runs += 1
        if self.kind == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / f'bench-{self._runs}.db'}"
        for name in (PG_ENV, REDIS_ENV):
            if not os.environ.get(name):
                raise SystemExit(f"--db postgres needs {name}")
        url = os.environ[PG_ENV]
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        client = Redis.from_url(self.redis_url)
        await client.flushdb()
        await client.aclose()
        return url

    def cleanup(self) -> None:
        """Remove the work directory (SQLite files; empty for PostgreSQL)."""
        shutil.rmtree(self.workdir, ignore_errors=True)


async def pending(url: str, platform: str) -> tuple[int, int]:
    """(pending, failed) outbox rows of ``platform``, read on a connection of its own."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxRow.state, func.count())
                .where(OutboxRow.platform == platform)
                .group_by(OutboxRow.state)
            )
            counts = {state: int(n) for state, n in rows}
    finally:
        await engine.dispose()
    return counts.get("pending", 0), counts.get("failed", 0)


async def drained(url: str, platform: str, within: float, every: float = 0.25) -> int:
    """Wait until no outbox row of ``platform`` is pending; return the failed rows."""
    deadline = time.monotonic() + within
    while True:
        waiting, failed = await pending(url, platform)
        if not waiting:
            return failed
        if time.monotonic() > deadline:
            raise TimeoutError(f"{waiting} {platform} messages still pending after {within}s")
        await asyncio.sleep(every)


async def until(condition: Callable[[], bool], within: float, every: float = 0.05) -> None:
    """Wait until ``condition()`` holds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {within}s")
        await asyncio.sleep(every)


# --- the outside world in a child process -------------------------------------------------------


class World:
    """A fake platform (``telegram`` or ``slack``) served by ``python -m bench.world``."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.spec = {"kind": kind, **options}
        self.info: Json = {}
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> World:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.world",
            json.dumps(self.spec),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            limit=1 << 26,
        )
        self.info = await self._read()
        return self

    async def _read(self) -> Json:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench.world {self.spec['kind']} died")
        return dict(json.loads(line))

    async def call(self, cmd: str, **args: Any) -> Json:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self._proc.stdin.drain()
        return await self._read()

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("stop"), 10)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        await self._proc.wait()


Scenario = Callable[[argparse.Namespace, Backend, World, World], Awaitable[Json]]


async def at_the_limits(args: argparse.Namespace, scenario: Scenario) -> Json:
    """``scenario(args, backend, telegram, slack)`` on a fresh ``args.db`` backend, against a
    fake Bot API and a fake Slack that both enforce the platforms' limits (answer 429)."""
    backend = Backend(args.db)
    try:
        async with (
            World("telegram", enforce_limits=True) as telegram,
            World("slack", enforce_limits=True) as slack,
        ):
            return await scenario(args, backend, telegram, slack)
    finally:
        backend.cleanup()


# --- the desk -------------------------------------------------------------------------------------


def desk_config(**desk: Any) -> DeskConfig:
    """The default desk, except that two texts in a row are never merged into one description:
    simulated users answer faster than the 3 s ``burst_window`` a person ever would."""
    return DeskConfig.model_validate({"desk": {"burst_window": 0, **desk}})


@contextlib.asynccontextmanager
async def running_desk(
    settings: Settings, config: DeskConfig | None = None, **options: Any
) -> AsyncIterator[HelpdeskApp]:
    """A started :class:`HelpdeskApp`, exactly as ``helpdesk run`` starts it."""
    app = HelpdeskApp(settings, config or desk_config(), housekeeping_every=3600, **options)
    await app.start()
    try:
        yield app
    finally:
        await app.stop(grace=1)


def settings(**fields: Any) -> Settings:
    """Settings from ``fields`` alone (no .env); fields this version of Settings does not have
    are left out, with a note, so a scenario keeps running while the settings evolve."""
    known = {k: v for k, v in fields.items() if k in Settings.model_fields}
    for name in sorted(set(fields) - set(known)):
        print(f"note: Settings has no {name!r}; not set")
    return Settings(_env_file=None, **known)  # type: ignore[call-arg]


# The intake scenario's fake Bot API has no limits and its replies are not the point: the bot-wide
# 30 messages/s would only make the outbox drain for minutes after the burst.
UNPACED_BOT = {"telegram_global_per_second": 0}


OPS = "C0OPERATORS"  # the operators' channel of the Slack scenarios


def desk_settings(database_url: str, redis_url: str, **fields: Any) -> Settings:
    """The desk's settings for one run, with its HTTP server on a port of its own."""
    return settings(
        database_url=database_url,
        redis_url=redis_url,
        http_host="127.0.0.1",
        http_port=free_port(),
        **fields,
    )


def telegram_fields(world: World) -> Json:
    """Settings that point the desk's Telegram side at the fake Bot API in ``world``."""
    return {"telegram_bot_token": world.info["token"], "telegram_api_url": world.info["url"]}


def slack_fields(world: World) -> Json:
    """Settings that point the desk's Slack side (HTTP mode) at the fake Slack in ``world``."""
    return {
        "slack_bot_token": world.info["token"],
        "slack_signing_secret": sr.SIGNING_SECRET,
        "slack_mode": "http",
        "slack_api_url": world.info["api_url"],
        "slack_operators_channel": OPS,
    }


class ErrorCount(logging.Handler):
    """Counts WARNING+ log records of the product while installed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen[f"{record.name}: {record.getMessage()[:80]}"] += 1

    def __enter__(self) -> ErrorCount:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)


# --- the intake conversation as Telegram updates -----------------------------------------------

FIRST_USER = 10_000_000
DESCRIPTION = "The printer on floor 3 jams on every page"


def _press(user: TgUser, data: str) -> Json:
    """A button press on a message that still shows its keyboard, as Telegram sends it."""
    update = user.press(data, message_id=1)
    keyboard = {"inline_keyboard": [[{"text": "button", "callback_data": data}]]}
    update["callback_query"]["message"]["reply_markup"] = keyboard
    return update


def intake_steps(user: TgUser) -> list[Json]:
    """The conversation of tests/test_telegram_e2e.py::file_full_ticket, /start to Submit."""
    return [
        user.command("start"),
        _press(user, choice(Step.CATEGORY, "printers")),
        user.text(DESCRIPTION),
        user.text("HQ, room 301"),
        _press(user, choice(Step.NAME, "remembered")),
        user.contact("+380671234567"),
        user.text("10.0.12.7"),
        user.photo(),
        _press(user, choice(Step.FILES, "done")),
        _press(user, choice(Step.URGENCY, "high")),
        _press(user, choice(Step.SUMMARY, "submit")),
    ]


class Stream:
    """Numbers updates: ``update_id`` and ``message_id`` each from one counter (Telegram numbers
    messages per chat; unique numbers serve PTB as well and keep no state per chat here)."""

    def __init__(self) -> None:
        self._updates = itertools.count(1)
        self._messages = itertools.count(1)

    def users(self, count: int, first: int = FIRST_USER, steps: int = 11) -> list[list[Json]]:
        """``count`` users, each with the first ``steps`` updates of their intake."""
        return list(self.each_user(count, first, steps))

    def each_user(
        self, count: int, first: int = FIRST_USER, steps: int = 11
    ) -> Iterator[list[Json]]:
        """Like :meth:`users`, built one user at a time (nothing kept here)."""
        for uid in range(first, first + count):
            user = TgUser(uid, f"User{uid}", "Bench", username=f"u{uid}", language_code="en")
            yield [self.number(u) for u in intake_steps(user)[:steps]]

    def number(self, update: Json) -> Json:
        update = {"update_id": next(self._updates), **update}
        message = update.get("message")
        if message is not None:
            message["message_id"] = next(self._messages)
        return update


@dataclass
class Handled:
    """One update as it went: when it was handed to PTB (wall clock, for the outbox's sent_at)
    and how long PTB took to run its handler to the end."""

    update_id: int
    handed_at: float
    seconds: float


class Feeder:
    """Hands updates to a PTB Application the way its update fetcher does, minus the network:
    ``Update.de_json`` then ``process_update`` (which awaits the blocking handler)."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        trips: RoundTrips | None = None,
        record: bool = True,
    ) -> None:
        self.application = application
        self.trips = trips
        self.record = record
        self.handled: list[Handled] = []

    async def feed(self, data: Json, since: float | None = None) -> None:
        """Process one update; latency counts from ``since`` (a perf_counter time when the
        update was due, for paced runs) or from now."""
        if self.trips is not None:
            self.trips.inbound()
        handed_at, start = time.time(), time.perf_counter()
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)
        if self.record:
            seconds = time.perf_counter() - (start if since is None else min(since, start))
            self.handled.append(Handled(data["update_id"], handed_at, seconds))

    async def closed_loop(self, users: Iterable[list[Json]], concurrency: int) -> None:
        """``concurrency`` users at a time, each sending its next update as soon as the previous
        one is handled (no think time): the most this process can take."""
        queue = iter(users)

        async def worker() -> None:
            for updates in queue:
                for data in updates:
                    await self.feed(data)

        await asyncio.gather(*(asyncio.create_task(worker()) for _ in range(concurrency)))

    async def paced(self, users: list[list[Json]], rate: float) -> None:
        """Updates offered at ``rate`` per second overall (open loop): user ``i`` answers every
        ``len(users) / rate`` seconds, users evenly staggered. A late answer (the previous one
        still in work) is sent at once and its latency counts from when it was due."""
        gap = len(users) / rate
        start = time.perf_counter() + 0.1

        async def user(index: int, updates: list[Json]) -> None:
            for step, data in enumerate(updates):
                due = start + (index / rate) + step * gap
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.feed(data, since=due)

        await asyncio.gather(*(asyncio.create_task(user(i, u)) for i, u in enumerate(users)))

    def latencies(self) -> list[float]:
        return [h.seconds for h in self.handled]


async def reply_times(url: str, handled: Sequence[Handled]) -> tuple[list[float], list[float]]:
    """Seconds from handing each update to PTB until the first message it caused was sent, and
    until the last one was (*answer complete*): the outbox's ``sent_at``, stamped when the Bot
    API answered the send; keys are ``tg:<update_id>:<n>``."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxRow.key, OutboxRow.sent_at).where(
                    OutboxRow.platform == "telegram", OutboxRow.key.like("tg:%")
                )
            )
            sent: dict[str, list[tuple[str, float]]] = {}
            for key, at in rows:
                if at is not None:
                    _, uid, n = key.split(":")
                    sent.setdefault(uid, []).append((n, at.timestamp()))
    finally:
        await engine.dispose()
    first, complete = [], []
    for h in handled:
        times = sent.get(str(h.update_id))
        if times:
            first.extend(max(0.0, at - h.handed_at) for n, at in times if n == "0")
            complete.append(max(0.0, max(at for _, at in times) - h.handed_at))
    return first, complete
