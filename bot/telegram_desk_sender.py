"""Delivers the desk's messages to Telegram groups: ticket cards, relays, receipts, notices and
the digest (a requester's ``ToChat`` stays with :class:`bot.telegram.TelegramSender`).

In a forum supergroup each ticket gets a topic: it is created with the card's first post, the
card is its first message (edited in place on every change), the topic's name follows the
status and the topic closes when the ticket stops being open (and reopens with it). In a group
without topics the card is a message and its thread is the chain of replies to it. The link of
a card is kept in ``message_links`` as ``<thread>/<card message>`` (forum) or ``<card message>``.
Bot API errors are raised to the caller, which maps them onto outbox outcomes.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReactionTypeEmoji
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import telegram_cards as cards
from bot.card_state import card_of
from bot.card_words import CardHistory
from bot.report_render import chart_png, stats_text, to_text
from handlers import report_query
from handlers.config import DeskConfig
from handlers.outbound import Card, Digest, Mark, Notice, Outbound, Relay
from handlers.outcomes import Outcome, RetryLater, Sent, Undeliverable
from handlers.reports import Report
from handlers.tickets import Action, Ticket
from storage import links
from storage.db import SessionFactory

log = logging.getLogger(__name__)

PLATFORM = "telegram"
RELAY_PATIENCE = 20  # attempts to wait for a card before a thread message is given up
_NOT_MODIFIED = ("message is not modified", "TOPIC_NOT_MODIFIED")
_CARD_GONE = ("message to edit not found",)


def markup(keyboard: cards.Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in keyboard
        ]
    )


def split_link(message_id: str) -> tuple[int | None, int]:
    """(topic thread or None, card message id) of a card link's ``message_id``."""
    thread, sep, card = message_id.partition("/")
    return (int(thread), int(card)) if sep else (None, int(thread))


def in_thread(card_link: str) -> dict[str, object]:
    """Send options that put a message in the thread of the card linked as ``card_link``: its
    topic, or a reply to it."""
    thread, card_id = split_link(card_link)
    if thread is not None:
        return {"message_thread_id": thread}
    return {"reply_to_message_id": card_id, "allow_sending_without_reply": True}


@dataclass(frozen=True)
class Shown:
    """A card as rendered from one read of its ticket."""

    ticket: Ticket
    history: CardHistory
    text: str
    keyboard: cards.Keyboard
    topic: str  # the name of its topic, in a forum

    @property
    def looks(self) -> tuple[str, cards.Keyboard, str]:
        return self.text, self.keyboard, self.topic


def unchanged(error: BadRequest) -> bool:
    return any(text.lower() in error.message.lower() for text in _NOT_MODIFIED)


class TelegramDeskSender:
    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        config: DeskConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._bot = bot
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._forums: dict[str, bool] = {}

    async def send(self, message: Outbound, attempts: int) -> Outcome:
        match message:
            case Card():
                return await self._card(message)
            case Relay():
                return await self._relay(message, attempts)
            case Mark():
                return await self._mark(message)
            case Notice():
                return await self._notice(message)
            case Digest():
                return await self._digest(message)
        return Undeliverable(f"telegram cannot deliver a {type(message).__name__}")

    async def is_forum(self, chat: str) -> bool:
        """Whether the group has topics on (asked once per process)."""
        if chat not in self._forums:
            self._forums[chat] = bool((await self._bot.get_chat(chat)).is_forum)
        return self._forums[chat]

    # --- cards --------------------------------------------------------------------------------

    async def _card(self, message: Card) -> Outcome:
        number, role = message.ticket, message.role
        shown = await self._render(message)
        if shown is None:
            return Undeliverable(f"there is no ticket #{number}")
        async with self._sessions() as session:
            link = await links.get(session, number, role)
        chat = link.chat if link is not None else message.place.chat
        thread, card_id = split_link(link.message_id) if link is not None else (None, 0)
        if thread is not None:
            await self._follow_topic(chat, thread, shown.ticket, shown.history)
        if card_id:
            try:
                updated = await self._edit(chat, card_id, shown)
                return Sent({"chat": chat, "message_id": card_id, "updated": updated})
            except BadRequest as error:
                if not any(gone in error.message.lower() for gone in _CARD_GONE):
                    raise
                log.warning("card of #%s is gone from Telegram; posting it again", number)
        if thread is None and await self.is_forum(chat):
            thread = (await self._bot.create_forum_topic(chat, shown.topic)).message_thread_id
            # Remember the topic at once: a retry posts the card into it, not into a new one.
            await self._link(number, role, chat, f"{thread}/0")
        posted = await self._bot.send_message(
            chat,
            shown.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(shown.keyboard),
            message_thread_id=thread,
        )
        key = f"{thread}/{posted.message_id}" if thread is not None else str(posted.message_id)
        await self._link(number, role, chat, key)
        await self._catch_up(message, shown, chat, thread, posted.message_id)
        return Sent({"chat": chat, "message_id": posted.message_id, "thread": thread})

    async def _render(self, message: Card) -> Shown | None:
        """The card from the ticket's current state; None if there is no such ticket."""
        card = await card_of(self._sessions, self._config, self._clock, message.ticket)
        if card is None:
            return None
        ticket, history = card
        if message.role.startswith(links.SPECIALIST_CARD):
            line_id = message.role.partition(":")[2]
            pings = [cards.mention(target) for target in message.ping]
            text = cards.specialist_card(ticket, history, self._config, line_id, pings)
            keyboard = cards.specialist_buttons(ticket, line_id)
        else:
            text = cards.operator_card(ticket, history, self._config)
            keyboard = cards.operator_buttons(ticket, history)
        return Shown(ticket, history, text, keyboard, cards.topic_name(ticket, self._config))

    async def _edit(self, chat: str, card_id: int, shown: Shown) -> bool:
        """Show ``shown`` on the card; False if it showed that already."""
        try:
            await self._bot.edit_message_text(
                shown.text,
                chat,
                card_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(shown.keyboard),
            )
        except BadRequest as error:
            if unchanged(error):
                return False
            raise
        return True

    async def _catch_up(
        self, message: Card, shown: Shown, chat: str, thread: int | None, card_id: int
    ) -> None:
        """Edit a card just posted (and its topic) if the ticket changed while it was: that
        change found no card to refresh (a line's card is not even queued without its link).
        A change after the link is recorded queues a refresh of its own."""
        latest = await self._render(message)
        if latest is None or latest.looks == shown.looks:
            return
        if thread is not None:
            await self._follow_topic(chat, thread, latest.ticket, latest.history)
        await self._edit(chat, card_id, latest)

    async def _link(self, number: int, role: str, chat: str, key: str) -> None:
        async with self._sessions.begin() as session:
            await links.put(session, number, role, PLATFORM, chat, key, self._clock())

    async def _follow_topic(
        self, chat: str, thread: int, ticket: Ticket, history: CardHistory
    ) -> None:
        """The topic's name shows the status; it is closed while the ticket is not open."""
        name = cards.topic_name(ticket, self._config)
        steps = [lambda: self._bot.edit_forum_topic(chat, thread, name=name)]
        if not ticket.is_open:
            steps.append(lambda: self._bot.close_forum_topic(chat, thread))
        elif history.last_action == Action.REOPEN:
            steps.append(lambda: self._bot.reopen_forum_topic(chat, thread))
        for step in steps:
            try:
                await step()
            except BadRequest as error:
                if not unchanged(error):
                    raise

    # --- words in a card's topic --------------------------------------------------------------

    async def _where(self, ticket: int, role: str) -> tuple[str, dict[str, object]] | None:
        """(chat, send options) that put a message in the thread of the ticket's card."""
        async with self._sessions() as session:
            link = await links.get(session, ticket, role)
        if link is None:
            return None
        return link.chat, in_thread(link.message_id)

    async def _relay(self, message: Relay, attempts: int) -> Outcome:
        where = await self._where(message.ticket, message.role)
        if where is None:
            if attempts >= RELAY_PATIENCE:
                return Undeliverable(f"the card of ticket #{message.ticket} was never posted")
            return RetryLater("the ticket's card is not posted yet", after=2.0)
        chat, options = where
        text = cards.relay(message.author, message.text, message.voice, message.file)
        file = message.file
        if file is not None and file.platform == PLATFORM:  # our own bot's file: sent by id
            send = self._bot.send_photo if file.kind == "photo" else self._bot.send_document
            posted = await send(
                chat, file.file_id, caption=text[:1024], parse_mode=ParseMode.HTML, **options
            )
        else:
            posted = await self._bot.send_message(chat, text, parse_mode=ParseMode.HTML, **options)
        return Sent({"chat": chat, "message_id": posted.message_id})

    async def _notice(self, message: Notice) -> Outcome:
        where = await self._where(message.ticket, message.role) if message.role else None
        chat, options = where or (message.place.chat, {})
        text = cards.notice(message.text, message.ping)
        posted = await self._bot.send_message(chat, text, parse_mode=ParseMode.HTML, **options)
        return Sent({"chat": chat, "message_id": posted.message_id})

    async def _mark(self, message: Mark) -> Outcome:
        chat, message_id = message.place.chat, int(message.message_id)
        emoji = cards.RECEIPTS.get(message.mark)
        if emoji is None:
            return Undeliverable(f"no reaction for {message.mark!r}")
        await self._bot.set_message_reaction(chat, message_id, ReactionTypeEmoji(emoji))
        return Sent({"chat": chat, "message_id": message_id})

    async def _digest(self, message: Digest) -> Outcome:
        """The weekly digest: the figures as a fixed-width table, then the chart."""
        chat = message.place.chat
        period = report_query.digest_period(message)
        async with self._sessions() as session:
            report = await report_query.report(session, period)
        posted = await self._bot.send_message(
            chat, stats_html(f"Weekly digest {period.label}", report), parse_mode=ParseMode.HTML
        )
        chart = await asyncio.to_thread(chart_png, report)
        try:  # the figures are posted; a failed chart must not post them again on retry
            await self._bot.send_photo(chat, chart, caption=html.escape(stats_text(report)))
        except BadRequest as error:
            log.warning("digest chart not sent: %s", error.message)
        return Sent({"chat": chat, "message_id": posted.message_id})


def stats_html(title: str, report: Report) -> str:
    """The report's tables as preformatted text under a bold title, within one message."""
    table = to_text(report, width=64)
    body = cards.clip(table, 3900 - len(title))
    return f"<b>{cards.h(title)}</b>\n<pre>{cards.h(body)}</pre>"
