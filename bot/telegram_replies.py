"""Saved replies from the Telegram operators' group, as Slack's ``/helpdesk reply`` adds them:
``/reply`` (or ``/reply uk``) asks with two reply-prompts, the title and then the text, and
saves through the same core call (:meth:`handlers.known_answers.KnownAnswers.save_reply`). The
language is the one named, else the operator's Telegram language when the desk has it, else
the desk's default. A prompt carries its step and language as ``hd:reply_title:0:<language>``
or ``hd:reply_text:0:<language>`` (0: no ticket), the text's prompt the title too, so an
answer needs no state. :class:`bot.telegram_desk.TelegramDesk` checked the operator before a
command or an answer gets here.
"""

from __future__ import annotations

from telegram import Bot, Message
from telegram.constants import ParseMode

from bot import telegram_cards as cards
from bot.slack_solution_blocks import ANSWER_MAX, TITLE_MAX
from bot.telegram_prompts import prompt
from bot.telegram_solutions import Draft, body, fields
from handlers.desk import Desk
from handlers.i18n import languages
from handlers.messages import UserRef
from handlers.tickets_service import Refused

REPLIES = frozenset({cards.REPLY_TITLE, cards.REPLY_TEXT})
NO_TICKET = 0


def usage() -> str:
    return (
        f"Usage: /reply [{'|'.join(languages())}]: a new saved reply, in your language or the "
        "one named; operators insert it with Reply with a solution."
    )


class TelegramReplies:
    def __init__(self, bot: Bot, desk: Desk) -> None:
        self._bot = bot
        self.known = desk.known_answers

    async def start(self, command: Message, operator: UserRef, argument: str) -> None:
        """``/reply [language]``: the prompt for the title, beside the command."""
        language = argument.strip().lower() or operator.language
        if language not in languages():
            await command.reply_text(usage())
            return
        ask = (
            f"✍️ New saved reply ({language}), 1 of 2: reply with its title, how operators find it."
        )
        tag = cards.data(cards.REPLY_TITLE, NO_TICKET, language)
        await prompt(self._bot, command, ask, tag, "Title")

    async def reply(
        self, said: Message, asked: Message, move: str, language: str, operator: UserRef
    ) -> str:
        """The operator's answer ``said`` to the prompt ``asked``: the next prompt, or the
        reply saved and confirmed; else why not (the prompt can be answered again)."""
        text = said.text or ""
        if move == cards.REPLY_TITLE:
            title = " ".join(text.split())
            if len(title) > TITLE_MAX:
                return f"At most {TITLE_MAX} characters of title: reply again."
            ask = (
                f"✍️ New saved reply ({language}), 2 of 2: reply with the text the requester reads."
            )
            tag = cards.data(cards.REPLY_TEXT, NO_TICKET, language)
            await prompt(self._bot, said, ask, tag, "Text", body(Draft(title, ""), "answer"))
            return ""
        if len(text.strip()) > ANSWER_MAX:
            return f"At most {ANSWER_MAX} characters of text: reply again."
        try:
            saved = await self.known.save_reply(
                operator, language, fields(asked.text or "").title, text
            )
        except Refused as refused:
            return refused.reason
        shown = cards.h(saved.title_in(language))
        await said.reply_text(
            f"✅ Saved reply added ({language}): {shown}; Reply with a solution offers it.",
            parse_mode=ParseMode.HTML,
        )
        return ""
