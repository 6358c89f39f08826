"""Scenario 3, delivery at the platform limits: a burst of outbox rows (texts to many Telegram
chats, ticket cards to one Slack channel) delivered by the real DeliveryWorker and senders to
fake APIs that answer 429 like the platforms do (Telegram: 1 msg/s per private chat, 30 msg/s
per bot; Slack chat.postMessage: 1/s per channel).

    python -m bench.delivery [--messages 2000] [--chats 200] [--cards 120] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    OPS,
    Backend,
    ErrorCount,
    Json,
    Meter,
    World,
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
from bot.standins.samples import DRAFT
from handlers.clock import utc_now
from handlers.messages import Reply
from handlers.outbound import Card, Place, ToChat
from handlers.tickets import Level, Requester, Ticket
from storage import links, outbox
from storage import tickets as store
from storage.models import OutboxRow

FIRST_CHAT = 20_000_000
TELEGRAM_PER_BOT, TELEGRAM_PER_CHAT, SLACK_PER_CHANNEL = 30.0, 1.0, 1.0
DRAIN_TIMEOUT = 1800.0


def burst(messages: int, chats: int, cards: list[int]) -> list[ToChat | Card]:
    """Texts round-robin over the chats, with the cards spread evenly among them."""
    texts = [
        ToChat(Place("telegram", str(FIRST_CHAT + i % chats)), Reply(f"#{i}"))
        for i in range(messages)
    ]
    posts = [
        Card(Place("slack", OPS), n, links.OPERATOR_CARD) for n in cards
    ]
    placed = [(i / len(texts), 0, m) for i, m in enumerate(texts)]
    placed += [(j / len(posts), 1, m) for j, m in enumerate(posts)]
    return [message for *_, message in sorted(placed, key=lambda p: p[:2])]


def rates(
    sends: list[list[Any]], method: str, start: float, per_destination: float, ideal: float
) -> Json:
    """What a fake saw: sends accepted and refused (429); the time from the burst to the last
    accepted send against the ``ideal`` time at the platform's limits (the fraction of the limit
    achieved); the busiest second; each destination's rate against its own limit."""
    mine = [s for s in sends if s[2] == method]
    ok = sorted((t, chat) for t, chat, _, status in mine if status == 200)
    by_chat: dict[str, list[float]] = defaultdict(list)
    for t, chat in ok:
        by_chat[chat].append(t)
    drain = (ok[-1][0] - start) if ok else 0.0
    busiest = Counter(int(t - start) for t, _ in ok).most_common(1)
    per_chat = [(len(ts) - 1) / (ts[-1] - ts[0]) for ts in by_chat.values() if len(ts) > 1]
    return {
        "sent": len(ok),
        "http_429": sum(1 for *_, status in mine if status == 429),
        "other_errors": sum(1 for *_, status in mine if status not in (200, 429)),
        "drain_s": round(drain, 2),
        "ideal_drain_s": round(ideal, 2),
        "fraction_of_limit": round(ideal / drain, 3) if drain else None,
        "rate_per_s": round(len(ok) / drain, 2) if drain else None,
        "busiest_second": busiest[0][1] if busiest else 0,
        "destination_rate_median": round(sorted(per_chat)[len(per_chat) // 2], 3)
        if per_chat
        else None,
        "destination_rate_max_vs_limit": round(max(per_chat) / per_destination, 3)
        if per_chat
        else None,
    }


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.db)
    try:
        async with (
            World("telegram", enforce_limits=True) as telegram,
            World("slack", enforce_limits=True) as slack,
        ):
            result = await deliver(args, backend, telegram, slack)
    finally:
        backend.cleanup()
    for name in ("telegram", "slack"):
        show(f"{name} ({args.db})", result[name].items())
    show("overall", [(k, v) for k, v in result.items() if k not in ("telegram", "slack")])
    save(f"delivery-{args.db}", result)


async def deliver(args: argparse.Namespace, backend: Backend, tg: World, slack: World) -> Json:
    url = await backend.fresh()
    config = desk_settings(url, backend.redis_url, **telegram_fields(tg), **slack_fields(slack))
    async with running_desk(config) as app:  # production pacing: the settings' defaults
        assert app.worker is not None
        now = utc_now()
        async with app.sessions.begin() as session:
            cards = [await _ticket(session, i, now) for i in range(args.cards)]
        await tg.call("clear")
        await slack.call("clear")
        meter = Meter().start()
        with ErrorCount() as errors:
            async with app.sessions.begin() as session:
                for n, message in enumerate(burst(args.messages, args.chats, cards)):
                    await outbox.enqueue(session, message, f"bench:{n}", now)
            start = time.monotonic()
            app.worker.wake()
            failed = await drained(url, "telegram", DRAIN_TIMEOUT)
            failed += await drained(url, "slack", DRAIN_TIMEOUT)
        meter.stop()
        async with app.sessions() as session:
            tried = OutboxRow.attempts
            attempts = await session.execute(
                select(OutboxRow.platform, func.max(tried), func.avg(tried)).group_by(
                    OutboxRow.platform
                )
            )
            tries = {p: {"max": int(top), "mean": round(float(avg), 2)} for p, top, avg in attempts}
    seen_tg = await tg.call("stats", sends=True)
    seen_slack = await slack.call("stats", sends=True)
    per_chat = -(-args.messages // args.chats)
    ideal = max(args.messages / TELEGRAM_PER_BOT, (per_chat - 1) / TELEGRAM_PER_CHAT)
    telegram = rates(seen_tg["sends"], "sendMessage", start, TELEGRAM_PER_CHAT, ideal)
    telegram["attempts_per_message"] = tries.get("telegram")
    ideal = (args.cards - 1) / SLACK_PER_CHANNEL
    cards_seen = rates(seen_slack["sends"], "chat.postMessage", start, SLACK_PER_CHANNEL, ideal)
    cards_seen["attempts_per_message"] = tries.get("slack")
    return {
        "db": args.db,
        "messages": args.messages,
        "chats": args.chats,
        "cards": args.cards,
        "telegram": telegram,
        "slack": cards_seen,
        "failed_rows": failed,
        "cpu_us_per_message": round(1e6 * meter.cpu / (args.messages + args.cards)),
        "wall_s": round(meter.wall, 1),
        "log_warnings": sum(errors.seen.values()),
        "log_warning_kinds": dict(errors.seen.most_common(3)),
    }


async def _ticket(session: Any, i: int, now: Any) -> int:
    requester = Requester("telegram", str(FIRST_CHAT + i), f"Requester {i}")
    ticket = Ticket(
        requester=requester,
        category=DRAFT.category,
        description=DRAFT.description,
        location=DRAFT.location,
        phone=DRAFT.phone,
        urgency=Level(DRAFT.urgency),
        impact=Level.MEDIUM,
        created_at=now,
    )
    stored = await store.insert(session, ticket, "bench")
    assert stored.number is not None
    return stored.number


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--messages", type=int, default=2000, help="Telegram texts in the burst")
    cli.add_argument("--chats", type=int, default=200, help="private chats they go to")
    cli.add_argument("--cards", type=int, default=120, help="Slack cards (300 takes 5 min)")
    run(main, cli.parse_args())
