"""How the Telegram desk asks and answers beside a ticket's card: answering a button press,
posting a reply-prompt (ForceReply) or a picker next to the card, changing a picker's
keyboard. A prompt carries its move as ``hd:<move>:<number>[:…]`` in its text, so the answer
to it needs no state kept anywhere.

A ticket that is not open has its topic closed, and only the group's admins may write in a
closed topic: what operators must answer by typing about such a ticket is asked in the
group's General topic instead (``topic_open=False``), naming the ticket."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, CallbackQuery, ForceReply, Message
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import telegram_cards as cards
from bot.telegram_desk_sender import markup
from handlers.messages import UserRef

log = logging.getLogger(__name__)

PLACEHOLDER_LIMIT = 64  # ForceReply's input_field_placeholder


@dataclass(frozen=True)
class Press:
    """A checked press of a desk button: by an operator allowed to make ``move`` on ticket
    ``number``, on ``message`` (the card, or a picker or draft beside it)."""

    query: CallbackQuery
    message: Message
    move: str
    number: int
    extra: list[str]
    person: UserRef
    cause: str


def beside(card: Message, topic_open: bool = True) -> dict[str, object]:
    """Send options that put a message next to ``card``: its topic (the General topic when
    the card's is closed), or a reply to it."""
    if card.is_topic_message and card.message_thread_id:
        return {"message_thread_id": card.message_thread_id} if topic_open else {}
    return {"reply_to_message_id": card.message_id, "allow_sending_without_reply": True}


async def answer(query: CallbackQuery, alert: str = "") -> None:
    """Answer a press: an alert with ``alert`` when the move was refused, else quietly."""
    try:
        await query.answer(alert[:200] or None, show_alert=bool(alert))
    except TelegramError as error:
        log.info("could not answer callback query: %s", error)


async def edit_keyboard(message: Message, keyboard: cards.Keyboard) -> None:
    try:
        await message.edit_reply_markup(reply_markup=markup(keyboard))
    except TelegramError as error:
        log.info("could not change the picker: %s", error)


async def prompt(
    bot: Bot,
    card: Message,
    text: str,
    tag: str,
    placeholder: str = "Your note",
    after: str = "",
    topic_open: bool = True,
) -> None:
    """A reply-prompt beside ``card``: ``text`` (plain, escaped here), the move's ``tag`` on a
    line of its own, then ``after`` (HTML, already escaped: what the answer does not change)."""
    body = f"{cards.h(text)}\n<code>{tag}</code>" + (f"\n{after}" if after else "")
    await bot.send_message(
        card.chat.id,
        body,
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(input_field_placeholder=cards.clip(placeholder, PLACEHOLDER_LIMIT)),
        **beside(card, topic_open),
    )


async def picker(
    bot: Bot, card: Message, html_text: str, keyboard: cards.Keyboard, topic_open: bool = True
) -> None:
    """An inline keyboard to choose from, beside ``card``."""
    await bot.send_message(
        card.chat.id,
        html_text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup(keyboard),
        **beside(card, topic_open),
    )
