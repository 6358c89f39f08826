"""The operator desk in Slack, end to end: the real HelpdeskApp serving the real slack-bolt stack
over HTTP, signed requests in, a fake Slack Web API out (bot/standins).

Requesters here are Slack users (DM to the app); the desk itself does not care where they are.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack import NOT_OPERATOR, USAGE, cause_of, command_of, dedupe_key
from bot.slack_blocks import escape_mrkdwn
from bot.slack_context import People
from bot.slack_sender import SlackSender, build_client
from bot.standins import slack_requests as sr
from bot.standins.slack_api import FakeSlackAPI
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.messages import Reply, UserRef
from handlers.outbound import (
    Card,
    FileRef,
    Mark,
    Outbound,
    Place,
    Relay,
    ToChat,
    UnknownMessage,
    encode,
    kind_of,
    ticket_of,
)
from handlers.outcomes import RetryLater, Sent, Undeliverable
from handlers.tickets import Status
from storage import outbox
from storage.db import SessionFactory
from storage.models import OutboxRow, TicketMessageRow, TicketRow
from tests.conftest import Clock
from tests.factories import DRAFT
from tests.slack_desk import (
    BOB,
    CAROL,
    DAVE,
    INJECTION,
    MALLORY,
    NAMES,
    OPS,
    USER,
    Desk,
    button_values,
    card_edit,
    posted,
    reaction,
)

# --- the card -----------------------------------------------------------------------------------


async def test_a_ticket_appears_as_a_card_in_the_operators_channel(desk: Desk) -> None:
    number, ts = await desk.file()
    card = desk.fake.message(OPS, ts)
    assert card is not None
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    assert card["blocks"][0]["text"]["text"] == f"🟠 #{number} · P2 · Printers and office equipment"
    for part in ("Ursula User (Slack, <@U0USER>)", "HQ, room 301", "INV-0042", DRAFT.description):
        assert part in shown
    assert list(button_values(card)) == [str(number)] * 1  # one value, six buttons
    actions = [
        e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [
        "ticket_claim",
        "ticket_escalate",
        "ticket_resolve",
        "ticket_reject",
        "solution_reply",
        "ticket_link",
        "ticket_declare_major",
    ]
    await desk.fake.wait_for(posted(USER, f"Request #{number} is registered"))


async def test_two_operators_claim_at_once_and_exactly_one_wins(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await asyncio.gather(
        desk.click(BOB, number, "claim", ts), desk.click(CAROL, number, "claim", ts)
    )
    await desk.fake.wait_for(lambda c: c.method == "response_url", since=mark)
    ticket = await desk.app.desk.ticket(number)
    assert ticket is not None and ticket.status == Status.CLAIMED
    winner, loser = (BOB, CAROL) if ticket.assignee == BOB else (CAROL, BOB)
    assert ticket.assignee_name == NAMES[winner]
    assert [e["text"] for e in desk.fake.ephemerals(user=loser)] == [
        f"Ticket #{number} is already taken by {NAMES[winner]}."
    ]
    assert desk.fake.ephemerals(user=winner) == []
    edit = await desk.fake.wait_for(card_edit(f"Claimed* by {NAMES[winner]}"), since=mark)
    actions = [
        e["action_id"]
        for b in edit.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert actions[0] == "ticket_release"
    await desk.fake.wait_for(posted(USER, f"was taken by {NAMES[winner]}"), since=mark)


async def test_a_non_operator_is_refused_and_nothing_changes(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await desk.click(MALLORY, number, "claim", ts)
    assert await desk.answer(MALLORY, mark) == NOT_OPERATOR
    assert await desk.status(number) == Status.NEW
    assert not [c for c in desk.fake.calls[mark:] if c.method == "chat.update"]
    # someone on desk.operators who is not in the channel may act
    await desk.claim(number, ts, DAVE)


async def test_joining_the_operators_channel_does_not_make_an_operator(desk: Desk) -> None:
    """With ``[desk] operators`` set, only the people on it are operators."""
    channel = desk.fake.channels[OPS]
    assert channel.members is not None
    channel.members.append(MALLORY)
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await desk.click(MALLORY, number, "claim", ts)
    assert await desk.answer(MALLORY, mark) == NOT_OPERATOR
    assert await desk.status(number) == Status.NEW


@pytest.mark.parametrize(
    ("allow", "operators"),
    [([], {BOB, CAROL}), ([DAVE], {DAVE}), ([BOB, DAVE], {BOB, DAVE})],
    ids=["channel members", "allow-list only", "allow-list over members"],
)
async def test_who_is_an_operator(allow: list[str], operators: set[str]) -> None:
    async with FakeSlackAPI() as fake:
        fake.add_channel(OPS, "it-operators", members=[BOB, CAROL, fake.bot_user_id])
        people = People(AsyncWebClient(token=fake.token, base_url=fake.api_url), OPS, allow)
        found = {user for user in (BOB, CAROL, DAVE, MALLORY) if await people.is_operator(user)}
    assert found == operators


async def test_release_puts_the_ticket_back(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    await desk.click(CAROL, number, "release", ts)
    assert await desk.answer(CAROL, mark) == f"Only Bob can release #{number}."
    await desk.click(BOB, number, "release", ts)
    await desk.fake.wait_for(card_edit("waiting for an operator"), since=mark)
    assert await desk.status(number) == Status.NEW


# --- the thread ---------------------------------------------------------------------------------


async def test_a_thread_reply_reaches_the_requester_with_a_receipt(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    reply = sr.message_event(OPS, BOB, "Please restart it &amp; try again", thread_ts=ts)
    await desk.ok(reply)
    sent = await desk.fake.wait_for(posted(USER, "Please restart"), since=mark)
    assert sent.params["text"] == f"Bob (request #{number}):\nPlease restart it &amp; try again"
    await desk.fake.wait_for(reaction("white_check_mark", reply.payload["event"]["ts"]), since=mark)


async def test_the_requesters_reply_appears_in_the_thread(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await desk.say("It still jams &amp; squeaks")
    relay = await desk.fake.wait_for(posted(OPS, "still jams", thread_ts=ts), since=mark)
    assert relay.params["text"] == "*Ursula User* (requester): It still jams &amp; squeaks"
    await desk.fake.wait_for(posted(USER, f"Added to your request #{number}"), since=mark)


async def test_an_internal_note_stays_internal(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    note = sr.message_event(OPS, BOB, "// the toner supplier is late again", thread_ts=ts)
    await desk.ok(note)
    await desk.fake.wait_for(reaction("lock", note.payload["event"]["ts"]), since=mark)
    await desk.ok(sr.message_event(OPS, BOB, "Toner is on its way", thread_ts=ts))
    await desk.fake.wait_for(posted(USER, "Toner is on its way"), since=mark)
    to_user = [str(c.params.get("text")) for c in desk.fake.calls[mark:] if posted(USER)(c)]
    assert not [text for text in to_user if "supplier" in text]


CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x00"


def _hostile(text: str) -> str:
    """``text`` with a bidirectional control or a NUL after every word."""
    return " ".join(word + CONTROLS[i % len(CONTROLS)] for i, word in enumerate(text.split()))


async def test_controls_and_nul_bytes_are_removed_before_anything_is_stored(desk: Desk) -> None:
    desk.fake.users[BOB].display_name = _hostile("Bob the Builder")
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await desk.click(BOB, number, "claim", ts)
    await desk.ok(sr.message_event(OPS, BOB, _hostile("Restart the printer please"), thread_ts=ts))
    await desk.fake.wait_for(posted(USER, "Restart the printer please"), since=mark)
    await desk.say(_hostile("It still jams after the restart"))
    await desk.fake.wait_for(posted(OPS, "It still jams after the restart"), since=mark)
    await desk.resolve(number, ts, _hostile("Replaced the fuser unit"))
    async with desk.app.sessions() as session:
        said = (await session.execute(select(TicketMessageRow))).scalars().all()
        ticket = await session.get(TicketRow, number)
    assert ticket is not None and ticket.assignee_name == "Bob the Builder"
    stored = [(m.author_name, m.text) for m in said]
    assert stored == [
        ("Bob the Builder", "Restart the printer please"),
        ("Ursula User", "It still jams after the restart"),
    ]
    to_user = [str(c.params.get("text")) for c in desk.fake.calls[mark:] if posted(USER)(c)]
    assert any("Replaced the fuser unit" in text for text in to_user)
    for text in [*to_user, json.dumps(desk.fake.messages(OPS), ensure_ascii=False)]:
        assert not set(text) & set(CONTROLS), text


async def test_edits_joins_bots_and_channel_messages_are_not_relayed(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    ignored = [
        sr.message_event(OPS, BOB, "edited", thread_ts=ts, subtype="message_changed"),
        sr.message_event(OPS, BOB, "joined", subtype="channel_join"),
        sr.message_event(OPS, None, "a bot", thread_ts=ts, bot_id="B0OTHER", subtype="bot_message"),
        sr.message_event(OPS, CAROL, "not in a thread"),
        sr.message_event(OPS, BOB, "a file", thread_ts=ts, files=[{"id": "F1", "name": "x.png"}]),
    ]
    for request in ignored:
        await desk.ok(request)
    await desk.ok(sr.message_event(OPS, BOB, "the real one", thread_ts=ts))
    await desk.fake.wait_for(posted(USER, "the real one"), since=mark)
    texts = [str(c.params.get("text")) for c in desk.fake.calls[mark:] if posted(USER)(c)]
    assert texts == [f"Bob (request #{number}):\nthe real one"]


# --- resolving, confirming, reopening, rejecting ------------------------------------------------


async def test_resolve_via_modal_then_the_user_confirms_and_the_card_closes(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    mark = len(desk.fake.calls)
    await desk.click(BOB, number, "resolve", ts)
    opened = await desk.fake.wait_for("views.open", since=mark)
    view = opened.params["view"]
    assert (view["callback_id"], view["private_metadata"]) == ("resolve", str(number))

    view_id = opened.response["view"]["id"]  # type: ignore[index]
    empty = sr.view_submission(
        BOB, "resolve", str(number), {"note": {"note": "   "}}, view_id=view_id
    )
    assert json.loads(await desk.ok(empty)) == {
        "response_action": "errors",
        "errors": {"note": "Write what was done."},
    }
    assert await desk.status(number) == Status.CLAIMED

    note = "Replaced the fuser"  # submitted again from the same view, as Slack does
    values = {"note": {"note": note}}
    await desk.ok(sr.view_submission(BOB, "resolve", str(number), values, view_id=view_id))
    asked = await desk.fake.wait_for(posted(USER, "Did this solve the problem?"), since=mark)
    assert note in asked.params["text"]
    await desk.fake.wait_for(card_edit("Resolution: Replaced the fuser"), since=mark)

    mark = len(desk.fake.calls)
    await desk.press(f"c:{number}:yes")
    await desk.fake.wait_for(posted(USER, f"Request #{number} is closed"), since=mark)
    closed = await desk.fake.wait_for(card_edit("Closed"), since=mark)
    assert [  # only a closed ticket's answer can still be kept, as a known solution
        e["action_id"]
        for b in closed.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ] == ["solution_save"]
    assert await desk.status(number) == Status.CLOSED
    answered = desk.fake.message(desk.dm, asked.response["ts"])  # type: ignore[index]
    assert answered is not None and not button_values(answered)  # the buttons are gone


async def test_the_user_says_no_and_the_ticket_reopens(desk: Desk) -> None:
    number, ts = await desk.file()
    await desk.claim(number, ts)
    await desk.resolve(number, ts, "Cleaned the rollers")
    mark = len(desk.fake.calls)
    await desk.press(f"c:{number}:no")
    await desk.fake.wait_for(posted(USER, f"Request #{number} is open again"), since=mark)
    await desk.fake.wait_for(card_edit("Reopened"), since=mark)
    assert await desk.status(number) == Status.CLAIMED


async def test_reject_via_modal(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await desk.click(CAROL, number, "reject", ts)
    opened = await desk.fake.wait_for("views.open", since=mark)
    assert opened.params["view"]["callback_id"] == "reject"
    reason = "Duplicate of #1"
    await desk.ok(sr.view_submission(CAROL, "reject", str(number), {"note": {"note": reason}}))
    await desk.fake.wait_for(posted(USER, f"was declined: {reason}"), since=mark)
    rejected = await desk.fake.wait_for(card_edit("Rejected"), since=mark)
    assert "Reason: Duplicate of #1" in json.dumps(rejected.params["blocks"], ensure_ascii=False)
    assert not [b for b in rejected.params["blocks"] if b["type"] == "actions"]


async def test_a_click_on_the_card_of_a_closed_ticket_gets_a_clear_answer(desk: Desk) -> None:
    number, ts = await desk.file()
    stale = desk.fake.message(OPS, ts)
    await desk.app.desk.operators.reject(number, UserRef("slack", CAROL, "Carol"), "spam", "test")
    mark = len(desk.fake.calls)
    request = sr.block_actions(
        BOB,
        "ticket_claim",
        str(number),
        channel=OPS,
        message_ts=ts,
        message=stale,  # Bob's client still shows the old buttons
        response_url=desk.fake.new_response_url(channel=OPS, message_ts=ts, user=BOB),
    )
    await desk.ok(request)
    assert await desk.answer(BOB, mark) == (
        f"Ticket #{number} is rejected, so you cannot claim it any more."
    )
    mark = len(desk.fake.calls)
    await desk.click(CAROL, number, "resolve", ts)
    assert await desk.answer(CAROL, mark) == (
        f"Ticket #{number} is rejected, so you cannot resolve it any more."
    )
    assert not desk.fake.calls_of("views.open")


# --- Slack users as requesters ------------------------------------------------------------------


async def test_a_slack_user_files_a_ticket_through_the_dm_intake(desk: Desk) -> None:
    async def expect(key: str, since: int) -> None:
        question = escape_mrkdwn(t("en", key).split("{")[0])  # up to any placeholder
        await desk.fake.wait_for(posted(USER, question), since=since)

    async def step(action: Any, key: str) -> None:
        mark = len(desk.fake.calls)
        await action
        await expect(key, mark)
        desk.clock.advance(seconds=10)  # beyond the burst window that merges quick texts

    await step(desk.say("new"), "ask.category")
    await step(desk.press("i:category:printers"), "ask.description")
    await step(desk.say("The printer on floor 3 jams on every page"), "ask.location")
    await step(desk.say("HQ, room 301"), "ask.name")
    await step(desk.press("i:name:remembered"), "ask.phone")
    await step(desk.say("+380 67 123 45 67"), "ask.asset")
    await step(desk.press("i:asset:skip"), "ask.files")
    await step(desk.press("i:files:done"), "ask.urgency")
    await step(desk.press("i:urgency:high"), "summary.title")
    mark = len(desk.fake.calls)
    await desk.press("i:summary:submit")
    await desk.fake.wait_for(posted(USER, "Request #1 is registered"), since=mark)
    card = await desk.fake.wait_for(posted(OPS, "#1"), since=mark)
    shown = json.dumps(card.params["blocks"], ensure_ascii=False)
    assert "Ursula User (Slack, <@U0USER>)" in shown and "floor 3 jams" in shown
    ticket = await desk.app.desk.ticket(1)
    assert ticket is not None and ticket.requester.user_id == USER


async def test_app_home_shows_open_tickets_and_starts_a_request(desk: Desk) -> None:
    number, _ = await desk.file()
    mark = len(desk.fake.calls)
    await desk.ok(sr.app_home_opened(USER))
    await desk.fake.wait_for("views.publish", since=mark)
    home = desk.fake.home_views[USER]
    shown = json.dumps(home["blocks"], ensure_ascii=False)
    assert f"#{number} · Printers and office equipment · waiting for an operator" in shown
    [button] = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "home_new_ticket"

    mark = len(desk.fake.calls)
    await desk.ok(sr.block_actions(USER, "home_new_ticket", "new", view=home))
    await desk.fake.wait_for(posted(USER, escape_mrkdwn(t("en", "ask.category"))), since=mark)


# --- safety -------------------------------------------------------------------------------------


async def test_forged_and_stale_requests_are_refused_and_change_nothing(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    event = sr.message_event(OPS, BOB, "forged reply", thread_ts=ts)
    click = sr.block_actions(BOB, "ticket_claim", str(number), channel=OPS, message_ts=ts)
    for request in (event, click):
        assert (await desk.send(request, forged=True))[0] == 401
        assert (await desk.send(request, stale=True))[0] == 401
    assert desk.fake.calls[mark:] == []
    assert await desk.status(number) == Status.NEW
    # a refused request does not use up its event id: the genuine one still counts
    await desk.ok(event)
    await desk.fake.wait_for(posted(USER, "forged reply"), since=mark)


@pytest.mark.parametrize("timestamp", ["soon", "", "1e9", "١٧٠٠٠٠٠٠٠٠", "9" * 400])
async def test_a_timestamp_that_is_not_a_number_is_refused(desk: Desk, timestamp: str) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    click = sr.block_actions(BOB, "ticket_claim", str(number), channel=OPS, message_ts=ts)
    status, _ = await desk.send(click, headers={"X-Slack-Request-Timestamp": timestamp})
    assert status == 401
    assert desk.fake.calls[mark:] == []
    assert await desk.status(number) == Status.NEW


async def test_mention_and_markup_injection_stays_inert(desk: Desk) -> None:
    _, ts = await desk.file(f"Help {INJECTION}")
    card = desk.fake.message(OPS, ts)
    assert card is not None
    shown = card["text"] + json.dumps(card["blocks"], ensure_ascii=False)
    for raw in ("<!channel>", "<#C0SECRET>", "<https://evil", "@here"):
        assert raw not in shown, raw
    assert "&lt;!channel&gt;" in shown

    mark = len(desk.fake.calls)
    # what the Slack client sends when the requester types the same text into the DM
    await desk.say("Also <!channel> &lt;@U0BOB&gt; <https://evil.example|click here>")
    relay = await desk.fake.wait_for(posted(OPS, "requester", thread_ts=ts), since=mark)
    text = relay.params["text"]
    assert "<" not in text and ">" not in text.replace("&gt;", "")
    assert "@\u2060channel" in text and "&lt;@U0BOB&gt;" in text
    assert "click here (https://evil.example)" in text


async def test_a_retried_event_is_processed_once(desk: Desk) -> None:
    _, ts = await desk.file()
    mark = len(desk.fake.calls)
    first = sr.message_event(desk.dm, USER, "Any news?", channel_type="im")
    await desk.ok(first)
    await desk.fake.wait_for(posted(OPS, "Any news?", thread_ts=ts), since=mark)
    await desk.ok(first, retry_num=1, retry_reason="http_timeout")
    await desk.say("marker")
    await desk.fake.wait_for(posted(OPS, "marker", thread_ts=ts), since=mark)
    thread = [m["text"] for m in desk.fake.messages(OPS, thread_ts=ts)]
    assert thread == ["*Ursula User* (requester): Any news?", "*Ursula User* (requester): marker"]


async def test_a_double_click_is_processed_once(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    click = sr.block_actions(
        BOB,
        "ticket_claim",
        str(number),
        channel=OPS,
        message_ts=ts,
        response_url=desk.fake.new_response_url(channel=OPS, message_ts=ts, user=BOB),
    )
    await asyncio.gather(desk.ok(click), desk.ok(click))
    await desk.fake.wait_for(card_edit("Claimed* by Bob"), since=mark)
    await desk.fake.wait_for(posted(USER, "was taken by Bob"), since=mark)
    # a second press (a new action_ts) is answered, not acted on twice
    await desk.click(BOB, number, "claim", ts)
    assert await desk.answer(BOB, mark) == f"You have already claimed #{number}."
    assert len([c for c in desk.fake.calls[mark:] if posted(USER, "was taken")(c)]) == 1


# --- /helpdesk ----------------------------------------------------------------------------------


async def test_helpdesk_list_and_show(desk: Desk) -> None:
    first, ts = await desk.file()
    second, _ = await desk.file("The scanner does not see the network <!here>")
    await desk.claim(first, ts)
    desk.clock.advance(hours=2, minutes=5)

    async def command(text: str, user: str = BOB) -> str:
        mark = len(desk.fake.calls)
        url = desk.fake.new_response_url(channel=OPS, user=user)
        await desk.ok(sr.slash_command("/helpdesk", text, user=user, channel=OPS, response_url=url))
        call = await desk.fake.wait_for(lambda c: c.method == "response_url", since=mark)
        assert call.params["response_type"] == "ephemeral"
        return str(call.params["text"])

    listed = (await command("list")).splitlines()
    assert listed[0] == "*Open tickets (2), oldest first:*"
    assert listed[1].startswith(f"🟠 #{first} · P2") and listed[1].endswith("Bob · 2h 05m")
    assert listed[2].startswith(f"🟠 #{second} ·") and listed[2].endswith("_unclaimed_ · 2h 05m")

    shown = await command(f"show {second}")
    assert "The scanner does not see the network &lt;!here&gt;" in shown
    assert "*Requester:* Ursula User" in shown and "waiting for an operator" in shown
    assert await command("show 999") == "There is no ticket #999."
    assert await command("frobnicate") == USAGE
    assert await command("list", MALLORY) == NOT_OPERATOR


# --- delivery -----------------------------------------------------------------------------------


async def test_a_rate_limited_card_is_posted_after_retry_after(desk: Desk) -> None:
    desk.fake.fail_next("chat.postMessage", status=429, retry_after=1, channel=OPS)
    number, _ = await desk.file()
    [limited, card] = [
        c for c in desk.fake.calls_of("chat.postMessage") if c.params["channel"] == OPS
    ]
    assert limited.status == 429 and card.ok
    assert card.time - limited.time >= 0.9
    assert (await desk.app.desk.ticket(number)) is not None


async def test_an_unreachable_requester_shows_on_the_card(desk: Desk) -> None:
    desk.fake.fail_next("chat.postMessage", error="user_not_found", channel=USER)
    number, _ = await desk.file()
    await desk.fake.wait_for(card_edit("Cannot reach the requester: the Slack user does not exist"))
    ticket = await desk.app.desk.ticket(number)
    assert ticket is not None and ticket.delivery_problem == "the Slack user does not exist"


# --- the sender on its own ----------------------------------------------------------------------


def row(message: Outbound, attempts: int = 1) -> OutboxRow:
    """The outbox row that holds ``message``, as the worker hands it to a sender."""
    return OutboxRow(
        id=1,
        key="k",
        platform=message.place.platform,
        destination=message.place.key,
        kind=kind_of(message),
        payload=encode(message),
        ticket_id=ticket_of(message),
        attempts=attempts,
    )


async def send(sender: SlackSender, message: Outbound, attempts: int = 1) -> object:
    return await sender.send(row(message, attempts), message)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 429, "retry_after": 7}, RetryLater("slack rate limit: ratelimited", after=7.0)),
        ({"status": 503}, RetryLater("slack: HTTP 503 internal_error")),
        (
            {"error": "channel_not_found"},
            Undeliverable("the Slack channel does not exist or the bot cannot see it"),
        ),
        ({"error": "is_archived"}, Undeliverable("the Slack channel is archived")),
        ({"error": "invalid_auth"}, Undeliverable("the Slack bot token is not valid")),
        ({"error": "something_new"}, Undeliverable("Slack refused the message: something_new")),
    ],
)
async def test_sender_maps_slack_errors(
    sessions: SessionFactory, clock: Clock, fault: dict[str, Any], expected: object
) -> None:
    async with FakeSlackAPI() as fake:
        fake.add_channel(OPS, "ops")
        sender = SlackSender(
            build_client(fake.token, fake.api_url, retries=False), sessions, DeskConfig(), clock
        )
        fake.fail_next("chat.postMessage", **fault)
        assert await send(sender, ToChat(Place("slack", OPS), Reply("hi"))) == expected


async def test_sender_edge_cases(sessions: SessionFactory, clock: Clock) -> None:
    async with FakeSlackAPI() as fake:
        fake.add_channel(OPS, "ops")
        sender = SlackSender(
            build_client(fake.token, fake.api_url, retries=False), sessions, DeskConfig(), clock
        )
        ops = Place("slack", OPS)
        react = Mark(ops, "1.000100", "internal")
        assert isinstance(await send(sender, react), Sent)
        assert isinstance(await send(sender, react), Sent)  # already_reacted is fine
        fake.drop_next("chat.postMessage")
        assert isinstance(await send(sender, ToChat(ops, Reply("hi"))), RetryLater)
        relay = Relay(ops, 42, "operator_card", "hi", "A")
        assert isinstance(await send(sender, relay), RetryLater)
        assert isinstance(await send(sender, relay, attempts=20), Undeliverable)
        assert await send(sender, Card(ops, 42, "operator_card")) == (
            Undeliverable("there is no ticket #42")
        )
        photo = FileRef("photo", "AgAC1", "telegram")  # a Telegram operator's, for a Slack user
        assert isinstance(await send(sender, ToChat(ops, Reply("see"), 1, None, file=photo)), Sent)
        assert "📎 photo (kept in Telegram" in fake.calls_of("chat.postMessage")[-1].params["text"]
        poll = row(ToChat(ops, Reply("hi")))
        poll.kind = "poll"
        with pytest.raises(UnknownMessage):
            outbox.message_of(poll)


# --- the adapter's small rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("new", "new"),
        (" /New ", "new"),
        ("help", "help"),
        ("status", "status"),
        ("cancel", "cancel"),
        ("new printer is broken", ""),
        ("/new please", "new"),
        ("/", ""),
        ("hello", ""),
    ],
)
def test_dm_commands_are_bare_words(text: str, command: str) -> None:
    assert command_of(text) == command


def test_what_counts_as_a_repeat() -> None:
    event = sr.message_event("D0USER", USER, "hi", channel_type="im", event_id="Ev1").payload
    click = sr.block_actions(BOB, "ticket_claim", "1", channel=OPS, message_ts="1.0").payload
    view = sr.view_submission(BOB, "resolve", "1", trigger_id="T.1").payload
    assert dedupe_key(event) == cause_of(event) == "slack:Ev1"
    assert (
        dedupe_key(click)
        == cause_of(click)
        == f"slack:act:{BOB}:{click['actions'][0]['action_ts']}"
    )
    assert (dedupe_key(view), cause_of(view)) == ("", "slack:view:T.1")


async def test_helpdesk_stats_through_a_signed_slash_command(desk: Desk) -> None:
    first, ts = await desk.file()
    await desk.file("The second printer is broken too")
    await desk.claim(first, ts)
    await desk.resolve(first, ts, "Cleaned it")

    async def stats(text: str) -> dict[str, Any]:
        mark = len(desk.fake.calls)
        url = desk.fake.new_response_url(channel=OPS, user=BOB)
        await desk.ok(sr.slash_command("/helpdesk", text, user=BOB, channel=OPS, response_url=url))
        call = await desk.fake.wait_for(lambda c: c.method == "response_url", since=mark)
        return call.params

    week = await stats("stats 2026-11-16..2026-11-23")
    shown = json.dumps(week["blocks"], ensure_ascii=False)
    assert week["response_type"] == "ephemeral" and 0 < len(week["blocks"]) <= 50
    assert "printers" in shown
    bad = await stats("stats last-tuesday")
    assert not bad.get("blocks") and USAGE in bad["text"]


async def test_the_weekly_digest_is_posted_once_with_a_chart(desk: Desk) -> None:
    digest = "C0DIGEST"
    monday = desk.clock.now
    desk.clock.now = monday.replace(day=18)  # a ticket in the week before
    await desk.file()
    desk.clock.now = monday
    desk.fake.add_channel(digest, "it-digest", members=[desk.fake.bot_user_id])
    config = desk.app.desk.config
    desk_settings = config.desk.model_copy(update={"digest_channel": digest})
    desk.app.desk.service.config = config.model_copy(update={"desk": desk_settings})
    places = desk.app.desk.service.places
    desk.app.desk.service.places = replace(places, digest=Place("slack", digest))
    mark = len(desk.fake.calls)
    await desk.app.desk.housekeeping.run()
    await desk.app.desk.housekeeping.run()  # again, as another process would: still one digest
    posted_digest = await desk.fake.wait_for(posted(digest, "2026-11-16"), since=mark)
    shown = json.dumps(posted_digest.params["blocks"], ensure_ascii=False)
    assert "Weekly digest 2026-11-16 – 2026-11-22" in shown
    await desk.fake.wait_for("files.completeUploadExternal", since=mark)
    [chart] = desk.fake.files.values()
    assert chart.content is not None and chart.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert chart.thread_ts == posted_digest.response["ts"]
    await asyncio.sleep(0.2)
    posts = desk.fake.calls_of("chat.postMessage")
    assert len([c for c in posts if c.params["channel"] == digest]) == 1
