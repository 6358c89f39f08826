"""Known solutions on the Telegram desk, end to end through the real python-telegram-bot stack
against the stand-in Bot API: an operator answers a requester with a known solution or a saved
reply picked under the card; an operator saves a solution from a resolved ticket (prefilled,
edited with reply-prompts) and the next requester with the same problem is offered it; an
outsider's presses change nothing."""

from __future__ import annotations

from typing import Any

from bot.standins.telegram_api import FakeTelegramAPI
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake import Step, choice
from handlers.tickets import Status
from tests.conftest import Clock
from tests.factories import E13
from tests.telegram_chat import TelegramChat
from tests.telegram_groups import (
    BOB,
    MALLORY,
    OPS,
    Group,
    buttons,
    desk_config,
    file_request,
    reply_to_prompt,
    telegram_desk,
)
from tests.test_known_solutions_e2e import RESTART
from tests.test_telegram_e2e import ALICE
from tests.test_telegram_incidents_e2e import BORIS

SCANNER = "The scanner on floor 2 does not see the network"


def known_config() -> DeskConfig:
    return desk_config().model_copy(update={"solutions": [E13], "replies": [RESTART]})


async def open_reply_picker(tg: FakeTelegramAPI, ops: Group, card: dict) -> dict:
    since = len(tg.sent)
    assert not (await ops.press(BOB, "hd:solve:1", card)).params.get("show_alert")
    picker = await tg.wait_for_message(OPS, "Reply to #1 with a known solution", since=since)
    assert picker["message_thread_id"] == ops.thread(card)
    return picker


async def test_a_reply_with_a_known_solution_reaches_the_requester(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, known_config()) as (_, tg):
        ops = Group(tg, OPS)
        await file_request(
            TelegramChat(tg, ALICE, clock), 1, "The printer jams paper and shows E13", offered=True
        )
        card = await ops.card(1, f"Offered before filing, did not help: {E13.title['en']}")
        assert ("Reply with a solution", "hd:solve:1") in buttons(card)

        # an outsider can neither open the picker nor send from it
        refused = await ops.press(MALLORY, "hd:solve:1", card)
        assert refused.params.get("show_alert") is True
        picker = await open_reply_picker(tg, ops, card)
        [(solution, pick_solution), (reply, _)] = buttons(picker)
        assert (solution, reply) == (f"💡 {E13.title['en']}", f"💬 {RESTART.title['en']}")
        refused = await ops.press(MALLORY, pick_solution, picker)
        assert refused.params.get("show_alert") is True

        # Bob's pick: posted in the topic under his name, relayed to Alice, marked delivered
        def answers_to_alice() -> int:
            return sum("Open tray 2" in text for text in tg.texts_to(ALICE.id))

        before, since = answers_to_alice(), len(tg.sent)
        await ops.press(BOB, pick_solution, picker)
        posted = await tg.wait_for_message(OPS, "Bob Operator sent “Printer shows E13", since)
        assert posted["message_thread_id"] == ops.thread(card)
        assert "Open tray 2 & remove the torn sheet." in posted["text"]
        got = await tg.wait_for_message(ALICE.id, "Open tray 2 & remove the torn sheet.")
        assert E13.link in got["text"]
        assert await ops.reaction(posted["message_id"]) == "👌"
        assert buttons(tg.message(OPS, picker["message_id"])) == []  # one pick per picker
        assert answers_to_alice() == before + 1

        # a saved reply goes the same way
        picker = await open_reply_picker(tg, ops, card)
        await ops.press(BOB, buttons(picker)[1][1], picker)
        await tg.wait_for_message(ALICE.id, RESTART.text["en"])


async def test_a_solution_saved_from_the_telegram_desk_is_offered_next_time(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, known_config()) as (app, tg):
        ops = Group(tg, OPS)
        card = await resolved_card(tg, clock, "Pressed the reset button at the back")
        assert (await app.desk.ticket(1)).status is Status.RESOLVED

        # the draft, prefilled from the ticket, in the General topic (the ticket's is closed)
        since = len(tg.sent)
        assert not (await ops.press(BOB, "hd:save_solution:1", card)).params.get("show_alert")
        draft = await tg.wait_for_message(OPS, "Save #1 as a known solution?", since=since)
        assert "message_thread_id" not in draft
        assert draft["text"].endswith(
            f"Title: {SCANNER}\nAnswer:\nPressed the reset button at the back"
        )
        labels = ["Save", "Edit title", "Edit answer", "Keywords", "Link"]
        assert [label for label, _ in buttons(draft)] == labels
        refused = await ops.press(MALLORY, "hd:sol_save:1", draft)
        assert refused.params.get("show_alert") is True

        # edited with reply-prompts: each answer rewrites the draft in place
        for part, typed in (
            ("title", "Scanner <i>lost</i> the network"),
            ("answer", "Press the reset button at the back of the scanner."),
        ):
            asked = await edit_draft(tg, draft, part, typed)
            assert f"reply with the {part}" in asked["text"]
            await _until_text(tg, draft, typed.replace("<", "&lt;").replace(">", "&gt;"))
        draft = tg.message(OPS, draft["message_id"])
        assert draft["text"].endswith(
            "Title: Scanner <i>lost</i> the network\n"
            "Answer:\nPress the reset button at the back of the scanner."
        )

        await ops.press(BOB, "hd:sol_save:1", draft)
        await _until_text(tg, draft, "✅ Saved as a known solution from #1")
        assert buttons(tg.message(OPS, draft["message_id"])) == []

        # the next requester with the same problem is offered it
        offer = await offered_to_boris(tg, clock, "My scanner lost the network again")
        assert "Press the reset button at the back of the scanner." in offer["text"]


async def test_a_solution_saved_with_keywords_and_a_link_is_offered_by_a_keyword(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, known_config()) as (_, tg):
        card = await resolved_card(tg, clock, "Pressed reset")
        since = len(tg.sent)
        await Group(tg, OPS).press(BOB, "hd:save_solution:1", card)
        draft = await tg.wait_for_message(OPS, "Save #1 as a known solution?", since=since)

        # a bad link is refused with a message, and the draft stays as it was
        since = len(tg.sent)
        asked = await edit_draft(tg, draft, "link", "wiki.example.org/scanner")
        refused = await tg.wait_for_message(OPS, "http(s) address", since=since + 1)
        assert refused["text"].startswith("A link is an http(s) address")
        assert refused["reply_to_message"]["message_id"] > asked["message_id"]  # Bob's answer
        assert tg.message(OPS, draft["message_id"])["text"] == draft["text"]

        link = "https://wiki.example.org/scanners?model=kyocera&floor=2"
        await edit_draft(tg, draft, "keywords", "Kyocera, <blinking> ,")
        await _until_text(tg, draft, "Keywords: Kyocera, &lt;blinking&gt;")
        await edit_draft(tg, draft, "link", link)
        await _until_text(tg, draft, f"Link: {link.replace('&', '&amp;')}")
        draft = tg.message(OPS, draft["message_id"])
        assert f"Title: {SCANNER}\nKeywords: Kyocera, <blinking>\nLink: {link}\n" in draft["text"]
        await Group(tg, OPS).press(BOB, "hd:sol_save:1", draft)
        await _until_text(tg, draft, "✅ Saved as a known solution from #1")

        # no word of the title or the answer, only a keyword: offered, with the link
        offer = await offered_to_boris(tg, clock, "Kyocera flashes orange")
        assert "Pressed reset" in offer["text"] and link in offer["text"]


async def test_save_as_solution_needs_a_resolved_ticket(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, known_config()) as (_, tg):
        ops = Group(tg, OPS)
        await file_request(TelegramChat(tg, ALICE, clock), 1, SCANNER)
        card = await ops.card(1, "New")
        assert "hd:save_solution:1" not in [data for _, data in buttons(card)]
        refused = await ops.press(BOB, "hd:save_solution:1", card)  # a press the card lacks
        assert refused.params.get("show_alert") is True
        assert "not resolved" in refused.params["text"]
        forged = await ops.press(BOB, "hd:sol_save:1", card)  # the card is no draft
        assert "no longer valid" in forged.params["text"]


async def resolved_card(tg: FakeTelegramAPI, clock: Clock, resolution: str) -> dict:
    """The card of Alice's request #1 once Bob claimed it and resolved it with
    ``resolution``."""
    ops = Group(tg, OPS)
    await file_request(TelegramChat(tg, ALICE, clock), 1, SCANNER)
    card = await ops.card(1, "New")
    await ops.press(BOB, "hd:claim:1", card)
    await reply_to_prompt(ops, BOB, card, "hd:resolve:1", "Resolve #1", resolution)
    return await ops.card(1, f"Resolution: {resolution}")


async def edit_draft(tg: FakeTelegramAPI, draft: dict, part: str, typed: str) -> dict:
    """Bob presses the edit of ``part`` under the draft of #1 and answers its reply-prompt
    with ``typed``; returns the prompt."""
    since = len(tg.sent)
    await Group(tg, OPS).press(BOB, f"hd:sol_edit:1:{part}", draft)
    asked = await tg.wait_for_message(OPS, f"hd:sol_{part}:1:", since=since)
    assert (asked.get("reply_markup") or {}).get("force_reply") is True
    Group(tg, OPS).say(BOB, typed, None, reply_to=asked["message_id"])
    return asked


async def offered_to_boris(tg: FakeTelegramAPI, clock: Clock, description: str) -> dict:
    """Boris starts a printers request with ``description`` and is offered solutions."""
    boris = TelegramChat(tg, BORIS, clock)
    await boris.send(BORIS.command("start"), t("en", "ask.category"))
    await boris.press(choice(Step.CATEGORY, "printers"), t("en", "ask.description"))
    return await boris.say(description, t("en", "solutions.offer"))


async def _until_text(tg: FakeTelegramAPI, message: dict[str, Any], text: str) -> None:
    await tg.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and c.params.get("message_id") == message["message_id"]
            and c.ok
            and text in c.params["text"]
        )
    )
