"""The Telegram adapter: python-telegram-bot as transport only.

Inbound: every update goes through one handler that turns it into a plain core call
(``Desk.requesters.user_message``). Outbound: :class:`TelegramSender` delivers typed messages
with the Bot API and maps its errors onto sent / retry later / undeliverable.
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta
from pathlib import PurePosixPath

from telegram import (
    BotCommand,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    ContextTypes,
    TypeHandler,
)

from bot.telegram_bot import DeskBot, Markup, desk_bot
from bot.telegram_desk import TelegramDesk, user_ref
from bot.telegram_desk_sender import PLATFORM, TelegramDeskSender
from bot.telegram_request import AiohttpRequest
from bot.text_pieces import pieces_within
from handlers.desk import Desk
from handlers.i18n import languages, t
from handlers.intake import Input
from handlers.messages import Attachment, Reply
from handlers.outbound import Outbound, ToChat
from handlers.outcomes import Outcome, RetryLater, Sent, Undeliverable
from storage.dedupe import Observer
from storage.models import OutboxRow

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
COMMANDS = ("new", "status", "cancel", "help")


def build_application(
    token: str,
    api_url: str,
    rate_limiter: BaseRateLimiter | None = None,  # type: ignore[type-arg]
    timeout: float = 5.0,
) -> Application:  # type: ignore[type-arg]
    """The PTB application on our aiohttp transport; ``rate_limiter`` paces every request
    (bot/pacing.py), ``timeout`` bounds each request (connect, write, read, pool) in seconds.
    Long polls get their own connection, so they never hold up a send."""
    api = api_url.rstrip("/")
    bot = DeskBot(
        token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=AiohttpRequest(timeout=timeout),
        get_updates_request=AiohttpRequest(pool_size=1, timeout=timeout),
        rate_limiter=rate_limiter,
    )
    return ApplicationBuilder().bot(bot).concurrent_updates(True).build()


class TelegramAdapter:
    """Wires a PTB Application to the desk."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        desk: Desk,
        observe: Observer = lambda key, first: None,
        groups: TelegramDesk | None = None,
    ) -> None:
        """``observe(key, first)`` learns of every update, and whether it was new; ``groups``
        serves the desk's own groups (operators, lines) when any of them is in Telegram."""
        self.application = application
        self.desk = desk
        self.groups = groups
        self._bot = desk_bot(application)
        self._observe = observe
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)

    async def download(self, file_id: str) -> tuple[bytes, str]:
        """A file a user sent (the Bot API hands out files up to 20 MB): (bytes, name)."""
        file = await self.application.bot.get_file(file_id)
        data = await file.download_as_bytearray()
        return bytes(data), PurePosixPath(file.file_path or file_id).name

    async def publish_commands(self) -> None:
        """``setMyCommands`` for every catalog language (and the default)."""
        bot = self.application.bot
        for language in languages():
            commands = [BotCommand(c, t(language, f"command.{c}")) for c in COMMANDS]
            await bot.set_my_commands(commands, language_code=language)
        await bot.set_my_commands([BotCommand(c, t("en", f"command.{c}")) for c in COMMANDS])

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """One update, processed once: a redelivered one is recognised by the desk inside the
        transaction that would process it (storage/dedupe.py; one poller never delivers an
        update twice at the same time, so no claim is needed)."""
        cause = f"tg:{update.update_id}"
        first = True
        if update.callback_query is not None:
            first = await self._on_button(update, cause)
        elif update.message is not None:
            first = await self._on_message(update.message, cause)
        # edited messages, channel posts, polls, member updates...: deliberately ignored
        if not first:
            log.info("telegram update %s seen before; skipped", update.update_id)
        self._observe(cause, first)

    async def _on_button(self, update: Update, cause: str) -> bool:
        query = update.callback_query
        assert query is not None
        message = query.message
        in_group = message is not None and message.chat.type != ChatType.PRIVATE
        if in_group and self.groups is not None:
            return await self.groups.on_button(update, cause)
        # The spinner and the spent buttons are cosmetic: tidy them up alongside, not first.
        self.application.create_task(_tidy_up(self._bot, query), name=f"tidy-{cause}")
        if message is None or message.chat.type != ChatType.PRIVATE:
            return True
        user = user_ref(query.from_user)
        given = Input(choice=query.data or "")
        return await self.desk.requesters.user_message(user, str(message.chat.id), given, cause)

    async def _on_message(self, message: Message, cause: str) -> bool:
        if message.from_user is None or message.from_user.is_bot:
            return True
        user = user_ref(message.from_user)
        chat = str(message.chat.id)
        if self.groups is not None and self.groups.serves(chat):
            return await self.groups.on_message(message, cause)
        if message.chat.type != ChatType.PRIVATE:
            if _addresses_bot(message, self.application.bot.username):
                await message.reply_text(t(user.language, "group.hint"))
            return True
        command, given = _to_input(message)
        if given is None:
            unsupported = Reply(t(user.language, "unsupported"))
            return await self.desk.requesters.say(user, chat, unsupported, cause)
        return await self.desk.requesters.user_message(user, chat, given, cause, command)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)


async def _tidy_up(bot: DeskBot, query: CallbackQuery) -> None:
    """Answer the press (stops the button's spinner) and take the buttons off a private
    message: they are single-use. A stale query cannot be answered; the press still counted."""
    try:
        await query.answer()
    except TelegramError as exc:
        log.info("could not answer callback query: %s", exc)
    message = query.message
    private = message is not None and message.chat.type == ChatType.PRIVATE
    if private and isinstance(message, Message) and message.reply_markup is not None:
        try:
            await bot.remove_inline_keyboard(message.chat.id, message.message_id)
        except TelegramError as exc:
            log.info("could not remove buttons: %s", exc)


def _addresses_bot(message: Message, username: str | None) -> bool:
    text = message.text or ""
    return text.startswith("/") or bool(username and f"@{username}" in text)


def _to_input(message: Message) -> tuple[str, Input | None]:
    """(command name, input) for a private message; input None for what we cannot take."""
    text = message.text or message.caption or ""
    if message.text and text.startswith("/"):
        command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower()
        return command, Input(text=text)
    if message.contact is not None:
        contact = message.contact
        name = " ".join(filter(None, (contact.first_name, contact.last_name)))
        return "", Input(phone=contact.phone_number, contact_name=name)
    if message.photo:
        photo = message.photo[-1]
        return "", Input(text=text, file=Attachment("photo", photo.file_id))
    if message.document is not None:
        doc = message.document
        return "", Input(text=text, file=Attachment("document", doc.file_id, doc.file_name or ""))
    if message.text:
        return "", Input(text=text)
    return "", None


class TelegramSender:
    """Delivers outbox rows for Telegram chats: replies to requesters here, the desk's cards,
    relays, receipts, notices and digests in groups through ``desk``."""

    platform = PLATFORM

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        desk: TelegramDeskSender | None = None,
    ) -> None:
        self._bot = desk_bot(application)  # paced by its rate limiter (bot/pacing.py)
        self._desk = desk

    async def send(self, row: OutboxRow, message: Outbound) -> Outcome:
        try:
            if isinstance(message, ToChat):
                return await self._text(message)
            if self._desk is None:
                return Undeliverable(f"telegram cannot deliver a {type(message).__name__}")
            return await self._desk.send(message, row.attempts)
        except RetryAfter as exc:
            return RetryLater(str(exc), after=_seconds(exc.retry_after))
        except Forbidden as exc:
            return Undeliverable(_forbidden_reason(exc))
        except BadRequest as exc:
            return Undeliverable(f"telegram refused the message: {exc.message}")
        except NetworkError as exc:  # includes TimedOut
            return RetryLater(f"{type(exc).__name__}: {exc}")

    async def _text(self, message: ToChat) -> Outcome:
        chat, sent = message.place.chat, None
        for chunk, markup in _chunks(message.reply):
            sent = await self._bot.send_html(chat, chunk, markup)
        file = message.file
        if file is not None and file.platform == PLATFORM:  # our own bot's file: sent by id
            send = self._bot.send_photo if file.kind == "photo" else self._bot.send_document
            sent = (await send(chat, file.file_id)).message_id
        return Sent({"chat": chat, "message_id": sent})


def _chunks(reply: Reply) -> list[tuple[str, Markup | None]]:
    """The reply as HTML chunks within Telegram's limit; the keyboard rides on the last one."""
    pieces = pieces_within(reply.text, TEXT_LIMIT, _html)
    markup = _markup(reply)
    return [(piece, markup if i == len(pieces) - 1 else None) for i, piece in enumerate(pieces)]


def _html(text: str) -> str:
    return html.escape(text, quote=False)


def _markup(reply: Reply) -> Markup | None:
    """The reply's keyboard as the Bot API's JSON (no PTB objects to build and serialise)."""
    if reply.buttons:
        rows = [[{"text": b.label, "callback_data": b.data} for b in row] for row in reply.buttons]
        return {"inline_keyboard": rows}
    if reply.ask_contact:
        return {
            "keyboard": [[{"text": reply.ask_contact, "request_contact": True}]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if reply.remove_keyboard:
        return {"remove_keyboard": True}
    return None


def _seconds(retry_after: int | timedelta) -> float:
    """PTB's time period in seconds: a timedelta, as ``PTB_TIMEDELTA`` (bot/__init__.py) makes
    PTB give it."""
    assert isinstance(retry_after, timedelta), "PTB_TIMEDELTA is not in effect"
    return retry_after.total_seconds()


def _forbidden_reason(exc: Forbidden) -> str:
    text = exc.message.lower()
    if "blocked" in text:
        return "user blocked the bot"
    if "deactivated" in text:
        return "user account deleted"
    return f"telegram forbids it: {exc.message}"
