"""Drive a Telegram private chat through the fake Bot API like a person would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.app import HelpdeskApp
from bot.config import Settings
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.config import DeskConfig
from tests.conftest import Clock


class TelegramChat:
    """One user's private chat with the bot: send things, wait for the bot's answer."""

    def __init__(self, api: FakeTelegramAPI, user: TgUser, clock: Clock | None = None) -> None:
        self.api = api
        self.user = user
        self.clock = clock

    async def send(self, update: dict[str, Any], expect: str, wait: float = 5.0) -> dict:
        """Push ``update`` and wait for a bot message to this chat containing ``expect``.

        People take a few seconds per answer: the clock moves on, so answers are not mistaken
        for a burst of one message."""
        if self.clock is not None:
            self.clock.advance(seconds=5)
        since = len(self.api.sent)
        self.api.push_update(update)
        return await self.api.wait_for_message(self.user.id, expect, wait, since=since)

    async def say(self, text: str, expect: str) -> dict:
        return await self.send(self.user.text(text), expect)

    async def press(self, data: str, expect: str) -> dict:
        """Press the button with callback ``data`` on the newest message that has it."""
        for message in reversed(self.api.messages_to(self.user.id)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if any(button.get("callback_data") == data for row in rows for button in row):
                return await self.send(self.user.press(data, message["message_id"]), expect)
        raise AssertionError(
            f"no button {data!r} in chat; texts: {self.api.texts_to(self.user.id)}"
        )

    def buttons(self) -> list[str]:
        """Callback data of the buttons on the newest message that has any."""
        for message in reversed(self.api.messages_to(self.user.id)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if rows:
                return [b["callback_data"] for row in rows for b in row]
        return []


def telegram_settings(api: FakeTelegramAPI, database_url: str, redis_url: str, **extra: Any):
    return Settings(
        _env_file=None,
        database_url=database_url,
        redis_url=redis_url,
        telegram_bot_token=api.token,
        telegram_api_url=api.url,
        **extra,
    )


@asynccontextmanager
async def running_app(
    settings: Settings, clock: Clock, config: DeskConfig | None = None
) -> AsyncIterator[HelpdeskApp]:
    app = HelpdeskApp(settings, config or DeskConfig(), clock, telegram_spacing=0)
    await app.start()
    try:
        yield app
    finally:
        await app.stop(grace=1)
