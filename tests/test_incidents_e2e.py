"""A major incident end to end, through the real slack-bolt and python-telegram-bot stacks
against the stand-in Slack and Bot API servers: an operator declares a Slack requester's
ticket a major incident (with the title requesters will see) and links three Telegram
requesters' tickets to it from their cards; a broadcast reaches everybody (one of them blocked
the bot: shown on the card, tried once); a fourth requester is offered the incident during
intake and joins it; resolving the incident asks every requester, and one who says "not
solved" gets a ticket of their own again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bot.standins import slack_requests as sr
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.i18n import t
from handlers.intake import Step, choice
from handlers.messages import UserRef
from handlers.tickets import Status
from storage import incidents
from storage import tickets as store
from tests.conftest import Clock
from tests.factories import DRAFT
from tests.slack_desk import BOB, OPS, USER, Desk, card_edit, desk_with_telegram, posted
from tests.telegram_chat import TelegramChat

ANNA = TgUser(3001, "Anna", "Koval", username="anna", language_code="uk")
BORIS = TgUser(3002, "Boris", "Lee", username="boris", language_code="en")
CHLOE = TgUser(3003, "Chloe", "Diaz", username="chloe", language_code="en")
DMYTRO = TgUser(3004, "Dmytro", "Hnatiuk", username="dmytro", language_code="en")
KNOWN = "This is a known problem (#{parent}); we will tell you when it is fixed."
TITLE = "Printers on the 3rd floor jam"


@pytest.fixture
async def both(database_url: str, redis_url: str, clock: Clock) -> AsyncIterator[Any]:
    async with desk_with_telegram(database_url, redis_url, clock) as pair:
        yield pair


def requester(user: TgUser) -> UserRef:
    language = user.language_code or "en"
    return UserRef("telegram", str(user.id), f"{user.first_name} {user.last_name}", language)


async def file_from_telegram(desk: Desk, user: TgUser) -> tuple[int, str]:
    """A finished intake of ``user`` (filed the way Submit files it); (number, card ts)."""
    mark = len(desk.fake.calls)
    who = requester(user)
    draft = replace(DRAFT, name=who.name)
    ticket = await desk.app.desk.requesters.file_ticket(who, str(user.id), draft, f"file:{user.id}")
    assert ticket.number is not None
    await desk.fake.wait_for(posted(OPS, f"#{ticket.number}"), since=mark)
    return ticket.number, await desk.card_ts(ticket.number)


async def in_dialog(desk: Desk, action: str, number: int, ts: str, values: dict) -> Any:
    """Bob presses the card's ``action`` button and submits its modal with ``values``; the
    modal that opened."""
    mark = len(desk.fake.calls)
    await desk.click(BOB, number, action, ts)
    opened = await desk.fake.wait_for("views.open", since=mark)
    callback = opened.params["view"]["callback_id"]
    await desk.ok(sr.view_submission(BOB, callback, str(number), values))
    return opened


async def link_from_card(desk: Desk, child: int, ts: str, parent: int) -> None:
    """Link to… on the child's card, the parent's number typed in."""
    mark = len(desk.fake.calls)
    values = {"parent_number": {"parent_number": f"#{parent}"}}
    opened = await in_dialog(desk, "link", child, ts, values)
    assert f"#{parent}" in str(opened.params["view"])  # suggested: same category, recent
    await desk.fake.wait_for(card_edit(f"linked to #{parent}"), since=mark)


async def declare_from_card(desk: Desk, number: int, ts: str, title: str) -> None:
    """Declare major incident, with the title requesters will see."""
    mark = len(desk.fake.calls)
    await in_dialog(desk, "declare_major", number, ts, {"title": {"title": title}})
    await desk.fake.wait_for(card_edit(f"Major incident* “{title}”"), since=mark)


async def broadcast_from_card(desk: Desk, parent: int, ts: str, text: str) -> None:
    await in_dialog(desk, "broadcast", parent, ts, {"update": {"update": text}})


def sends_to(tg: FakeTelegramAPI, user: TgUser, since: int) -> int:
    """sendMessage calls to ``user``'s chat among ``tg.calls[since:]``."""
    return sum(
        1
        for call in tg.calls[since:]
        if call.method == "sendMessage" and call.params.get("chat_id") == user.id
    )


async def test_an_incident_from_linking_to_resolution(both, clock: Clock) -> None:
    desk, tg = both
    parent, parent_ts = await desk.file()  # the Slack requester's ticket becomes the incident
    await declare_from_card(desk, parent, parent_ts, TITLE)
    children = {user.id: await file_from_telegram(desk, user) for user in (ANNA, BORIS, CHLOE)}

    # Linking from the cards: each child card collapses, each requester hears it is known
    for user in (ANNA, BORIS, CHLOE):
        number, ts = children[user.id]
        await link_from_card(desk, number, ts, parent)
        expected = t(user.language_code, "incident.linked", parent=parent, number=number)
        await tg.wait_for_message(user.id, expected)
    await desk.fake.wait_for(card_edit("4 people affected, 3 linked"))
    assert await desk.status(children[ANNA.id][0]) == Status.LINKED

    # A broadcast: Chloe has blocked the bot; shown on the incident's card, tried once
    tg.block_chat(CHLOE.id)
    mark, tg_mark = len(desk.fake.calls), len(tg.calls)
    await broadcast_from_card(desk, parent, parent_ts, "ETA 30 min")
    for user in (ANNA, BORIS):
        await tg.wait_for_message(user.id, "ETA 30 min")
    await desk.fake.wait_for(posted(USER, "ETA 30 min"), since=mark)
    chloe_number = children[CHLOE.id][0]
    delivered = f"3 of 4 delivered, 1 not reached: user blocked the bot (#{chloe_number})"
    await desk.fake.wait_for(card_edit(delivered), since=mark)
    await desk.fake.wait_for(card_edit("user blocked the bot"), since=mark)  # Chloe's line
    assert sends_to(tg, CHLOE, tg_mark) == 1  # the failed send, and no retry

    # A fourth requester describes the same problem during intake and joins the incident
    dmytro = TelegramChat(tg, DMYTRO, clock)
    await dmytro.send(DMYTRO.command("new"), t("en", "ask.category"))
    await dmytro.press(choice(Step.CATEGORY, "printers"), t("en", "ask.description"))
    offer = await dmytro.say("The printer on the 3rd floor jams again", "Is this about")
    assert offer["text"] == (
        f"Is this about the known problem #{parent} (Printers and office equipment): {TITLE}?"
    )
    joined = await dmytro.press(choice(Step.INCIDENT, "yes"), "we will tell you when")
    assert joined["text"].startswith(KNOWN.format(parent=parent))
    await desk.fake.wait_for(card_edit("5 people affected, 4 linked"))

    # Resolving the incident resolves every child and asks every requester
    tg.unblock_chat(CHLOE.id)
    mark = len(desk.fake.calls)
    await desk.resolve_via_modal(parent, parent_ts, "The switch was replaced")
    await desk.fake.wait_for(posted(USER, "The switch was replaced"), since=mark)
    asked = [ANNA, BORIS, CHLOE, DMYTRO]
    for user in asked:
        message = await tg.wait_for_message(user.id, "The switch was replaced")
        buttons = [
            b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
        ]
        assert any(data.endswith(":no") for data in buttons)
    async with desk.app.sessions() as session:
        statuses = {c.number: c.status for c in await incidents.children(session, parent)}
    assert set(statuses.values()) == {Status.RESOLVED}

    # Boris says it is not solved: his ticket leaves the incident and is reopened on its own
    boris_number = children[BORIS.id][0]
    boris = TelegramChat(tg, BORIS, clock)
    await boris.press(f"c:{boris_number}:no", t("en", "ticket.reopened", number=boris_number))
    async with desk.app.sessions() as session:
        reopened = await store.get(session, boris_number)
        events = [e.action for e in await store.events(session, boris_number)]
    assert (reopened.status, reopened.parent) == (Status.CLAIMED, None)
    assert events[-2:] == ["reopen", "unlink"] or events[-2:] == ["unlink", "reopen"]
    await desk.fake.wait_for(card_edit("Reopened"))
