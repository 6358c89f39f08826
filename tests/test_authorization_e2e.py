"""Who may do what, at every entry point, through the real slack-bolt stack: a matrix of
person x action x card -> allowed or refused (with the reason the person is told).

People: Bob (operator, member of the operators' channel), Dave (operator by the allow-list),
Sam (a specialist in every line's channel), Lena (a specialist of the POS line only) and
Mallory (a workspace member who is neither). A thread message can only come from a member of
the channel (Slack sends no event otherwise); a button press is checked even so.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.slack_context import STALE_BUTTON
from bot.standins import slack_requests as sr
from handlers.tickets import Status
from tests.slack_desk import (
    BOB,
    DAVE,
    MALLORY,
    OPS,
    SPECIALIST,
    USER,
    Desk,
    posted,
)
from tests.test_second_line_e2e import POS, SYSADMINS, escalate, press, specialist_card

LENA = "U0LENA"
REFUSED_HERE = "your message was not relayed"


async def ephemeral_to(desk: Desk, user: str, since: int, contains: str) -> None:
    """Wait for a private answer to ``user`` (chat.postEphemeral or response_url)."""

    def told() -> bool:
        return any(contains in str(e.get("text", "")) for e in desk.fake.ephemerals(user=user))

    for _ in range(250):
        if told():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user} was not told {contains!r}: {desk.fake.ephemerals(user=user)}")


async def reaches_requester(desk: Desk, text: str, since: int) -> bool:
    """Whether ``text`` reaches the requester's DM (waiting until the desk went quiet)."""
    try:
        await desk.fake.wait_for(posted(USER, text), since=since, timeout=1.5)
    except (AssertionError, TimeoutError):
        return False
    return True


async def taken_by(desk: Desk, number: int, who: str) -> None:
    for _ in range(250):
        ticket = await desk.app.desk.ticket(number)
        if ticket is not None and ticket.specialist == who:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"#{number} was not taken by {who}")


@pytest.fixture
async def lena(desk: Desk) -> str:
    desk.fake.add_user(LENA, "lena", "Lena Terminals", display_name="Lena")
    desk.fake.add_channel(POS, "pos", members=[LENA, SPECIALIST, desk.fake.bot_user_id])
    return LENA


@pytest.mark.parametrize(
    ("who", "allowed"),
    [(BOB, True), (DAVE, True), (SPECIALIST, False), (MALLORY, False)],
)
async def test_claim_on_the_operators_card(desk: Desk, who: str, allowed: bool) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await desk.click(who, number, "claim", ts)
    if allowed:
        await desk.fake.wait_for(lambda c: c.method == "chat.update", since=mark)
        assert await desk.status(number) == Status.CLAIMED
    else:
        await ephemeral_to(desk, who, mark, "Only operators can do this")
        assert await desk.status(number) == Status.NEW


@pytest.mark.parametrize(("who", "allowed"), [(BOB, True), (MALLORY, False)])
async def test_words_in_the_operators_thread(desk: Desk, who: str, allowed: bool) -> None:
    """Mallory joined the operators' channel but is not on the operators' allow-list."""
    desk.fake.add_channel(OPS, "it-operators", members=[BOB, MALLORY, desk.fake.bot_user_id])
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    await desk.ok(sr.message_event(OPS, who, f"hello from {who}", thread_ts=ts))
    assert await reaches_requester(desk, f"hello from {who}", mark) is allowed
    if not allowed:
        await ephemeral_to(desk, who, mark, REFUSED_HERE)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [(SPECIALIST, True), (LENA, False), (BOB, False), (MALLORY, False)],
)
async def test_take_and_words_on_the_sysadmins_card(
    desk: Desk, lena: str, who: str, allowed: bool
) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    await escalate(desk, number, ts)
    spec_ts = await specialist_card(desk, number)
    mark = len(desk.fake.calls)
    await press(desk, who, "spec_take", number, SYSADMINS, spec_ts)
    if allowed:
        await taken_by(desk, number, who)
    else:
        await ephemeral_to(desk, who, mark, "Only this line's specialists")
        ticket = await desk.app.desk.ticket(number)
        assert ticket is not None and ticket.specialist is None
    if allowed:  # and what they write there reaches the requester
        mark = len(desk.fake.calls)
        await desk.ok(sr.message_event(SYSADMINS, who, f"words of {who}", thread_ts=spec_ts))
        assert await reaches_requester(desk, f"words of {who}", mark)


async def test_a_stale_line_card_moves_nothing(desk: Desk, lena: str) -> None:
    """Escalated to the sysadmins, then to POS: the sysadmins' old card takes nothing and its
    thread no longer reaches the requester; the POS card does."""
    number, ts = await desk.file()
    await desk.claim(number, ts)
    await escalate(desk, number, ts)
    old_ts = await specialist_card(desk, number)
    await escalate(desk, number, ts, line="pos")
    pos_ts = await specialist_card(desk, number, "pos")
    mark = len(desk.fake.calls)
    await press(desk, SPECIALIST, "spec_take", number, SYSADMINS, old_ts)
    await ephemeral_to(desk, SPECIALIST, mark, "not with this line any more")
    ticket = await desk.app.desk.ticket(number)
    assert ticket is not None and ticket.line == "pos" and ticket.specialist is None
    await desk.ok(sr.message_event(SYSADMINS, SPECIALIST, "from the old card", thread_ts=old_ts))
    assert not await reaches_requester(desk, "from the old card", mark)
    await press(desk, LENA, "spec_take", number, POS, pos_ts)
    await taken_by(desk, number, LENA)


@pytest.mark.parametrize(
    "value",
    ["999999999999999999999", "-1", "1e3", "", "2"],
    ids=["too-long", "negative", "float", "empty", "another-ticket"],
)
async def test_forged_or_misplaced_button_values_are_no_longer_valid(
    desk: Desk, value: str
) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    request = sr.block_actions(
        BOB,
        "ticket_claim",
        value,
        channel=OPS,
        message_ts=ts,
        message=desk.fake.message(OPS, ts),
        response_url=desk.fake.new_response_url(channel=OPS, message_ts=ts, user=BOB),
    )
    await desk.ok(request)
    await ephemeral_to(desk, BOB, mark, STALE_BUTTON)
    assert await desk.status(number) == Status.NEW
