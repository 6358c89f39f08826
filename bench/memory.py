"""Scenario 4, memory: one desk process, idle; then with open tickets; then with intake
conversations in progress (each user has sent /start, picked a category, described the problem).

    python -m bench.memory [--tickets 10000] [--conversations 10000] [--db sqlite|postgres]

RSS is VmRSS after a full garbage collection and malloc_trim(0). tracemalloc (started once the
process is warm) tells Python's own allocations apart; the memory tracemalloc itself uses and what
the benchmark allocates are taken off the RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    FIRST_USER,
    UNPACED_BOT,
    Backend,
    Feeder,
    Json,
    Meter,
    Stream,
    World,
    desk_settings,
    drained,
    parser,
    rss_bytes,
    run,
    running_desk,
    save,
    show,
    telegram_fields,
)
from bot.app import HelpdeskApp
from bot.standins.samples import DRAFT
from handlers.desk import Desk
from handlers.messages import UserRef
from storage.models import ConversationRow

STEPS_IN_PROGRESS = 3  # /start, category, description: the bot now asks for the location
FIRST_TICKET_USER = 30_000_000
BENCH = str(Path(__file__).resolve().parent)
DRAIN_TIMEOUT = 1800.0


def measure() -> Json:
    rss = rss_bytes()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    return {"rss": rss, "traced": traced, "tracemalloc_own": tracemalloc.get_tracemalloc_memory()}


def grew(before: Json, after: Json, bench_bytes: int, count: int) -> Json:
    """Growth between two measurements, in total and per item."""
    rss = after["rss"] - before["rss"] - (after["tracemalloc_own"] - before["tracemalloc_own"])
    rss -= bench_bytes
    traced = after["traced"] - before["traced"] - bench_bytes
    return {
        "rss_growth_mb": round(rss / 2**20, 2),
        "python_heap_growth_mb": round(traced / 2**20, 2),
        "rss_bytes_each": round(rss / count),
        "python_heap_bytes_each": round(traced / count),
    }


def top_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[str]:
    """The ten source lines whose allocations grew most (the benchmark's own left out)."""
    keep = [
        tracemalloc.Filter(False, f"{BENCH}/*"),
        tracemalloc.Filter(False, tracemalloc.__file__),
    ]
    stats = after.filter_traces(keep).compare_to(before.filter_traces(keep), "lineno")
    return [
        f"{s.size_diff / 1024:+.0f} KiB {s.count_diff:+d} blocks {s.traceback}" for s in stats[:10]
    ]


def bench_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still held by code in bench/ (e.g. the feeder's bookkeeping)."""
    own = snapshot.filter_traces([tracemalloc.Filter(True, f"{BENCH}/*")])
    return sum(stat.size for stat in own.statistics("filename"))


async def open_tickets(desk: Desk, count: int, concurrency: int, first: int = 0) -> None:
    """``count`` tickets filed the way Submit files them, by as many requesters."""
    numbers = iter(range(first, first + count))

    async def worker() -> None:
        for i in numbers:
            uid = str(FIRST_TICKET_USER + i)
            user = UserRef("telegram", uid, f"Requester {i}", "en", f"r{i}")
            await desk.requesters.file_ticket(user, uid, DRAFT, f"bench:ticket:{i}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


@dataclass
class Point:
    """The process after a stage: memory, tracemalloc's snapshot, the benchmark's own bytes."""

    memory: Json
    snapshot: tracemalloc.Snapshot

    @classmethod
    def now(cls) -> Point:
        return cls(measure(), tracemalloc.take_snapshot())

    def growth_to(self, later: Point, count: int) -> Json:
        mine = bench_bytes(later.snapshot) - bench_bytes(self.snapshot)
        return grew(self.memory, later.memory, mine, count)


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.db)
    stream = Stream()
    tickets, talks = args.tickets // 2, args.conversations // 2
    try:
        async with World("telegram") as world:
            url = await backend.fresh()
            settings = desk_settings(
                url, backend.redis_url, **telegram_fields(world), **UNPACED_BOT
            )
            async with running_desk(settings, telegram_spacing=0.0) as app:
                assert app.telegram is not None
                feeder = Feeder(app.telegram.application, record=False)

                async def talk(count: int, first: int) -> None:
                    users = stream.each_user(count, first, steps=STEPS_IN_PROGRESS)
                    await feeder.closed_loop(users, args.concurrency)

                await feeder.closed_loop(stream.users(50, first=1), 8)  # warm every code path
                await open_tickets(app.desk, 50, 4, first=FIRST_TICKET_USER)
                await drained(url, "telegram", DRAIN_TIMEOUT)
                idle_rss = rss_bytes()
                tracemalloc.start()
                points = [Point.now()]
                meter = Meter().start()
                rest = args.tickets - tickets
                stages: list[Callable[[], Awaitable[None]]] = [
                    lambda: open_tickets(app.desk, tickets, args.concurrency),
                    lambda: open_tickets(app.desk, rest, args.concurrency, tickets),
                    lambda: talk(talks, FIRST_USER),
                    lambda: talk(args.conversations - talks, FIRST_USER + talks),
                ]
                for stage in stages:
                    await stage()
                    await drained(url, "telegram", DRAIN_TIMEOUT)
                    points.append(Point.now())
                meter.stop()
                in_progress = await conversations_in_progress(app)
            tracemalloc.stop()
    finally:
        backend.cleanup()
    idle, half_t, all_t, half_c, end = points
    result = {
        "db": args.db,
        "idle_rss_mb": round(idle_rss / 2**20, 1),
        "tickets": args.tickets,
        "conversations": args.conversations,
        "conversations_in_progress_checked": in_progress,
        "with_tickets": idle.growth_to(all_t, args.tickets),
        "with_tickets_second_half": half_t.growth_to(all_t, args.tickets - tickets),
        "with_conversations": all_t.growth_to(end, args.conversations),
        "with_conversations_second_half": half_c.growth_to(end, args.conversations - talks),
        "total_rss_mb": round(end.memory["rss"] / 2**20, 1),
        "top_growth_tickets": top_growth(idle.snapshot, all_t.snapshot),
        "top_growth_conversations": top_growth(all_t.snapshot, end.snapshot),
        "wall_s": round(meter.wall, 1),
    }
    show(f"memory ({args.db})", result.items())
    save(f"memory-{args.db}", result)


async def conversations_in_progress(app: HelpdeskApp) -> int:
    async with app.sessions() as session:
        query = select(func.count()).select_from(ConversationRow)
        return int((await session.execute(query)).scalar_one())


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--tickets", type=int, default=10_000)
    cli.add_argument("--conversations", type=int, default=10_000)
    cli.add_argument("--concurrency", type=int, default=32)
    run(main, cli.parse_args())
