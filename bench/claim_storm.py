"""Scenario 2, claim storm: operators click Claim on the same ticket cards at the same moment,
as signed ``block_actions`` requests to ``POST /slack/events`` of a running HelpdeskApp
(slack_mode=http, the fake Slack Web API behind it). Exactly one click per ticket may win.

    python -m bench.claim_storm [--operators 50] [--tickets 500] [--clickers 50] [--db ...]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

from sqlalchemy import select

from bench.common import (
    OPS,
    Backend,
    ErrorCount,
    Json,
    Meter,
    RoundTrips,
    World,
    desk_settings,
    drained,
    parser,
    pct,
    profiled,
    run,
    running_desk,
    save,
    show,
    slack_fields,
    until,
)
from bot.slack_blocks import CARD_ACTION_PREFIX
from bot.standins.samples import DRAFT
from handlers.messages import UserRef
from handlers.tickets import Action
from handlers.tickets_service import ActionResult
from storage.db import SessionFactory
from storage.models import MessageLinkRow, TicketEventRow, TicketRow

SETTLE_TIMEOUT = 600.0


def plan(operators: list[str], cards: list[tuple[int, str]], clickers: int) -> list[Any]:
    """Ticket ``j`` is clicked by ``clickers`` operators, starting with operator ``j``; every
    operator goes through its cards in ticket order, so they race on the same card."""
    clicks: dict[str, list[tuple[int, str]]] = {user: [] for user in operators}
    for j, card in enumerate(cards):
        for i in range(clickers):
            clicks[operators[(j + i) % len(operators)]].append(card)
    return [[user, cards] for user, cards in clicks.items() if cards]


async def main(args: argparse.Namespace) -> None:
    backend = Backend(args.db)
    operators = [f"U0OP{i:03d}" for i in range(args.operators)]
    try:
        async with World("slack") as world:
            users = [[user, f"Operator{i}"] for i, user in enumerate(operators)]
            await world.call("setup", users=users, channels=[[OPS, "it-operators", operators]])
            result = await storm(args, backend, world, operators)
    finally:
        backend.cleanup()
    show(f"claim storm ({args.db})", result.items())
    save(f"claim_storm-{args.db}" + ("-profiled" if args.profile else ""), result)


async def storm(args: argparse.Namespace, backend: Backend, world: World, ops: list[str]) -> Json:
    url = await backend.fresh()
    config = desk_settings(url, backend.redis_url, **slack_fields(world))
    port = config.http_port
    async with running_desk(config, slack_spacing=0.0) as app:
        desk = app.desk
        for i in range(args.tickets):
            requester = UserRef("slack", f"U0REQ{i:05d}", f"Requester {i}")
            await desk.requesters.file_ticket(requester, requester.id, DRAFT, f"bench:file:{i}")
        await drained(url, "slack", SETTLE_TIMEOUT)
        async with app.sessions() as session:
            rows = await session.execute(
                select(MessageLinkRow.ticket_id, MessageLinkRow.message_id)
            )
            cards = sorted((int(ticket), str(ts)) for ticket, ts in rows)
        claims: dict[str, tuple[float, float, bool]] = {}
        original = desk.operators.claim

        async def claim(number: int, operator: UserRef, cause: str) -> ActionResult:
            start = time.monotonic()
            outcome = await original(number, operator, cause)
            claims[cause] = (start, time.monotonic(), outcome.ok)
            return outcome

        desk.operators.claim = claim  # type: ignore[method-assign]
        trips = RoundTrips(app.engine)
        await world.call("clear")
        meter = Meter().start()
        with ErrorCount() as errors, profiled(args.profile, f"claim_storm-profile-{args.profile}"):
            answer = await world.call(
                "storm",
                url=f"http://127.0.0.1:{port}/slack/events",
                channel=OPS,
                action_id=f"{CARD_ACTION_PREFIX}{Action.CLAIM.value}",
                plan=plan(ops, cards, min(args.clickers, len(ops))),
            )
            clicks = answer["clicks"]
            await until(lambda: len(claims) >= len(clicks), SETTLE_TIMEOUT)
            meter.stop()
            settle = Meter().start()
            await drained(url, "slack", SETTLE_TIMEOUT)
            settle.stop()
        seen = await world.call("stats")
        verdict = await audit(app.sessions, claims, len(cards))
    first = min(c[3] for c in clicks)
    done = [claims.get(f"slack:act:{c[1]}:{c[0]}") for c in clicks]
    last = max(d[1] for d in done if d is not None)
    return {
        "db": args.db,
        "operators": len(ops),
        "tickets": len(cards),
        "clicks": len(clicks),
        "clicks_per_s": round(len(clicks) / (last - first), 1),
        "ack_ms": pct([c[4] - c[3] for c in clicks]),
        "click_to_claimed_ms": pct([d[1] - c[3] for c, d in zip(clicks, done, strict=True) if d]),
        "claim_call_ms": pct([d[1] - d[0] for d in done if d]),
        "http_status": dict(Counter(str(c[5]) for c in clicks)),
        "cpu_us_per_click": round(1e6 * meter.cpu / len(clicks)),
        "db_per_click": trips.per(len(clicks)),
        "cards_settled_s": round(settle.wall, 2),
        "slack_api_calls": seen["counts"],
        "check": {**verdict, "log_warnings": dict(errors.seen.most_common(5))},
    }


async def audit(
    sessions: SessionFactory, claims: dict[str, tuple[float, float, bool]], tickets: int
) -> Json:
    """What the audit log says: one ``claim`` event per ticket, by the operator it is assigned
    to, and as many winning clicks as tickets."""
    async with sessions() as session:
        events = await session.execute(
            select(TicketEventRow.ticket_id, TicketEventRow.actor).where(
                TicketEventRow.action == Action.CLAIM.value
            )
        )
        claimed = [(int(ticket), str(actor)) for ticket, actor in events]
        assigned = await session.execute(select(TicketRow.id, TicketRow.assignee_id))
        owners = {int(ticket): owner for ticket, owner in assigned}
    per_ticket = Counter(ticket for ticket, _ in claimed)
    agree = all(actor.split(":")[1] == owners[ticket] for ticket, actor in claimed)
    winners = sum(ok for _, _, ok in claims.values())
    return {
        "tickets_claimed_once": sum(1 for n in per_ticket.values() if n == 1),
        "tickets_claimed_twice_or_more": sum(1 for n in per_ticket.values() if n > 1),
        "tickets_never_claimed": tickets - len(per_ticket),
        "assignee_matches_audit_log": agree,
        "winning_clicks": winners,
        "exactly_one_winner_per_ticket": winners == tickets == len(claimed) == len(per_ticket),
    }


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--operators", type=int, default=50)
    cli.add_argument("--tickets", type=int, default=500)
    cli.add_argument("--clickers", type=int, default=50, help="operators clicking each ticket")
    cli.add_argument("--profile", choices=("cprofile", "pyinstrument"), default="")
    run(main, cli.parse_args())
