"""Saved replies added from the Telegram operators' group, end to end through the real
python-telegram-bot stack against the stand-in Bot API: an operator's ``/reply`` asks for the
title and the text with reply-prompts, the reply is then offered under **Reply with a
solution** and reaches a requester; an outsider's ``/reply``, or answer to the prompt, adds
nothing."""

from __future__ import annotations

from dataclasses import replace

from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from tests.conftest import Clock
from tests.telegram_chat import TelegramChat
from tests.telegram_groups import (
    BOB,
    CAROL,
    MALLORY,
    OPS,
    Group,
    buttons,
    file_request,
    telegram_desk,
)
from tests.test_telegram_e2e import ALICE
from tests.test_telegram_solutions_e2e import SCANNER, known_config, open_reply_picker

TITLE = "Toner <b>low</b> & faded"
TEXT = "Shake the toner cartridge & print again: <i>it lasts</i> a few more days."


async def answer_prompt(tg: FakeTelegramAPI, who: TgUser, asks: str, text: str) -> dict:
    """The bot's newest reply-prompt that ``asks``, answered by ``who`` with ``text``."""
    asked = await tg.wait_for_message(OPS, asks)
    assert (asked.get("reply_markup") or {}).get("force_reply") is True
    Group(tg, OPS).say(who, text, None, reply_to=asked["message_id"])
    return asked


async def test_a_saved_reply_added_with_reply_reaches_a_requester(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, known_config()) as (_, tg):
        ops = Group(tg, OPS)
        ops.say(BOB, "/reply", None)
        asked = await answer_prompt(tg, BOB, "New saved reply (en), 1 of 2", f"  {TITLE}\n")
        assert asked["reply_to_message"]["text"] == "/reply"
        asked = await answer_prompt(tg, BOB, "New saved reply (en), 2 of 2", TEXT)
        assert f"hd:reply_text:0:en\nTitle: {TITLE}" in asked["text"]  # shown as typed
        done = await tg.wait_for_message(OPS, "✅ Saved reply added (en)")
        assert done["text"].startswith(f"✅ Saved reply added (en): {TITLE};")

        # offered under Reply with a solution, and sent from there to the requester
        await file_request(TelegramChat(tg, ALICE, clock), 1, SCANNER)
        card = await ops.card(1, "New")
        picker = await open_reply_picker(tg, ops, card)
        [pick] = [data for label, data in buttons(picker) if label == f"💬 {TITLE}"]
        await ops.press(BOB, pick, picker)
        await tg.wait_for_message(ALICE.id, TEXT)


async def test_reply_is_for_operators_and_takes_the_desks_languages(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with telegram_desk(database_url, redis_url, clock, known_config()) as (app, tg):
        ops = Group(tg, OPS)
        since = len(tg.sent)
        ops.say(MALLORY, "/reply", None)
        await tg.wait_for_message(OPS, "Only the desk's operators", since=since)
        assert not any("New saved reply" in text for text in tg.texts_to(OPS))

        since = len(tg.sent)
        ops.say(BOB, "/reply fr", None)  # not a language of the desk
        await tg.wait_for_message(OPS, "Usage: /reply [en|uk]", since=since)

        # Carol's Telegram is in Ukrainian: her reply is saved in Ukrainian
        carol = replace(CAROL, language_code="uk-UA")
        ops.say(carol, "/reply", None)
        asked = await tg.wait_for_message(OPS, "New saved reply (uk), 1 of 2")
        ops.say(MALLORY, "Mallory's title", None, reply_to=asked["message_id"])  # not taken
        ops.say(carol, "Перезавантажте", None, reply_to=asked["message_id"])
        await answer_prompt(tg, carol, "New saved reply (uk), 2 of 2", "Перезавантажте ПК.")
        await tg.wait_for_message(OPS, "✅ Saved reply added (uk): Перезавантажте")

        added = await app.desk.known_answers.operators_replies()
        assert [(r.title, r.text) for r in added] == [
            ({"uk": "Перезавантажте"}, {"uk": "Перезавантажте ПК."})
        ]
        assert not any("Mallory's title" in text for text in tg.texts_to(OPS))
