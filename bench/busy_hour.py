"""Scenario 5, busy hour: ``N`` open tickets whose requesters (Telegram) write about once a
minute each while operators answer in the cards' threads (Slack), both fakes enforcing the
platforms' limits. How long a requester's message takes to appear in its Slack thread, and an
operator's reply to reach the requester, when every thread is in one operators' channel that
Slack lets us post to about once a second.

    python -m bench.busy_hour [--tickets 50 --tickets 200 --tickets 500] [--seconds 180] [--db ...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import aiohttp
from sqlalchemy import or_, select

from bench.common import (
    OPS,
    Backend,
    ErrorCount,
    Feeder,
    Json,
    Stream,
    World,
    desk_settings,
    drained,
    parser,
    pct,
    run,
    running_desk,
    save,
    show,
    slack_fields,
    telegram_fields,
)
from bot.standins import slack_requests as sr
from bot.standins.samples import DRAFT
from bot.standins.telegram_api import TgUser
from handlers.messages import UserRef
from storage import links
from storage.db import make_engine
from storage.models import MessageLinkRow, OutboxRow, TicketRow

OPERATORS = [f"U0OP{i:03d}" for i in range(10)]
FIRST_REQUESTER = 7_000_000
SETUP_TIMEOUT = 900.0
ORIGIN = {"tg": "telegram", "slack": "slack"}  # cause prefix -> the platform it came from


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.db)
    result: Json = {
        "db": args.db,
        "seconds": args.seconds,
        "every_s": args.every,
        "answered": args.answered,
    }
    try:
        async with (
            World("telegram", enforce_limits=True) as telegram,
            World("slack", enforce_limits=True) as slack,
        ):
            users = [[user, f"Operator{i}"] for i, user in enumerate(OPERATORS)]
            await slack.call("setup", users=users, channels=[[OPS, "it-operators", OPERATORS]])
            for tickets in args.tickets:
                result[f"n{tickets}"] = await busy_hour(args, backend, telegram, slack, tickets)
                show(
                    f"busy hour, {tickets} open tickets ({args.db})", result[f"n{tickets}"].items()
                )
    finally:
        backend.cleanup()
    save(
        f"busy_hour-{args.db}" + ("" if args.answered == 1 else f"-answered-{args.answered:g}"),
        result,
    )


async def busy_hour(
    args: argparse.Namespace, backend: Backend, telegram: World, slack: World, tickets: int
) -> Json:
    """Open ``tickets`` tickets (cards posted with Slack's limit lifted, to save the set-up
    time), then run ``--seconds`` of conversation with every limit in force."""
    url = await backend.fresh()
    fields = {**telegram_fields(telegram), **slack_fields(slack)}
    requesters = [
        TgUser(uid, f"User{uid}", "Bench", username=f"u{uid}", language_code="en")
        for uid in range(FIRST_REQUESTER, FIRST_REQUESTER + tickets)
    ]
    await slack.call("enforce", on=False)
    async with running_desk(
        desk_settings(url, backend.redis_url, **fields), slack_spacing=0.0
    ) as app:
        for user in requesters:
            ref = UserRef("telegram", str(user.id), f"{user.first_name} {user.last_name}")
            await app.desk.requesters.file_ticket(ref, str(user.id), DRAFT, f"bench:file:{user.id}")
        for platform in ("slack", "telegram"):
            await drained(url, platform, SETUP_TIMEOUT)
    threads = await _threads(url)
    await slack.call("enforce", on=True)
    await telegram.call("clear")
    await slack.call("clear")

    settings = desk_settings(url, backend.redis_url, **fields)
    async with running_desk(settings) as app:
        assert app.telegram is not None
        events = f"http://127.0.0.1:{settings.http_port}/slack/events"
        with ErrorCount() as errors:
            async with aiohttp.ClientSession() as session:
                hour = Hour(args, Feeder(app.telegram.application), session, events)
                await asyncio.gather(
                    *(hour.conversation(user, threads[str(user.id)]) for user in requesters)
                )
            ended = time.time()
            await asyncio.sleep(args.grace)
        delays = await _delays(url, hour, ended + args.grace)
        seen = [await w.call("stats") for w in (telegram, slack)]
    return {
        "requester_messages": len(hour.feeder.handled),
        "operator_replies": len(hour.operator_posts),
        "requester_to_thread_ms": delays["to_thread"],
        "operator_to_requester_ms": delays["to_requester"],
        "not_sent_by_the_end": delays["late"],
        "http_429": {"telegram": seen[0]["rate_limited"], "slack": seen[1]["rate_limited"]},
        "slack_calls": seen[1]["counts"],
        "log_warnings": dict(errors.seen.most_common(5)),
    }


class Hour:
    """The conversations of one run, on one clock: requesters' updates go to PTB through
    ``feeder``, operators' thread messages to the desk's Slack endpoint ``events``."""

    def __init__(
        self,
        args: argparse.Namespace,
        feeder: Feeder,
        session: aiohttp.ClientSession,
        events: str,
    ) -> None:
        self.seconds, self.every, self.answered = args.seconds, args.every, args.answered
        self.feeder, self.session, self.events = feeder, session, events
        self.start = time.monotonic() + 0.5
        self.operator_posts: dict[str, float] = {}  # cause -> when posted (wall clock)

    async def conversation(self, user: TgUser, thread: str) -> None:
        """One ticket's conversation: the requester writes at random, ``every`` seconds apart
        on average (a Poisson process: people do not take turns), and an operator answers in
        the thread halfway to the requester's next message (to an ``answered`` share of them)."""
        rng = random.Random(user.id)  # the same conversations in every run
        answers = random.Random(-user.id)
        stream = Stream()
        operator = OPERATORS[user.id % len(OPERATORS)]
        at, n = rng.uniform(0, self.every), 0
        while at < self.seconds:
            n += 1
            gap = rng.expovariate(1 / self.every)
            await _until(self.start + at)
            update = stream.number(user.text(f"Still broken, message {n}"))
            update["update_id"] = user.id * 1000 + n  # unique across requesters
            await self.feeder.feed(update)
            if at + gap / 2 < self.seconds and answers.random() < self.answered:
                await _until(self.start + at + gap / 2)
                await self.answer(operator, thread, f"Looking at it ({n})")
            at += gap

    async def answer(self, operator: str, thread: str, text: str) -> None:
        request = sr.message_event(OPS, operator, text, thread_ts=thread)
        self.operator_posts[f"slack:{request.payload['event_id']}"] = time.time()
        status, _ = await sr.post(self.session, self.events, request)
        assert status == 200, status


async def _until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _threads(url: str) -> dict[str, str]:
    """Requester id -> the ts of their ticket's card in the operators' channel."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(TicketRow.requester_id, MessageLinkRow.message_id)
                .join(MessageLinkRow, MessageLinkRow.ticket_id == TicketRow.id)
                .where(MessageLinkRow.role == links.OPERATOR_CARD)
            )
            return {str(requester): str(ts) for requester, ts in rows}
    finally:
        await engine.dispose()


async def _delays(url: str, hour: Hour, cut_off: float) -> dict[str, Any]:
    """Requester message -> its relay sent into the thread (the outbox's ``sent_at``; keys
    ``tg:<update_id>:<n>``), operator reply -> its relay sent to the requester (keys
    ``slack:<event_id>:<n>``): the rows a cause queued for the *other* platform. A relay not
    sent by ``cut_off`` counts with its delay so far."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxRow.key, OutboxRow.platform, OutboxRow.sent_at).where(
                    or_(OutboxRow.key.like("tg:%"), OutboxRow.key.like("slack:%"))
                )
            )
            relays: dict[str, list[float | None]] = {}
            for key, platform, at in rows:
                cause = key.rsplit(":", 1)[0]
                if platform != ORIGIN[cause.split(":", 1)[0]]:
                    relays.setdefault(cause, []).append(at and at.timestamp())
    finally:
        await engine.dispose()
    late = {"to_thread": 0, "to_requester": 0}

    def delay(cause: str, since: float, direction: str) -> float:
        sent = relays.get(cause, [None])
        if None in sent:
            late[direction] += 1
            return cut_off - since
        return max(0.0, max(sent) - since)  # type: ignore[type-var]

    handled = hour.feeder.handled
    to_thread = [delay(f"tg:{h.update_id}", h.handed_at, "to_thread") for h in handled]
    posts = hour.operator_posts.items()
    to_requester = [delay(cause, at, "to_requester") for cause, at in posts]
    return {"to_thread": pct(to_thread), "to_requester": pct(to_requester), "late": late}


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument(
        "--tickets",
        type=int,
        action="append",
        help="open tickets of a run (repeatable; default 50, 200 and 500)",
    )
    cli.add_argument("--seconds", type=float, default=180, help="length of each run")
    cli.add_argument(
        "--every", type=float, default=60, help="seconds between a requester's messages"
    )
    cli.add_argument(
        "--answered",
        type=float,
        default=1.0,
        help="share of requester messages answered (each answer also gets a receipt mark)",
    )
    cli.add_argument(
        "--grace", type=float, default=15, help="seconds to wait for relays after a run"
    )
    options = cli.parse_args()
    options.tickets = options.tickets or [50, 200, 500]
    run(main, options)
