"""The core's shape: typed messages survive the outbox codec, the audit vocabulary is one list,
and an update's conversation state commits with the update's transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.intake import Input, Step, choice
from handlers.messages import Button, Reply, ticket_button
from handlers.outbound import (
    KINDS,
    Card,
    Digest,
    FileRef,
    Mark,
    Notice,
    Outbound,
    Place,
    PostRef,
    Relay,
    ToChat,
    UnknownMessage,
    decode,
    encode,
    kind_of,
    mergeable,
    merged,
    ticket_of,
)
from handlers.tickets import AUDIT_ACTIONS, Action, Event
from storage import conversations, outbox
from storage.db import SessionFactory
from storage.models import OutboxRow
from tests.conftest import Clock
from tests.factories import ALICE, make_desk

OPS = Place("slack", "C0OPS")
CHAT = Place("telegram", "1001")

EVERY_MESSAGE: list[Outbound] = [
    ToChat(CHAT, Reply("Which category?", ((Button("Printers", "i:category:printers"),),)), None),
    ToChat(CHAT, Reply("Hi", ask_contact="Share", remove_keyboard=True), 7, PostRef(OPS, "1.2")),
    ToChat(CHAT, Reply("Update on the known problem #7:\nETA 30 min"), 9, broadcast=3),
    ToChat(
        CHAT, Reply("See"), 7, PostRef(OPS, "1.3"), FileRef("document", "F2", "telegram", "a.pdf")
    ),
    Card(OPS, 7, "operator_card"),
    Card(Place("slack", "C0SYS"), 7, "specialist_card:sysadmins", ("S0ONCALL",), "VPN down"),
    Relay(OPS, 7, "operator_card", "It jams", "Alice"),
    Relay(OPS, 7, "operator_card", "", "Alice", "requester", FileRef("photo", "F1", "telegram")),
    Mark(OPS, "1.2", "delivered", 7),
    Notice(OPS, 7, "⏰ #7: 75% of the response time is used", "operator_card", ("U0BOB",)),
    Notice(OPS, 7, "🚨 #7 breached"),
    Digest(Place("slack", "C0DIGEST"), "2026-11-16T00:00:00+02:00", "2026-11-23", "Europe/Kyiv"),
]


def test_every_message_type_has_a_kind_and_is_exercised() -> None:
    assert set(KINDS) == set(get_args(Outbound))
    assert {type(message) for message in EVERY_MESSAGE} == set(get_args(Outbound))


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: type(m).__name__)
def test_the_codec_round_trips_every_message(message: Outbound) -> None:
    decoded = decode(kind_of(message), message.place, encode(message), ticket_of(message))
    assert decoded == message


@pytest.mark.parametrize(
    ("kind", "payload"),
    [("poll", {"question": "?"}), ("card", {"role": "operator_card"}), ("relay", {})],
)
def test_a_row_no_message_type_reads_is_an_unknown_message(kind: str, payload: dict) -> None:
    with pytest.raises(UnknownMessage):
        decode(kind, OPS, payload, None)


def test_the_audit_vocabulary_is_moves_and_events() -> None:
    assert {"claim", "take", "respond", "csat_rating", "sla_breach"} <= AUDIT_ACTIONS
    assert not {a.value for a in Action} & {e.value for e in Event}


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        ("c:12:yes", (12, "yes")),
        ("s:5", (5, "")),
        ("r:" + "9" * 18 + ":5", (10**18 - 1, "5")),
        ("r:" + "9" * 19 + ":5", None),  # more digits than any ticket number
        ("c:-1:yes", None),
        ("c:1e3:yes", None),
        ("c:12:yes:extra", None),
        ("c::yes", None),
        ("", None),
    ],
)
def test_ticket_buttons_are_parsed_strictly(data: str, parsed: tuple[int, str] | None) -> None:
    assert ticket_button(data) == parsed


async def test_a_failed_commit_leaves_the_conversation_where_it_was(
    engine: AsyncEngine, sessions: SessionFactory, clock: Clock
) -> None:
    """The update's answer, its state and its replies commit together: when the commit fails,
    the redelivered update meets the same question and is handled as if new."""
    desk = make_desk(sessions, clock)
    key = (ALICE.platform, ALICE.id)
    assert await desk.requesters.user_message(ALICE, ALICE.id, Input(), "tg:1", command="new")
    printers = Input(choice=choice(Step.CATEGORY, "printers"))

    def fail(connection: object) -> None:
        raise RuntimeError("the database went away at commit")

    event.listen(engine.sync_engine, "commit", fail)
    try:
        with pytest.raises(RuntimeError):
            await desk.requesters.user_message(ALICE, ALICE.id, printers, "tg:2")
    finally:
        event.remove(engine.sync_engine, "commit", fail)
    async with sessions() as session:
        state = await conversations.load(session, key)
        rows = (await session.execute(select(OutboxRow.key))).scalars().all()
    assert state is not None and state["step"] == Step.CATEGORY
    assert not [row for row in rows if row.startswith("tg:2:")]

    assert await desk.requesters.user_message(ALICE, ALICE.id, printers, "tg:2")
    async with sessions() as session:
        state = await conversations.load(session, key)
    assert state is not None and state["step"] == Step.DESCRIPTION
    assert not await desk.requesters.user_message(ALICE, ALICE.id, printers, "tg:2")


def test_a_requesters_waiting_messages_merge_in_order_until_something_else() -> None:
    first = Relay(OPS, 7, "operator_card", "it jams", "Alice")
    following: list[Outbound] = [
        Relay(OPS, 7, "operator_card", "again", "Alice"),
        Relay(OPS, 7, "operator_card", "and again", "Alice"),
        Relay(OPS, 8, "operator_card", "another ticket", "Bob"),
        Relay(OPS, 7, "operator_card", "after Bob", "Alice"),
    ]
    combined, taken = merged(first, following)
    assert (combined.text, taken) == ("it jams\nagain\nand again", 2)
    with_file = Relay(OPS, 7, "operator_card", "", "Alice", file=FileRef("photo", "F", "telegram"))
    assert merged(first, [with_file, *following]) == (first, 0)
    assert not mergeable(Relay(OPS, 7, "operator_card", "x", "Sam", voice="specialist"))
    long = [Relay(OPS, 7, "operator_card", "y" * 1000, "Alice") for _ in range(5)]
    assert merged(first, long)[1] == 2  # one post stays within MERGED_MAX characters


async def test_cards_go_ahead_of_thread_messages_in_a_channel(
    sessions: SessionFactory, clock: Clock
) -> None:
    flood = [Relay(OPS, 1, "operator_card", f"message {i}", "Alice") for i in range(5)]
    async with sessions.begin() as session:
        for i, message in enumerate([*flood, Card(OPS, 2, "operator_card")]):
            await outbox.enqueue(session, message, f"q:{i}:0", clock.now)
    async with sessions.begin() as session:
        lease = timedelta(seconds=4)
        rows = await outbox.claim_due(session, clock.now, lease, 10, ["slack"], set())
    assert [row.kind for row in rows] == ["card"]
