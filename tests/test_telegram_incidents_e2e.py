"""A major incident run from the Telegram desk, end to end through the real python-telegram-bot
stack against the stand-in Bot API: four Telegram requesters file their requests; an operator
declares the first a major incident, links the other three from their cards (a suggested
parent, a typed number), broadcasts an update (one requester blocked the bot) and unlinks one;
an outsider in the operators' group changes nothing."""

from __future__ import annotations

from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.i18n import t
from handlers.tickets import Status
from tests.conftest import Clock
from tests.telegram_chat import TelegramChat
from tests.telegram_groups import (
    BOB,
    MALLORY,
    OPS,
    Group,
    buttons,
    file_request,
    reply_to_prompt,
    telegram_desk,
)
from tests.test_telegram_e2e import ALICE

ANNA = TgUser(3001, "Anna", "Koval", username="anna", language_code="en")
BORIS = TgUser(3002, "Boris", "Lee", username="boris", language_code="en")
CHLOE = TgUser(3003, "Chloe", "Diaz", username="chloe", language_code="en")
TITLE = "Printers on the 3rd floor <b>jam</b>"  # the operator's words, shown as typed


async def open_link_picker(tg: FakeTelegramAPI, ops: Group, number: int, card: dict) -> dict:
    since = len(tg.sent)
    answer = await ops.press(BOB, f"hd:link:{number}", card)
    assert not answer.params.get("show_alert")
    picker = await tg.wait_for_message(OPS, f"Link #{number} to which ticket?", since=since)
    assert picker["message_thread_id"] == ops.thread(card)
    return picker


async def test_an_incident_run_from_the_telegram_desk(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (app, tg):
        ops = Group(tg, OPS)
        people = (ALICE, ANNA, BORIS, CHLOE)
        for number, user in enumerate(people, 1):
            chat = TelegramChat(tg, user, clock)
            await file_request(chat, number, f"The printer jams on every page ({user.first_name})")
        cards = {number: await ops.card(number, "New") for number in range(1, 5)}

        # Declare #1 a major incident: the title requesters will see, asked with a prompt
        await reply_to_prompt(ops, BOB, cards[1], "hd:declare:1", "Declare #1 a major", TITLE)
        parent = await ops.card(1, f"Major incident “{TITLE}”: 1 person affected, 0 linked")
        assert ("Broadcast", "hd:broadcast:1") in buttons(parent)
        assert ("Declare major incident", "hd:declare:1") not in buttons(parent)

        # #2 from the suggestions: the open tickets of the same category, the incident first
        picker = await open_link_picker(tg, ops, 2, cards[2])
        suggested = buttons(picker)
        assert suggested[0] == ("#1 🚨 The printer jams on every page (Alice)", "hd:link_to:2:1")
        assert {data for _, data in suggested} == {
            "hd:link_to:2:1",
            "hd:link_to:2:3",
            "hd:link_to:2:4",
        }
        await ops.press(BOB, "hd:link_to:2:1", picker)
        await tg.wait_for_message(ANNA.id, t("en", "incident.linked", parent=1, number=2))
        child = await ops.card(2, "linked to #1")
        assert child["text"] == "🔗 #2 · Anna Koval (Telegram, @anna): linked to #1"
        assert buttons(child) == [("Unlink", "hd:unlink:2")]
        assert buttons(tg.message(OPS, picker["message_id"])) == []  # the picker is spent
        assert tg.topic(OPS, ops.thread(cards[2]))["name"].startswith("🔗 #2")

        # #3 by replying to the picker with the parent's number
        picker = await open_link_picker(tg, ops, 3, cards[3])
        since = len(tg.sent)
        ops.say(BOB, "#99", ops.thread(cards[3]), reply_to=picker["message_id"])
        await tg.wait_for_message(OPS, "There is no ticket #99.", since=since)
        ops.say(BOB, "#1", ops.thread(cards[3]), reply_to=picker["message_id"])
        await tg.wait_for_message(BORIS.id, t("en", "incident.linked", parent=1, number=3))

        # #4: an outsider's press of a suggestion changes nothing; the operator's links it
        picker = await open_link_picker(tg, ops, 4, cards[4])
        refused = await ops.press(MALLORY, "hd:link_to:4:1", picker)
        assert refused.params.get("show_alert") is True
        assert "operators" in refused.params["text"]
        assert (await app.desk.ticket(4)).status is Status.NEW
        await ops.press(BOB, "hd:link_to:4:1", picker)
        await ops.card(4, "linked to #1")
        parent = await ops.card(1, "4 people affected, 3 linked")
        assert ("Link to…", "hd:link:1") not in buttons(parent)

        # Broadcast: Chloe blocked the bot; an outsider's answer to the prompt sends nothing
        tg.block_chat(CHLOE.id)
        refused = await ops.press(MALLORY, "hd:broadcast:1", parent)
        assert refused.params.get("show_alert") is True
        since = len(tg.sent)
        await ops.press(BOB, "hd:broadcast:1", parent)
        prompt = await ops.prompt(ops.thread(parent), "It goes to 4 people", since)
        ops.say(MALLORY, "Free pizza in the lobby", ops.thread(parent), prompt["message_id"])
        ops.say(BOB, "ETA 30 min", ops.thread(parent), reply_to=prompt["message_id"])
        update = t("en", "incident.update", parent=1, text="ETA 30 min")
        for user in (ALICE, ANNA, BORIS):
            await tg.wait_for_message(user.id, update)
        await ops.card(
            1, "📣 Last broadcast: 3 of 4 delivered, 1 not reached: user blocked the bot"
        )
        for user in people:
            assert not any("pizza" in text for text in tg.texts_to(user.id))

        # Unlink #2: its card is whole again, Anna is told, the incident counts one less
        await ops.press(BOB, "hd:unlink:2", child)
        await tg.wait_for_message(ANNA.id, t("en", "incident.unlinked", number=2))
        restored = await ops.card(2, "New: waiting for an operator")
        assert "The printer jams on every page (Anna)" in restored["text"]
        await ops.card(1, "3 people affected, 2 linked")
        again = await ops.press(BOB, "hd:unlink:2", restored)  # a spent Unlink is refused
        assert again.params.get("show_alert") is True
        assert "not linked" in again.params["text"]
        assert (await app.desk.ticket(2)).status is Status.NEW


async def test_a_forged_or_mangled_incident_button_is_refused(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock) as (app, tg):
        ops = Group(tg, OPS)
        for number, user in enumerate((ALICE, ANNA), 1):
            await file_request(TelegramChat(tg, user, clock), number, "The printer jams")
        card = await ops.card(1, "New")
        for data in ("hd:link_to:2:1", "hd:link_to:1:x", "hd:unlink:1:2", "hd:declare:one"):
            refused = await ops.press(BOB, data, card)  # #2's move on #1's card, or mangled
            assert refused.params.get("show_alert") is True, data
            assert "no longer valid" in refused.params["text"]
        assert (await app.desk.ticket(2)).status is Status.NEW
