"""The desk's PTB bot: PTB's ``ExtBot`` plus the two calls a conversation makes most (a text,
and taking spent buttons off), without turning Telegram's answer into a ``Message``.

PTB parses every answer into its object model, about a tenth of the CPU of an intake update;
the desk needs at most the new message's id. ``Bot.do_api_request`` would skip the parsing
but warns for methods PTB has, so the two calls go through ``Bot._post`` here, the hook PTB's
own methods use: the rate limiter (bot/pacing.py), the transport and PTB's error mapping
(``RetryAfter``, ``Forbidden``, ``BadRequest``...) apply as for ``send_message``."""

from __future__ import annotations

from typing import Any

from telegram.constants import ParseMode
from telegram.ext import Application, ExtBot

Markup = dict[str, Any]  # a reply_markup as the Bot API's JSON object


class DeskBot(ExtBot[None]):
    """``ExtBot`` with answer-free shortcuts for the desk's most frequent calls."""

    async def send_html(self, chat_id: int | str, text: str, reply_markup: Markup | None) -> int:
        """``sendMessage`` of HTML text (and its keyboard, if any); the new message's id."""
        data: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": ParseMode.HTML}
        if reply_markup is not None:
            data["reply_markup"] = reply_markup
        answer = await self._post("sendMessage", data)
        return int(answer["message_id"])

    async def remove_inline_keyboard(self, chat_id: int | str, message_id: int) -> None:
        """``editMessageReplyMarkup`` without a markup: the message's buttons are gone."""
        await self._post("editMessageReplyMarkup", {"chat_id": chat_id, "message_id": message_id})


def desk_bot(application: Application) -> DeskBot:  # type: ignore[type-arg]
    """The application's bot: a ``DeskBot`` when ``bot.telegram.build_application`` built it."""
    bot = application.bot
    if not isinstance(bot, DeskBot):
        raise TypeError(f"expected the desk's bot, got {type(bot).__name__}")
    return bot
