"""Scenario 5, broadcast on a major incident: one update to every requester linked to it
(``--requesters``, each in a private Telegram chat of their own, ``--blocked`` of them have
blocked the bot), delivered by the real DeliveryWorker and TelegramSender to the fake Bot API
with Telegram's limits enforced (429 past 30 messages/s per bot or 1/s per private chat). The
broadcast is released at the desk's ``broadcast_per_second`` (20 by default), under the bot's
limit; "fraction of the limit" is against that pace.

    python -m bench.broadcast [--requesters 1000] [--blocked 10] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    Backend,
    ErrorCount,
    Json,
    Meter,
    World,
    at_the_limits,
    desk_settings,
    drained,
    parser,
    run,
    running_desk,
    save,
    show,
    slack_fields,
    telegram_fields,
)
from bench.delivery import TELEGRAM_PER_BOT, TELEGRAM_PER_CHAT, rates
from bot.standins.samples import DRAFT
from handlers.clock import utc_now
from handlers.messages import UserRef
from handlers.tickets import Level, Requester, Ticket
from storage import incidents
from storage import tickets as store
from storage.models import OutboxRow

FIRST_CHAT = 30_000_000
OPERATOR = UserRef("slack", "U0BENCH", "Bench Operator")
DRAIN_TIMEOUT = 1800.0


async def main(args: argparse.Namespace) -> None:
    result = await at_the_limits(args, broadcast)
    show(f"telegram ({args.db})", result["telegram"].items())
    show("overall", [(k, v) for k, v in result.items() if k != "telegram"])
    save(f"broadcast-{args.db}", result)


async def broadcast(args: argparse.Namespace, backend: Backend, tg: World, slack: World) -> Json:
    url = await backend.fresh()
    config = desk_settings(url, backend.redis_url, **telegram_fields(tg), **slack_fields(slack))
    async with running_desk(config) as app:  # production pacing: the settings' defaults
        assert app.worker is not None
        # One message per chat: only the broadcast's pace (below the bot's limit) bounds it.
        pace = min(app.desk.config.desk.broadcast_per_second, TELEGRAM_PER_BOT)
        parent = await _incident(app, args.requesters)
        step = args.requesters // (args.blocked + 1)
        blocked = [FIRST_CHAT + step * (i + 1) for i in range(args.blocked)]
        await tg.call("block", chats=blocked)
        await tg.call("clear")
        meter = Meter().start()
        with ErrorCount() as errors:
            start = time.monotonic()
            result = await app.desk.incidents.broadcast(
                parent, OPERATOR, "ETA 30 min: the network switch is being replaced", "bench:1"
            )
            assert result.ok, result
            queued = time.monotonic() - start
            failed = await drained(url, "telegram", DRAIN_TIMEOUT)
        meter.stop()
        async with app.sessions() as session:
            tally = await incidents.latest_tally(session, parent)
            stmt = select(func.max(OutboxRow.attempts)).where(OutboxRow.platform == "telegram")
            most_attempts = (await session.execute(stmt)).scalar_one()
    seen = await tg.call("stats", sends=True)
    telegram = rates(seen["sends"], "sendMessage", start, TELEGRAM_PER_CHAT, args.requesters / pace)
    telegram["broadcast_per_second"] = pace
    telegram["share_of_bot_limit"] = round(telegram["rate_per_s"] / TELEGRAM_PER_BOT, 3)
    telegram["blocked_answers_403"] = seen["counts"].get("sendMessage:403", 0)
    return {
        "db": args.db,
        "requesters": args.requesters,
        "blocked": args.blocked,
        "telegram": telegram,
        "broadcast_queued_s": round(queued, 3),
        "failed_rows": failed,
        "most_attempts_per_message": most_attempts,
        "card_says": tally.text() if tally else "",
        "cpu_us_per_message": round(1e6 * meter.cpu / args.requesters),
        "wall_s": round(meter.wall, 1),
        "log_warnings": sum(errors.seen.values()),
        "log_warning_kinds": dict(errors.seen.most_common(3)),
    }


async def _incident(app: Any, requesters: int) -> int:
    """A major incident whose own requester and ``requesters - 1`` linked tickets' requesters
    are each a private chat of their own (set up directly in storage, not measured)."""
    now = utc_now()
    template = Ticket(
        requester=Requester("telegram", "", ""),
        category=DRAFT.category,
        description=DRAFT.description,
        location=DRAFT.location,
        phone=DRAFT.phone,
        urgency=Level(DRAFT.urgency),
        impact=Level.MEDIUM,
        created_at=now,
    )
    async with app.sessions.begin() as session:
        stored = []
        for i in range(requesters):
            who = Requester("telegram", str(FIRST_CHAT + i), f"Requester {i}")
            stored.append(await store.insert(session, replace(template, requester=who), "bench"))
        parent, *children = stored
        parent = await incidents.declare_major(session, parent, "bench", now)
        for child in children:
            await incidents.link(session, child, parent, "bench", now)
    assert parent.number is not None
    return parent.number


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--requesters", type=int, default=1000, help="people the incident affects")
    cli.add_argument("--blocked", type=int, default=10, help="of them, who blocked the bot")
    run(main, cli.parse_args())
