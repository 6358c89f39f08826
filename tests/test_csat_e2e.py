"""Customer satisfaction end to end: asked once when a ticket closes, never for rejected ones;
rating and comment on the operator card and in the history, next to how the ticket closed; late
and double answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.standins import slack_requests as sr
from bot.standins.slack_api import Call
from bot.standins.telegram_api import TgUser
from handlers.i18n import t
from storage import tickets as store
from tests.conftest import Clock
from tests.slack_desk import OPS, Desk, card_edit, desk_with_telegram, posted
from tests.telegram_chat import TelegramChat
from tests.test_telegram_e2e import file_full_ticket

MARTA = TgUser(3001, "Marta", "Koval", language_code="en")


@pytest.fixture
async def both(
    database_url: str, redis_url: str, clock: Clock
) -> AsyncIterator[tuple[Desk, TelegramChat]]:
    async with desk_with_telegram(database_url, redis_url, clock) as (desk, tg):
        yield desk, TelegramChat(tg, MARTA, clock)


async def resolved_ticket(desk: Desk, chat: TelegramChat) -> str:
    """File, claim and resolve a ticket; returns its card's ts."""
    await file_full_ticket(chat)
    card = await desk.fake.wait_for(posted(OPS, "#1"))
    ts = str(card.response["ts"])
    await desk.claim(1, ts)
    await desk.resolve_via_modal(1, ts, "Cleaned the rollers")
    await chat.api.wait_for_message(MARTA.id, "Cleaned the rollers")
    return ts


async def test_closing_asks_for_a_rating_and_a_comment_once(both) -> None:
    desk, chat = both
    ts = await resolved_ticket(desk, chat)
    await chat.press("c:1:yes", t("en", "csat.ask", number=1))
    await chat.press("r:1:4", t("en", "csat.thanks", number=1))
    mark = len(desk.fake.calls)
    await chat.say("Fast and friendly", t("en", "csat.comment_saved"))
    await desk.fake.wait_for(card_edit("Rated 4/5: “Fast and friendly”"), since=mark)
    # a late second answer is thanked, not counted
    await chat.press("r:1:1", t("en", "csat.already", number=1))
    ticket = await desk.app.desk.ticket(1)
    assert ticket is not None and (ticket.csat_rating, ticket.csat_comment) == (
        4,
        "Fast and friendly",
    )
    async with desk.app.sessions() as session:
        history = [(e.action, e.note) for e in await store.events(session, 1)]
    assert ("csat_rating", "4") in history and ("csat_comment", "Fast and friendly") in history
    assert sum(1 for action, _ in history if action == "csat_rating") == 1
    assert ts


async def test_a_double_tap_counts_once(both) -> None:
    desk, chat = both
    await resolved_ticket(desk, chat)
    await chat.press("c:1:yes", t("en", "csat.ask", number=1))
    message = next(
        m for m in reversed(chat.api.messages_to(MARTA.id)) if "r:1:5" in str(m.get("reply_markup"))
    )
    since = len(chat.api.sent)
    chat.api.push_update(MARTA.press("r:1:5", message["message_id"]))
    chat.api.push_update(MARTA.press("r:1:5", message["message_id"]))
    await chat.api.wait_for_message(MARTA.id, t("en", "csat.already", number=1), since=since)
    ticket = await desk.app.desk.ticket(1)
    assert ticket is not None and ticket.csat_rating == 5


async def test_no_comment_and_commands_still_work(both) -> None:
    desk, chat = both
    await resolved_ticket(desk, chat)
    await chat.press("c:1:yes", t("en", "csat.ask", number=1))
    await chat.press("r:1:3", t("en", "csat.thanks", number=1))
    # "no comment": the button comes off the message, the awaited comment is forgotten
    await chat.press("s:1", t("en", "csat.thanks", number=1))
    await chat.send(MARTA.command("status"), t("en", "status.none"))
    ticket = await desk.app.desk.ticket(1)
    assert ticket is not None and (ticket.csat_rating, ticket.csat_comment) == (3, "")


async def test_rejected_tickets_are_not_rated(both) -> None:
    desk, chat = both
    await file_full_ticket(chat)
    card = await desk.fake.wait_for(posted(OPS, "#1"))
    await desk.click("U0BOB", 1, "reject", str(card.response["ts"]))
    await desk.fake.wait_for("views.open")
    await desk.ok(sr.view_submission("U0BOB", "reject", "1", {"note": {"note": "Duplicate of #0"}}))
    await chat.api.wait_for_message(MARTA.id, "Duplicate of #0")
    assert not any("rate" in text for text in chat.api.texts_to(MARTA.id))


async def test_auto_close_asks_for_a_rating(both) -> None:
    desk, chat = both
    await resolved_ticket(desk, chat)
    desk.clock.advance(hours=49)
    since = len(chat.api.sent)
    await desk.app.desk.housekeeping.run()
    await chat.api.wait_for_message(MARTA.id, t("en", "csat.ask", number=1), since=since)


def shown(call: Call) -> str:
    return json.dumps(call.params["blocks"], ensure_ascii=False)


async def test_a_rating_keeps_how_the_ticket_closed_on_the_card(both) -> None:
    desk, chat = both
    await resolved_ticket(desk, chat)
    await chat.press("c:1:yes", t("en", "csat.ask", number=1))
    mark = len(desk.fake.calls)
    await chat.press("r:1:5", t("en", "csat.thanks", number=1))
    rated = await desk.fake.wait_for(card_edit("Rated 5/5"), since=mark)
    assert "*Closed*: the requester confirmed the fix" in shown(rated)


async def test_a_rating_after_an_auto_close_keeps_it_on_the_card(both) -> None:
    desk, chat = both
    await resolved_ticket(desk, chat)
    desk.clock.advance(hours=49)
    await desk.app.desk.housekeeping.run()
    await chat.api.wait_for_message(MARTA.id, t("en", "csat.ask", number=1))
    mark = len(desk.fake.calls)
    await chat.press("r:1:2", t("en", "csat.thanks", number=1))
    rated = await desk.fake.wait_for(card_edit("Rated 2/5"), since=mark)
    assert "*Closed* automatically: the requester did not answer" in shown(rated)
