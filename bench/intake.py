"""Scenario 1, intake throughput: simulated Telegram users each file a ticket through the real
PTB Application, adapter, desk, storage and delivery worker; then the same update stream
through a bare PTB bot (one INSERT transaction and one reply per update) for comparison.

    python -m bench.intake [--users 1000] [--concurrency 32] [--rate 50 --rate 400] [--db ...]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bench.common import (
    UNPACED_BOT,
    Backend,
    ErrorCount,
    Feeder,
    Json,
    Meter,
    RedisCommands,
    RoundTrips,
    Stream,
    World,
    desk_settings,
    drained,
    parser,
    pct,
    profiled,
    reply_times,
    run,
    running_desk,
    save,
    show,
    telegram_fields,
)
from bot.telegram import build_application
from storage.db import make_engine, make_sessions
from storage.models import ConversationRow, TicketRow

WARM_UP_USERS = 20
DRAIN_TIMEOUT = 600.0


async def ours(
    args: argparse.Namespace, backend: Backend, world: World, stream: Stream, rate: float = 0
) -> Json:
    """The real desk. Closed loop (no ``rate``): ``--users`` as fast as they go, replies sent
    with no spacing. Paced: ``rate`` updates/s for about ``--paced-seconds``, with the
    production pace per chat (a burst of ``TELEGRAM_PRIVATE_BURST``, then 1 s apart), which
    ``world`` then enforces."""
    paced = rate > 0
    url = await backend.fresh()
    settings = desk_settings(url, backend.redis_url, **telegram_fields(world), **UNPACED_BOT)
    async with running_desk(settings, telegram_spacing=1.0 if paced else 0.0) as app:
        assert app.telegram is not None
        trips = RoundTrips(app.engine)
        feeder = Feeder(app.telegram.application, trips)
        await feeder.closed_loop(stream.users(WARM_UP_USERS, first=1), 8)
        await drained(url, "telegram", DRAIN_TIMEOUT)
        users = stream.users(round(rate * args.paced_seconds / 11) if paced else args.users)
        updates = sum(map(len, users))
        feeder.handled.clear()
        trips.reset()
        redis = RedisCommands(backend.redis_url)
        await redis.start()
        await world.call("clear")
        meter = Meter().start()
        tool = "" if paced else args.profile
        with ErrorCount() as errors, profiled(tool, f"intake-profile-{tool}"):
            if paced:
                await feeder.paced(users, rate)
            else:
                await feeder.closed_loop(users, args.concurrency)
            inbound = Meter(wall=meter.stop().wall, cpu=meter.cpu)
            failed = await drained(url, "telegram", DRAIN_TIMEOUT)
        meter.stop()
        redis_commands = await redis.stop()
        async with app.sessions() as session:
            tickets = await _count(session, TicketRow)
            talking = await _count(session, ConversationRow)
    first_sent, complete = await reply_times(url, feeder.handled)
    http_429 = (await world.call("stats"))["rate_limited"]
    return {
        "mode": f"paced at {rate:g}/s" if paced else f"closed loop x{args.concurrency}",
        "updates": updates,
        "updates_per_s": round(updates / inbound.wall, 1),
        "wall_s": round(inbound.wall, 2),
        "drain_s": round(meter.wall - inbound.wall, 2),
        "cpu_us_per_update": round(1e6 * meter.cpu / updates),
        "cpu_us_per_update_inbound_phase": round(1e6 * inbound.cpu / updates),
        "latency_ms": pct(feeder.latencies()),
        "reply_lag_ms": pct(first_sent),
        "answer_complete_ms": pct(complete),
        "http_429": http_429,
        "db_per_update": trips.per(updates),
        "redis_commands_per_update": redis_commands and round(redis_commands / updates, 2),
        "check": {
            "tickets_filed": tickets - WARM_UP_USERS,
            "users": len(users),
            "conversations_left": talking,
            "failed_messages": failed,
            "log_warnings": dict(errors.seen.most_common(5)),
        },
    }


async def _count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def baseline(
    args: argparse.Namespace, backend: Backend, world: World, stream: Stream, stack: str
) -> Json:
    """A bare PTB Application whose one handler inserts one row in one transaction and sends
    one reply, on the same kind of database. ``stack`` "bare": PTB's defaults (httpx) and
    SQLAlchemy's (aiosqlite / asyncpg), the bot of issue 7; "ours": the desk's Bot API
    transport (bot/telegram_request.py) and engine (storage/db.py, storage/sqlite_driver.py),
    the floor of the desk's own stack."""
    url = await backend.fresh()
    engine = make_engine(url) if stack == "ours" else _bare_engine(url)
    table = Table(
        "baseline_updates",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("update_id", BigInteger),
        Column("chat", String(64)),
        Column("at", DateTime(timezone=True)),
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
    sessions = make_sessions(engine)

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        async with sessions.begin() as session:
            values = {"update_id": update.update_id, "chat": str(chat.id), "at": datetime.now(UTC)}
            await session.execute(table.insert().values(**values))
        await context.bot.send_message(chat.id, "Got it")

    application = _bare_application(world, stack)
    application.add_handler(TypeHandler(Update, handle))
    await application.initialize()
    try:
        trips = RoundTrips(engine)
        feeder = Feeder(application, trips)
        await feeder.closed_loop(stream.users(WARM_UP_USERS, first=1), 8)
        users = stream.users(args.users)
        updates = sum(map(len, users))
        feeder.handled.clear()
        trips.reset()
        meter = Meter().start()
        with ErrorCount() as errors:
            await feeder.closed_loop(users, args.concurrency)
        meter.stop()
    finally:
        await application.shutdown()
        await engine.dispose()
    return {
        "mode": f"closed loop x{args.concurrency}, {stack} stack",
        "updates": updates,
        "updates_per_s": round(updates / meter.wall, 1),
        "wall_s": round(meter.wall, 2),
        "cpu_us_per_update": round(1e6 * meter.cpu / updates),
        "latency_ms": pct(feeder.latencies()),
        "db_per_update": trips.per(updates),
        "check": {"log_warnings": dict(errors.seen.most_common(5))},
    }


def _bare_engine(url: str) -> AsyncEngine:
    """SQLAlchemy's defaults; SQLite in WAL mode as in issue 7's reference figures."""
    engine = create_async_engine(url)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _wal)
    return engine


def _wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _bare_application(world: World, stack: str) -> Application:  # type: ignore[type-arg]
    if stack == "ours":
        return build_application(world.info["token"], world.info["url"])
    api = world.info["url"].rstrip("/")
    builder = ApplicationBuilder().token(world.info["token"]).base_url(f"{api}/bot")
    return builder.concurrent_updates(True).build()


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.db)
    stream = Stream()
    try:
        async with World("telegram") as world:
            result: Json = {"db": args.db, "users": args.users}
            if not args.paced_only:
                result["ours"] = await ours(args, backend, world, stream)
                result["baseline"] = await baseline(args, backend, world, stream, "bare")
                result["baseline_our_stack"] = await baseline(args, backend, world, stream, "ours")
                result["telegram_api_calls"] = (await world.call("stats"))["counts"]
        # Paced runs against a fake that enforces the pace per chat. Not the bot-wide ~30
        # messages/s: 50 updates/s ask for ~59 messages/s, more than one bot may send at all.
        async with World("telegram", enforce_limits=True, global_per_second=10**6) as world:
            for rate in args.rate or ():
                result[f"ours_paced_{rate:g}"] = await ours(args, backend, world, stream, rate)
    finally:
        backend.cleanup()
    if not args.paced_only:
        ours_cpu = result["ours"]["cpu_us_per_update"]
        for name in ("baseline", "baseline_our_stack"):
            ratio = ours_cpu / result[name]["cpu_us_per_update"]
            result[f"cpu_ratio_ours_to_{name}"] = round(ratio, 2)
    report(result)
    variant = "-profiled" if args.profile else "-paced" if args.paced_only else ""
    save(f"intake-{args.db}{variant}", result)


def report(result: Json) -> None:
    for name, phase in result.items():
        if not name.startswith(("ours", "baseline")):
            continue
        rows = [(key, value) for key, value in phase.items() if key != "mode"]
        show(f"{name} ({phase['mode']}, {result['db']})", rows)
    if "cpu_ratio_ours_to_baseline" in result:
        print(f"\nCPU per update, ours / bare PTB bot: {result['cpu_ratio_ours_to_baseline']}")
        same = result["cpu_ratio_ours_to_baseline_our_stack"]
        print(f"CPU per update, ours / bare bot on our stack: {same}")


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--users", type=int, default=1000, help="simulated users (11 updates each)")
    cli.add_argument("--concurrency", type=int, default=32, help="users in flight, closed loop")
    cli.add_argument(
        "--rate",
        type=float,
        action="append",
        help="updates/s of a paced run (repeatable; default 50 and 400; 0: none)",
    )
    cli.add_argument("--paced-seconds", type=float, default=30, help="length of a paced run")
    cli.add_argument(
        "--paced-only",
        action="store_true",
        help="only the paced runs (result saved as intake-<db>-paced)",
    )
    cli.add_argument(
        "--profile",
        choices=("cprofile", "pyinstrument"),
        default="",
        help="profile the closed-loop run of the desk (pyinstrument must be pip-installed)",
    )
    options = cli.parse_args()
    options.rate = [r for r in (options.rate or [50, 400]) if r > 0]
    run(main, options)
