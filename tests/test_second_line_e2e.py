"""The second line end to end through slack-bolt: escalation to a specialist channel, specialists
taking, answering, returning and resolving, re-escalation, and SLA reminders and breaches fired
exactly once with a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import time

import pytest

from bot.app import HelpdeskApp
from bot.standins import slack_requests as sr
from handlers.batch import Batch
from handlers.config import BusinessHours
from handlers.messages import UserRef
from handlers.tickets import Action, Priority, Status
from handlers.tickets_service import Done
from storage import links
from storage import tickets as store
from tests.conftest import POSTGRES_URL
from tests.delivery_world import outbox_settled
from tests.slack_desk import (
    BOB,
    ONCALL,
    OPS,
    SPECIALIST,
    SUPERVISOR,
    USER,
    Desk,
    card_edit,
    posted,
)

SYSADMINS, POS = "C0SYSADMINS", "C0POSTERMINALS"


async def escalate(desk: Desk, number: int, ts: str, line: str = "sysadmins", **extra) -> None:
    """Bob presses Escalate on the card and submits the modal."""
    mark = len(desk.fake.calls)
    await desk.click(BOB, number, "escalate", ts)
    opened = await desk.fake.wait_for("views.open", since=mark)
    assert opened.params["view"]["callback_id"] == "escalate"
    values = {
        "line": {"line": sr.static_select_value(line)},
        "impact": {"impact": sr.static_select_value(extra.get("impact", "high"))},
        "note": {"note": extra.get("note", "Fuser error E-52, needs a part")},
    }
    await desk.ok(sr.view_submission(BOB, "escalate", str(number), values))


async def specialist_card(desk: Desk, number: int, line: str = "sysadmins") -> str:
    """The ts of the ticket's card in the line's channel, once posted."""
    for _ in range(250):
        async with desk.app.sessions() as session:
            link = await links.get(session, number, links.specialist_card(line))
        if link is not None:
            return link.message_id
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {line} card for #{number}")


async def press(desk: Desk, user: str, action: str, number: int, channel: str, ts: str) -> None:
    await desk.ok(desk.press_request(user, action, number, channel, ts))


async def test_escalation_posts_a_specialist_card_pinging_the_group(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    await escalate(desk, number, ts)
    card = await desk.fake.wait_for(posted(SYSADMINS, f"#{number}"), since=mark)
    assert f"<!subteam^{ONCALL}>" in card.params["text"]
    assert "Fuser error E-52" in str(card.params["blocks"])
    await desk.fake.wait_for(card_edit("Escalated* to System administrators"), since=mark)
    await desk.fake.wait_for(posted(USER, "passed to our specialists"), since=mark)
    ticket = await desk.app.desk.ticket(number)
    assert ticket is not None
    assert (ticket.status, ticket.line, ticket.assignee) == (Status.ESCALATED, "sysadmins", BOB)
    assert ticket.priority is Priority.P1  # high urgency x high impact


async def test_a_move_while_the_specialist_card_is_posted_shows_on_it(desk: Desk) -> None:
    """The ticket is resolved while Slack is still answering the card's post: no refresh can
    be queued for a card whose link is not recorded yet, so the sender itself catches up."""
    number, ts = await desk.file()
    await desk.claim(number, ts)

    async def resolve_meanwhile() -> None:
        bob = UserRef("slack", BOB, "Bob")
        done = await desk.app.desk.operators.resolve(number, bob, "Reseated", "test:meanwhile")
        assert isinstance(done, Done)

    desk.fake.during_next("chat.postMessage", resolve_meanwhile, channel=SYSADMINS)
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    await outbox_settled(desk.app.sessions)
    card = desk.fake.message(SYSADMINS, spec_ts)
    assert card is not None
    assert "*Resolved* by Bob" in str(card["blocks"])
    assert "Reseated" in str(card["blocks"])


async def test_specialist_takes_and_replies_to_the_user_and_the_operator_thread(desk: Desk):
    number, ts = await desk.file()
    await desk.claim(number, ts)
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    mark = len(desk.fake.calls)
    await press(desk, SPECIALIST, "spec_take", number, SYSADMINS, spec_ts)
    await desk.fake.wait_for(card_edit("taken by Sam"), since=mark)
    reply = sr.message_event(SYSADMINS, SPECIALIST, "Ordered a new fuser", thread_ts=spec_ts)
    await desk.ok(reply)
    await desk.fake.wait_for(posted(USER, "Ordered a new fuser"), since=mark)
    mirrored = await desk.fake.wait_for(posted(OPS, "Ordered a new fuser", thread_ts=ts))
    assert mirrored.params["text"] == "*Sam* (specialist): Ordered a new fuser"
    # ...and the user's answer reaches both threads
    mark = len(desk.fake.calls)
    await desk.say("Thanks, when will it arrive?")
    await desk.fake.wait_for(posted(OPS, "when will it arrive", thread_ts=ts), since=mark)
    await desk.fake.wait_for(
        posted(SYSADMINS, "when will it arrive", thread_ts=spec_ts), since=mark
    )


async def test_a_specialists_internal_note_stays_internal(desk: Desk) -> None:
    number, ts = await desk.file()
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    mark = len(desk.fake.calls)
    await desk.ok(
        sr.message_event(SYSADMINS, SPECIALIST, "// vendor ticket 4411", thread_ts=spec_ts)
    )
    await desk.fake.wait_for(posted(OPS, "vendor ticket 4411", thread_ts=ts), since=mark)
    assert not any("vendor ticket" in str(m.get("text")) for m in desk.fake.messages(desk.dm))


async def test_non_specialists_cannot_take(desk: Desk) -> None:
    number, ts = await desk.file()
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    mark = len(desk.fake.calls)
    await press(desk, "U0MALLORY", "spec_take", number, SYSADMINS, spec_ts)
    assert "Only this line's specialists" in await desk.answer("U0MALLORY", mark)
    ticket = await desk.app.desk.ticket(number)
    assert ticket is not None and ticket.specialist is None


async def test_return_to_first_line_then_re_escalate_to_another_line(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    mark = len(desk.fake.calls)
    await press(desk, SPECIALIST, "spec_return", number, SYSADMINS, spec_ts)
    await desk.fake.wait_for(card_edit("Back with the first line"), since=mark)
    assert await desk.status(number) == Status.CLAIMED
    await escalate(desk, number, ts, line="pos", impact="low")
    await specialist_card(desk, number, "pos")
    await desk.fake.wait_for(card_edit("Moved* to POS terminals"), since=mark)
    ticket = await desk.app.desk.ticket(number)
    assert ticket is not None and (ticket.line, ticket.priority) == ("pos", Priority.P3)
    async with desk.app.sessions() as session:
        moves = [(e.action, e.after) for e in await store.events(session, number)]
    assert [m for m in moves if m[0] in ("escalate", "return_to_first_line")] == [
        ("escalate", "escalated"),
        ("return_to_first_line", "claimed"),
        ("escalate", "escalated"),
    ]


async def test_specialist_resolves_and_the_user_confirms(desk: Desk) -> None:
    number, ts = await desk.file()
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    mark = len(desk.fake.calls)
    await press(desk, SPECIALIST, "spec_resolve", number, SYSADMINS, spec_ts)
    await desk.fake.wait_for("views.open", since=mark)
    note = {"note": {"note": "Replaced the fuser"}}
    await desk.ok(sr.view_submission(SPECIALIST, "resolve", str(number), note))
    await desk.fake.wait_for(posted(USER, "Replaced the fuser"), since=mark)
    await desk.press(f"c:{number}:yes")
    await desk.fake.wait_for(card_edit("Closed"), since=mark)
    assert await desk.status(number) == Status.CLOSED


async def test_sla_reminder_then_breach_fire_once_across_a_restart(desk: Desk) -> None:
    number, ts = await desk.file()  # P2: respond within 30 min
    line = desk.app.desk.alarms
    desk.clock.advance(minutes=23)
    mark = len(desk.fake.calls)
    assert await line.fire_due() == 1
    await desk.fake.wait_for(posted(OPS, "75% of the response time", thread_ts=ts), since=mark)
    await desk.fake.wait_for(card_edit("Response due in 7 min"), since=mark)
    assert await line.fire_due() == 0
    # a restart between reminder and breach: a new process on the same database
    restarted = HelpdeskApp(desk.app.settings, desk.app.config, desk.clock)
    desk.clock.advance(minutes=8)
    try:
        assert await restarted.desk.alarms.fire_due() == 1
        assert await line.fire_due() == 0
    finally:
        await restarted.engine.dispose()
        if restarted.redis is not None:
            await restarted.redis.aclose()
    breach = await desk.fake.wait_for(posted(OPS, "breached its response target"), since=mark)
    assert breach.params.get("thread_ts") is None  # re-announced at the top of the channel
    assert f"<@{SUPERVISOR}>" in breach.params["text"]  # printers' line has no on-call group
    async with desk.app.sessions() as session:
        fired = [
            e.action for e in await store.events(session, number) if e.action.startswith("sla")
        ]
    assert fired == ["sla_reminder", "sla_breach"]


async def test_breach_of_an_escalated_ticket_pings_owner_and_line(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    await escalate(desk, number, ts, impact="medium")  # P2: resolve within 8 h
    spec_ts = await specialist_card(desk, number)
    desk.clock.advance(hours=9)
    mark = len(desk.fake.calls)
    await desk.app.desk.alarms.fire_due()
    ping = await desk.fake.wait_for(posted(SYSADMINS, "breached", thread_ts=spec_ts), since=mark)
    assert f"<@{BOB}>" in ping.params["text"] and f"<!subteam^{ONCALL}>" in ping.params["text"]


async def test_waiting_on_the_user_pauses_the_resolution_clock(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    async with desk.app.sessions.begin() as session:
        ticket = await store.get(session, number)
        moved = await store.move(session, ticket, Action.ASK_USER, "test", desk.clock())
    async with desk.app.sessions.begin() as session:
        await desk.app.desk.service.changed(Batch(session, "pause", desk.clock()), moved)
    desk.clock.advance(hours=30)
    assert await desk.app.desk.alarms.fire_due() == 0


async def test_after_hours_the_user_is_told_when_to_expect_an_answer(desk: Desk) -> None:
    hours = BusinessHours(timezone="Europe/Kyiv", start=time(9), end=time(18))
    desk.app.desk.service.config = desk.app.desk.config.model_copy(update={"business_hours": hours})
    # Saturday 21 Nov 2026 (in the past: the delivery worker runs on the wall clock)
    desk.clock.now = desk.clock.now.replace(day=21, hour=12)
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await escalate(desk, number, ts)
    told = await desk.fake.wait_for(posted(USER, "expect an answer after"), since=mark)
    assert "2026-11-23 09:00 (Europe/Kyiv)" in told.params["text"]


@pytest.mark.skipif(not POSTGRES_URL, reason="several processes share PostgreSQL, not SQLite")
async def test_two_schedulers_on_one_database_fire_each_deadline_once(desk: Desk) -> None:
    for _ in range(3):
        await desk.file()
    desk.clock.advance(minutes=31)  # each respond clock: reminder and breach due
    other = HelpdeskApp(desk.app.settings, desk.app.config, desk.clock)
    try:
        counts = await asyncio.gather(desk.app.desk.alarms.fire_due(), other.desk.alarms.fire_due())
    finally:
        await other.engine.dispose()
        if other.redis is not None:
            await other.redis.aclose()
    assert sum(counts) == 6
    async with desk.app.sessions() as session:
        for number in (1, 2, 3):
            fired = [e.action for e in await store.events(session, number)]
            assert fired.count("sla_reminder") == 1 and fired.count("sla_breach") == 1
