"""The whole first-line loop across both platforms, through the real python-telegram-bot and
slack-bolt stacks: a Telegram user files, an operator claims in Slack, they talk through the
card's thread, the operator resolves, the user confirms in Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.standins import slack_requests as sr
from bot.standins.telegram_api import TgUser
from handlers.i18n import t
from handlers.tickets import Status
from tests.conftest import Clock
from tests.slack_desk import BOB, OPS, Desk, card_edit, desk_with_telegram, posted
from tests.telegram_chat import TelegramChat
from tests.test_telegram_e2e import file_full_ticket

OLENA = TgUser(2001, "Olena", "Shevchenko", username="olena", language_code="uk")


@pytest.fixture
async def both(
    database_url: str, redis_url: str, clock: Clock
) -> AsyncIterator[tuple[Desk, TelegramChat]]:
    async with desk_with_telegram(database_url, redis_url, clock) as (desk, tg):
        yield desk, TelegramChat(tg, OLENA, clock)


async def test_telegram_user_and_slack_operator_close_a_ticket_together(both) -> None:
    desk, chat = both
    tg = chat.api
    await file_full_ticket(chat, "uk")
    card = await desk.fake.wait_for(posted(OPS, "#1"))
    ts = card.response["ts"]
    assert "Olena Shevchenko" in str(card.params["blocks"])
    # the screenshot from the intake is uploaded into the card's thread for the operators
    upload = await desk.fake.wait_for("files.completeUploadExternal")
    assert upload.params["channel_id"] == OPS and upload.params["thread_ts"] == ts

    await desk.claim(1, ts)
    await tg.wait_for_message(OLENA.id, t("uk", "ticket.claimed", number=1, operator="Bob"))

    mark = len(desk.fake.calls)
    reply = sr.message_event(
        OPS, BOB, "Is the printer's display showing an error code?", thread_ts=ts
    )
    await desk.ok(reply)
    await tg.wait_for_message(OLENA.id, "display showing an error code")
    await desk.fake.wait_for(lambda c: c.method == "reactions.add" and c.ok, since=mark)

    await chat.say("Так, E-52", t("uk", "ticket.added", number=1))
    relayed = await desk.fake.wait_for(posted(OPS, "E-52", thread_ts=ts), since=mark)
    assert relayed.params["text"] == "*Olena Shevchenko* (requester): Так, E-52"

    await desk.resolve_via_modal(1, ts, "Replaced the fuser unit")
    await tg.wait_for_message(OLENA.id, "Replaced the fuser unit")
    await chat.press("c:1:yes", t("uk", "ticket.closed", number=1))
    await desk.fake.wait_for(card_edit("Closed"), since=mark)
    assert await desk.status(1) == Status.CLOSED


async def test_telegram_user_says_no_and_the_operator_sees_the_reopen(both) -> None:
    desk, chat = both
    await file_full_ticket(chat, "uk")
    card = await desk.fake.wait_for(posted(OPS, "#1"))
    ts = card.response["ts"]
    await desk.claim(1, ts)
    await desk.resolve_via_modal(1, ts, "Restarted the print spooler")
    await chat.api.wait_for_message(OLENA.id, "Restarted the print spooler")
    mark = len(desk.fake.calls)
    await chat.press("c:1:no", t("uk", "ticket.reopened", number=1))
    await desk.fake.wait_for(card_edit("Reopened"), since=mark)
    assert await desk.status(1) == Status.CLAIMED
