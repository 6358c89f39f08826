"""Drive the desk's Telegram groups through the fake Bot API like operators would: find a
ticket's card and topic, press its buttons, write in its topic, answer the bot's prompts; and
file the requests they work on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.app import HelpdeskApp
from bot.standins.telegram_api import Call, FakeTelegramAPI, TgUser
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake import NOT_SOLVED, Step, choice
from tests.conftest import Clock
from tests.telegram_chat import TelegramChat, running_app, telegram_settings

OPS = -1001000000001  # the operators' forum supergroup
SYS = -1001000000002  # the sysadmins line's forum supergroup
BOB = TgUser(2001, "Bob", "Operator", username="bob")
CAROL = TgUser(2002, "Carol", "Operator", username="carol")
MALLORY = TgUser(2003, "Mallory", "Outsider", username="mallory")
SAM = TgUser(2004, "Sam", "Specialist", username="sam")
# Operators in OPS; groups unpaced (the 20/min pacing has its own test, bot/pacing.py's rules)
GROUP_SETTINGS = {"telegram_operators_chat": str(OPS), "telegram_group_per_minute": 0}


def desk_config(sysadmins: str = f"telegram:{SYS}") -> DeskConfig:
    """The default desk with the sysadmins line in ``sysadmins``, pinging Sam."""
    lines = [
        line.model_dump()
        | ({"channel": sysadmins, "ping": ["@sam"]} if line.id == "sysadmins" else {})
        for line in DeskConfig().lines
    ]
    return DeskConfig.model_validate({"lines": lines})


def groups(api: FakeTelegramAPI, topics: bool = True) -> None:
    """Bob and Carol in the operators' group, Sam in the sysadmins' group; the bot is an
    admin that manages topics in both (``topics``: the operators' group has them on)."""
    api.add_group(OPS, "IT operators", forum=topics)
    api.add_group(SYS, "Sysadmins", forum=True)
    for operator in (BOB, CAROL):
        api.set_member(OPS, operator)
    api.set_member(SYS, SAM)


@asynccontextmanager
async def telegram_desk(
    database_url: str,
    redis_url: str,
    clock: Clock,
    config: DeskConfig | None = None,
    topics: bool = True,
    **extra: Any,
) -> AsyncIterator[tuple[HelpdeskApp, FakeTelegramAPI]]:
    async with FakeTelegramAPI() as api:
        groups(api, topics)
        settings = telegram_settings(api, database_url, redis_url, **(GROUP_SETTINGS | extra))
        async with running_app(settings, clock, config or desk_config()) as app:
            yield app, api


class Group:
    """A desk group as its people see it."""

    def __init__(self, api: FakeTelegramAPI, chat: int) -> None:
        self.api = api
        self.chat = chat

    async def card(self, number: int, contains: str = "", wait: float = 5.0) -> dict:
        """The card of ticket ``number`` (its current state) once it shows ``contains``."""
        title = f"#{number} · "
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            for sent in reversed(self.api.messages_to(self.chat)):
                text = sent.get("text", "")
                if title in text.split("\n", 1)[0] and sent.get("reply_markup") is not None:
                    current = self.api.message(self.chat, sent["message_id"]) or sent
                    if contains in current.get("text", ""):
                        return current
            if loop.time() > deadline:
                raise AssertionError(
                    f"no card #{number} showing {contains!r}; texts: {self.api.texts_to(self.chat)}"
                )
            await asyncio.sleep(0.05)

    def thread(self, card: dict) -> int:
        return int(card["message_thread_id"])

    async def press(self, who: TgUser, data: str, message: dict) -> Call:
        """``who`` presses the button ``data`` under ``message``; returns the answer call."""
        since = len(self.api.calls)
        update = who.press(data, message["message_id"], chat_id=self.chat)
        query_id = update["callback_query"]["id"] = f"q{since}-{who.id}"
        self.api.push_update(update)
        return await self.api.wait_for(
            lambda c: (
                c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id
            ),
            since=since,
        )

    def say(self, who: TgUser, text: str, thread: int | None, reply_to: int | None = None) -> int:
        """``who`` writes ``text`` in the topic ``thread`` (None: in the group, as a reply to
        ``reply_to``); returns the message id."""
        update = who.group_text(
            text,
            chat_id=self.chat,
            chat_type="supergroup",
            thread_id=thread,
            reply_to_message_id=reply_to,
        )
        self.api.push_update(update)
        return int(self.api.updates[-1]["message"]["message_id"])

    def send_photo(self, who: TgUser, caption: str, thread: int) -> int:
        """``who`` posts a photo with ``caption`` in the topic ``thread``; returns its id."""
        update = who.photo(caption=caption)
        update["message"]["chat"] = {"id": self.chat, "type": "supergroup", "title": "Desk"}
        update["message"] |= {"message_thread_id": thread, "is_topic_message": True}
        self.api.push_update(update)
        return int(self.api.updates[-1]["message"]["message_id"])

    async def prompt(self, thread: int, contains: str, since: int) -> dict:
        """The bot's ForceReply prompt in the topic."""
        found = await self.api.wait_for_message(self.chat, contains, since=since)
        assert found.get("message_thread_id") == thread
        assert (found.get("reply_markup") or {}).get("force_reply") is True
        return found

    async def reaction(self, message_id: int, since: int = 0) -> str:
        call = await self.api.wait_for(
            lambda c: (
                c.method == "setMessageReaction"
                and c.params.get("message_id") == message_id
                and c.status == 200
            ),
            since=since,
        )
        return str(call.params["reaction"][0]["emoji"])


async def file_request(
    chat: TelegramChat, number: int, description: str, offered: bool = False
) -> None:
    """A short intake in the printers category in English, submitted as request ``number``;
    ``offered``: known solutions are offered for the description, and did not help."""
    await chat.send(chat.user.command("start"), t("en", "ask.category"))
    await chat.press(choice(Step.CATEGORY, "printers"), t("en", "ask.description"))
    if offered:
        await chat.say(description, t("en", "solutions.offer"))
        await chat.press(choice(Step.SOLUTIONS, NOT_SOLVED), t("en", "ask.location"))
    else:
        await chat.say(description, t("en", "ask.location"))
    await chat.say("HQ, floor 3", t("en", "ask.name"))
    await chat.press(choice(Step.NAME, "remembered"), t("en", "ask.phone"))
    await chat.send(chat.user.contact("+380671234567"), t("en", "ask.asset"))
    await chat.press(choice(Step.ASSET, "skip"), t("en", "ask.files", max=10))
    await chat.press(choice(Step.FILES, "done"), t("en", "ask.urgency"))
    await chat.press(choice(Step.URGENCY, "high"), t("en", "summary.title"))
    await chat.press(choice(Step.SUMMARY, "submit"), t("en", "ticket.created", number=number))


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def reply_to_prompt(
    ops: Group, who: TgUser, card: dict, press: str, asks: str, text: str
) -> dict:
    """``who`` presses ``press`` on ``card`` and answers the reply-prompt that asks ``asks``."""
    since = len(ops.api.sent)
    await ops.press(who, press, card)
    prompt = await ops.prompt(ops.thread(card), asks, since)
    ops.say(who, text, ops.thread(card), reply_to=prompt["message_id"])
    return prompt
