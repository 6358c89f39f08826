"""Storage on a real database (SQLite, or PostgreSQL in CI): schema, claims, audit, outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC

from sqlalchemy import inspect, select

from handlers.messages import Reply, UserRef
from handlers.outbound import Place, ToChat
from handlers.tickets import Status
from storage import outbox
from storage import tickets as store
from storage.db import SessionFactory
from storage.migrate import upgrade
from storage.models import OutboxRow
from tests.conftest import Clock
from tests.factories import file_ticket, make_desk


async def test_migrations_create_every_table_from_empty(engine) -> None:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {
        "tickets",
        "ticket_events",
        "attachments",
        "ticket_messages",
        "users",
        "conversations",
        "message_links",
        "outbox",
        "processed_updates",
        "alembic_version",
    } <= names
    await upgrade(engine)  # running it again is a no-op


async def test_ticket_round_trip_keeps_every_field_and_utc(sessions: SessionFactory, clock: Clock):
    desk = make_desk(sessions, clock)
    number = await file_ticket(desk)
    ticket = await desk.ticket(number)
    assert ticket is not None
    assert ticket.status is Status.NEW
    assert (ticket.category, ticket.location, ticket.phone, ticket.asset) == (
        "printers",
        "HQ, room 301",
        "+380671234567",
        "INV-0042",
    )
    assert ticket.requester.contact == "@alice"
    assert ticket.created_at == clock.now and ticket.created_at.tzinfo is not None
    assert ticket.created_at.utcoffset().total_seconds() == 0
    assert ticket.created_at.tzinfo == UTC or ticket.created_at.utcoffset().total_seconds() == 0


async def test_twenty_concurrent_claims_have_exactly_one_winner(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    number = await file_ticket(desk)
    operators = [UserRef("slack", f"U{i:03}", f"Operator {i}") for i in range(20)]
    claims = (desk.operators.claim(number, op, f"click:{op.id}") for op in operators)
    results = await asyncio.gather(*claims)
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    winner = operators[results.index(winners[0])]
    losers = [r for r in results if not r.ok]
    assert all(f"already taken by {winner.name}" in r.reason for r in losers)
    ticket = await desk.ticket(number)
    assert ticket is not None and ticket.assignee == winner.id
    async with sessions() as session:
        claims = [e for e in await store.events(session, number) if e.action == "claim"]
    assert len(claims) == 1


async def test_every_move_is_an_audit_event(sessions: SessionFactory, clock: Clock) -> None:
    desk = make_desk(sessions, clock)
    number = await file_ticket(desk)
    bob = UserRef("slack", "U1", "Bob")
    clock.advance(minutes=5)
    assert (await desk.operators.claim(number, bob, "c1")).ok
    clock.advance(minutes=30)
    assert (await desk.operators.resolve(number, bob, "Replaced the fuser", "c2")).ok
    async with sessions() as session:
        history = await store.events(session, number)
    assert [(e.action, e.before, e.after) for e in history] == [
        ("open", None, "new"),
        ("claim", "new", "claimed"),
        ("resolve", "claimed", "resolved"),
    ]
    assert history[1].actor == "slack:U1:Bob"
    assert history[2].note == "Replaced the fuser"
    assert history[2].at == clock.now


async def test_disallowed_move_is_refused_and_changes_nothing(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    number = await file_ticket(desk)
    bob = UserRef("slack", "U1", "Bob")
    assert (await desk.operators.reject(number, bob, "duplicate", "c1")).ok
    result = await desk.operators.claim(number, bob, "c2")
    assert not result.ok and "is rejected, so you cannot claim it" in result.reason
    ticket = await desk.ticket(number)
    assert ticket is not None and ticket.status is Status.REJECTED


async def test_outbox_idempotency_key_stores_a_message_once(
    sessions: SessionFactory, clock: Clock
) -> None:
    message = ToChat(Place("telegram", "42"), Reply("hi"))
    for _ in range(2):
        async with sessions.begin() as session:
            await outbox.enqueue(session, message, "update:1:0", clock.now)
    async with sessions() as session:
        rows = (await session.execute(select(OutboxRow))).scalars().all()
    assert len(rows) == 1


async def test_outbox_serves_each_destination_in_order(sessions: SessionFactory, clock: Clock):
    async with sessions.begin() as session:
        for i in range(3):
            for chat in ("a", "b"):
                message = ToChat(Place("telegram", chat), Reply(f"{chat}{i}"))
                await outbox.enqueue(session, message, f"k:{chat}:{i}", clock.now)
    seen = []
    for _ in range(3):
        async with sessions.begin() as session:
            rows = await outbox.claim_due(
                session, clock.now, clock.now - clock.now, 10, ["telegram"], set()
            )
            # lease of zero: only the heads are eligible regardless
            assert len(rows) == 2
            for row in rows:
                seen.append(row.payload["text"])
                await outbox.mark_sent(session, row.id, {}, clock.now)
    assert seen == ["a0", "b0", "a1", "b1", "a2", "b2"]


async def test_each_due_sla_moment_is_claimed_once_by_concurrent_schedulers(
    sessions: SessionFactory, clock: Clock
) -> None:
    from datetime import timedelta

    from escalation import sla
    from storage import sla_clocks

    desk = make_desk(sessions, clock)
    numbers = [await file_ticket(desk, cause=f"t{i}") for i in range(5)]
    async with sessions.begin() as session:
        for number in numbers:
            clock_ = sla.start(sla.Kind.RESPOND, timedelta(minutes=20), clock.now, None, 0.75)
            await sla_clocks.save(session, number, clock_)
    later = clock.now + timedelta(minutes=30)

    async def scheduler() -> list[sla_clocks.Due]:
        async with sessions.begin() as session:
            return await sla_clocks.claim_due(session, later)

    results = await asyncio.gather(*(scheduler() for _ in range(4)))
    fired = sorted((d.ticket_id, d.kind, d.moment) for result in results for d in result)
    assert fired == sorted(
        (n, sla.Kind.RESPOND, m) for n in numbers for m in ("reminder", "breach")
    )
    async with sessions.begin() as session:
        again = await sla_clocks.claim_due(session, later)
    assert again == []


async def test_migrations_match_the_models(engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    async with engine.connect() as connection:
        diffs = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diffs == []
