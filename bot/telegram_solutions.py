"""Known solutions on the Telegram desk, with the use cases the Slack desk calls
(:class:`handlers.known_answers.KnownAnswers`).

**Reply with a solution** posts a picker beside the card: the best-matching known solutions of
the ticket's category, then the saved replies (``hd:pick:<number>:s<id>`` / ``r<id>``). The
pick is posted in the card's topic under the operator's name and goes to the requester exactly
like an operator's own message there, delivery reaction included.

**Save as solution** (a resolved or closed ticket) posts a draft prefilled from the ticket (the
description as the title, the resolution note as the answer) with **Save**, **Edit title** and
**Edit answer**. The draft lives in its own message: an edit's reply-prompt carries the draft's
message id and the part it does not change, and the answer to it rewrites the draft; Save reads
the draft it sits under. :class:`bot.telegram_desk.TelegramDesk` checked the operator and the
card before a press or an answer gets here.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import telegram_cards as cards
from bot.slack_solution_blocks import ANSWER_MAX, TITLE_MAX
from bot.telegram_desk_sender import PLATFORM, in_thread, markup
from bot.telegram_prompts import Press, answer, edit_keyboard, picker, prompt
from handlers.desk import Desk
from handlers.known_answers import KnownAnswers, Picks
from handlers.messages import UserRef
from handlers.outbound import Place, PostRef
from handlers.tickets_service import Refused

log = logging.getLogger(__name__)

PRESSES = frozenset(
    {cards.REPLY_SOLUTION, cards.PICK, cards.SAVE_SOLUTION, cards.SOL_SAVE, cards.SOL_EDIT}
)
REPLIES = frozenset({cards.SOL_TITLE, cards.SOL_ANSWER})
ON_DRAFT = frozenset({cards.SOL_SAVE, cards.SOL_EDIT})  # buttons of a draft, not of a card
SHOWN = 6  # known solutions (and, apart, saved replies) a picker offers
LABEL_LIMIT = 60
SENT_LIMIT = 3500  # characters of a sent text shown in the topic (a message holds 4096)
_TITLE, _ANSWER = "Title: ", "\nAnswer:"  # the answer follows on the next line
_GONE = "This draft is no longer valid: press Save as solution on the card again."


# --- pure rendering -----------------------------------------------------------------------------


def reply_picker(number: int, picks: Picks) -> tuple[str, cards.Keyboard]:
    """(HTML text, keyboard): 💡 known solutions, best matches first, then 💬 saved replies."""
    language = picks.ticket.language
    keyboard = [
        [
            (
                f"💡 {cards.clip(s.title_in(language), LABEL_LIMIT)}",
                cards.data(cards.PICK, number, f"s{s.id}"),
            )
        ]
        for s in picks.solutions[:SHOWN]
    ]
    keyboard += [
        [
            (
                f"💬 {cards.clip(r.title_in(language), LABEL_LIMIT)}",
                cards.data(cards.PICK, number, f"r{r.id}"),
            )
        ]
        for r in picks.replies[:SHOWN]
    ]
    text = f"Reply to #{number} with a known solution 💡 or a saved reply 💬 (to the requester):"
    return text, keyboard


def sent_text(operator: str, title: str, text: str) -> str:
    """What the topic shows of a picked solution or reply (the requester gets ``text``)."""
    heading = f"<b>{cards.h(operator)}</b> sent “{cards.h(title)}”:\n"
    return heading + cards.h(cards.clip(text, SENT_LIMIT))


def _header(number: int) -> str:
    return f"💡 Save #{number} as a known solution?"


def draft(number: int, title: str, answer_text: str) -> str:
    """The draft of a solution from ticket ``number`` (HTML); :func:`read_draft` reads it back
    from the message's text. The title is one line."""
    one_line = " ".join(title.split())
    return (
        f"{cards.h(_header(number))}\n{_TITLE}{cards.h(cards.clip(one_line, TITLE_MAX))}"
        f"{_ANSWER}\n{cards.h(cards.clip(answer_text.strip(), ANSWER_MAX))}"
    )


def draft_buttons(number: int) -> cards.Keyboard:
    return [
        [
            ("Save", cards.data(cards.SOL_SAVE, number)),
            ("Edit title", cards.data(cards.SOL_EDIT, number, "title")),
            ("Edit answer", cards.data(cards.SOL_EDIT, number, "answer")),
        ]
    ]


def read_draft(number: int, text: str) -> tuple[str, str] | None:
    """(title, answer) of the draft of ticket ``number`` as Telegram hands its text back;
    None for any other message."""
    header, _, rest = text.partition("\n")
    if header != _header(number) or not rest.startswith(_TITLE):
        return None
    title, found, answer_text = rest[len(_TITLE) :].partition(_ANSWER)
    return (title, answer_text.removeprefix("\n")) if found and "\n" not in title else None


def is_draft(message: Message, number: int, bot_id: int) -> bool:
    """Whether ``message`` is the bot's own draft of a solution from ticket ``number`` (it may
    sit in the General topic, away from the ticket's closed one)."""
    author = message.from_user
    own = author is not None and author.id == bot_id
    return own and read_draft(number, message.text or "") is not None


def title_of(text: str) -> str:
    """The title an edit-answer prompt carries (its first ``Title:`` line)."""
    for line in text.splitlines():
        if line.startswith(_TITLE):
            return line[len(_TITLE) :]
    return ""


def answer_of(text: str) -> str:
    """The answer an edit-title prompt carries (everything after its ``Answer:`` line)."""
    return text.partition(_ANSWER)[2].removeprefix("\n")


# --- the moves ----------------------------------------------------------------------------------


class TelegramSolutions:
    def __init__(self, bot: Bot, desk: Desk) -> None:
        self._bot = bot
        self.desk = desk
        self.known = KnownAnswers(desk.sessions, desk.clock)

    async def press(self, press: Press) -> None:
        query, message, number = press.query, press.message, press.number
        try:
            match press.move:
                case cards.REPLY_SOLUTION:
                    await self._offer(query, message, number)
                case cards.PICK:
                    await self._send(press)
                case cards.SAVE_SOLUTION:
                    ticket, note = await self.known.save_form(number)
                    await answer(query)
                    text = draft(number, ticket.description, note)
                    # the ticket's topic is closed: the draft and its prompts go to General
                    await picker(self._bot, message, text, draft_buttons(number), False)
                case cards.SOL_SAVE:
                    await self._save(query, message, number, press.person)
                case cards.SOL_EDIT:
                    await self._ask_edit(query, message, number, press.extra[0])
        except Refused as refused:
            await answer(query, refused.reason)

    async def _offer(self, query: CallbackQuery, card: Message, number: int) -> None:
        text, keyboard = reply_picker(number, await self.known.picks(number))
        if not keyboard:
            raise Refused(f"No known solution or saved reply fits #{number} yet.")
        await answer(query)
        await picker(self._bot, card, text, keyboard)

    async def _send(self, press: Press) -> None:
        """The pick posted in the card's topic, then relayed from there to the requester."""
        number, choice, person = press.number, press.extra[0], press.person
        kind = "solution" if choice.startswith("s") else "reply"
        title, text = await self.known.text_of(number, kind, int(choice[1:]))
        card = await self.known.card_message(number)
        if card is None or card[0].platform != PLATFORM:
            raise Refused(f"The card of #{number} is not in this group any more.")
        await answer(press.query)
        await edit_keyboard(press.message, [])  # one pick per picker: a 2nd press sends nothing
        place, card_link = card
        posted = await self._bot.send_message(
            place.chat,
            sent_text(person.name, title, text),
            parse_mode=ParseMode.HTML,
            **in_thread(card_link),
        )
        source = PostRef(Place(PLATFORM, place.chat), str(posted.message_id))
        result = await self.desk.operators.thread_message(number, person, text, source, press.cause)
        if not result.ok:
            await posted.reply_text(result.reason)

    async def _save(
        self, query: CallbackQuery, message: Message, number: int, person: UserRef
    ) -> None:
        found = read_draft(number, message.text or "")
        if found is None:
            raise Refused(_GONE)
        saved = await self.known.save(number, person, *found)
        await answer(query)
        shown = cards.h(next(iter(saved.title.values())))
        try:
            await message.edit_text(
                f"✅ Saved as a known solution from #{number}: {shown}", parse_mode=ParseMode.HTML
            )
        except BadRequest as error:
            log.info("could not mark the draft saved: %s", error)

    async def _ask_edit(
        self, query: CallbackQuery, message: Message, number: int, part: str
    ) -> None:
        found = read_draft(number, message.text or "")
        if found is None:
            raise Refused(_GONE)
        await answer(query)
        title, answer_text = found
        draft_id = str(message.message_id)
        if part == "title":
            ask = f"✍️ Solution from #{number}: reply with the title, the problem as users put it."
            tag = cards.data(cards.SOL_TITLE, number, draft_id)
            kept = f"{_ANSWER.strip()}\n{cards.h(answer_text)}"
        else:
            ask = f"✍️ Solution from #{number}: reply with the answer, what solves it."
            tag = cards.data(cards.SOL_ANSWER, number, draft_id)
            kept = f"{_TITLE}{cards.h(title)}"
        await prompt(self._bot, message, ask, tag, "The new " + part, kept)

    async def reply(self, asked: Message, move: str, number: int, draft_id: str, text: str) -> str:
        """An answer to an edit prompt (``asked``): the draft rewritten, or why not."""
        said = asked.text or ""
        if move == cards.SOL_TITLE:
            title, answer_text = " ".join(text.split()), answer_of(said)
        else:
            title, answer_text = title_of(said), text.strip()
        if len(title) > TITLE_MAX or len(answer_text) > ANSWER_MAX:
            return (
                f"At most {TITLE_MAX} characters of title and {ANSWER_MAX} of answer: reply again."
            )
        try:
            await self._bot.edit_message_text(
                draft(number, title, answer_text),
                asked.chat.id,
                int(draft_id),
                parse_mode=ParseMode.HTML,
                reply_markup=markup(draft_buttons(number)),
            )
        except BadRequest as error:
            log.info("could not rewrite the draft: %s", error)
            return _GONE
        return ""
