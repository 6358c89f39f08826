"""Known solutions on the Telegram desk, with the use cases the Slack desk calls
(:class:`handlers.known_answers.KnownAnswers`).

**Reply with a solution** posts a picker beside the card: the best-matching known solutions of
the ticket's category, then the saved replies (``hd:pick:<number>:s<id>`` / ``r<id>``). The
pick is posted in the card's topic under the operator's name and goes to the requester exactly
like an operator's own message there, delivery reaction included.

**Save as solution** (a resolved or closed ticket) posts a draft prefilled from the ticket (the
description as the title, the resolution note as the answer) with **Save**, **Edit title**,
**Edit answer**, **Keywords** and **Link** (both optional; a link must be an http(s) address).
The draft lives in its own message: an edit's reply-prompt carries the draft's message id and
the parts it does not change, and the answer to it rewrites the draft; Save reads the draft it
sits under. :class:`bot.telegram_desk.TelegramDesk` checked the operator and the
card before a press or an answer gets here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from telegram import Bot, CallbackQuery, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import telegram_cards as cards
from bot.slack_solution_blocks import ANSWER_MAX, KEYWORDS_MAX, LINK_MAX, TITLE_MAX
from bot.telegram_desk_sender import PLATFORM, in_thread, markup
from bot.telegram_prompts import Press, answer, edit_keyboard, picker, prompt
from handlers.config import is_web_address
from handlers.desk import Desk
from handlers.known_answers import Picks
from handlers.messages import UserRef
from handlers.outbound import Place, PostRef
from handlers.tickets_service import Refused

log = logging.getLogger(__name__)

PRESSES = frozenset(
    {cards.REPLY_SOLUTION, cards.PICK, cards.SAVE_SOLUTION, cards.SOL_SAVE, cards.SOL_EDIT}
)
# the prompt that edits each part of a draft
PROMPTS = {
    "title": (cards.SOL_TITLE, "reply with the title, the problem as users put it."),
    "answer": (cards.SOL_ANSWER, "reply with the answer, what solves it."),
    "keywords": (
        cards.SOL_KEYWORDS,
        "reply with the keywords users write, comma-separated (- for none).",
    ),
    "link": (cards.SOL_LINK, "reply with a link with details, an http(s) address (- for none)."),
}
PART_OF = {move: part for part, (move, _) in PROMPTS.items()}
REPLIES = frozenset(PART_OF)
ON_DRAFT = frozenset({cards.SOL_SAVE, cards.SOL_EDIT})  # buttons of a draft, not of a card
SHOWN = 6  # known solutions (and, apart, saved replies) a picker offers
LABEL_LIMIT = 60
SENT_LIMIT = 3500  # characters of a sent text shown in the topic (a message holds 4096)
_TITLE, _KEYWORDS, _LINK = "Title: ", "Keywords: ", "Link: "
_ANSWER = "\nAnswer:"  # the answer follows on the next line
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


@dataclass(frozen=True)
class Draft:
    """A solution as its draft shows it: a one-line title, the answer, and optionally the
    keywords users write and a link with details."""

    title: str
    answer: str
    keywords: tuple[str, ...] = ()
    link: str = ""


def keywords_of(text: str) -> tuple[str, ...]:
    """``"E13, paper jam"`` -> ``("E13", "paper jam")``."""
    return tuple(word for word in (" ".join(part.split()) for part in text.split(",")) if word)


def body(found: Draft, left_out: str = "") -> str:
    """The draft's parts (HTML), without ``left_out`` (the part an edit prompt asks for); the
    optional ones only when set. :func:`fields` reads it back."""
    lines = []
    if left_out != "title":
        lines.append(_TITLE + cards.h(cards.clip(" ".join(found.title.split()), TITLE_MAX)))
    if found.keywords and left_out != "keywords":
        lines.append(_KEYWORDS + cards.h(", ".join(found.keywords)))
    if found.link and left_out != "link":
        lines.append(_LINK + cards.h(found.link))
    text = "\n".join(lines)
    if left_out != "answer":
        text += f"{_ANSWER}\n{cards.h(cards.clip(found.answer.strip(), ANSWER_MAX))}"
    return text.removeprefix("\n")


def fields(text: str) -> Draft:
    """The parts a draft or an edit prompt shows, as Telegram hands its text back (a part it
    does not show is empty): the labelled lines before ``Answer:``, the answer after it."""
    head, found, answer_text = text.partition(_ANSWER)
    values: dict[str, str] = {}
    for line in head.splitlines():
        for label in (_TITLE, _KEYWORDS, _LINK):
            if line.startswith(label):
                values.setdefault(label, line[len(label) :])
    return Draft(
        values.get(_TITLE, ""),
        answer_text.removeprefix("\n") if found else "",
        keywords_of(values.get(_KEYWORDS, "")),
        values.get(_LINK, ""),
    )


def draft(number: int, found: Draft) -> str:
    """The draft of a solution from ticket ``number`` (HTML); :func:`read_draft` reads it back
    from the message's text."""
    return f"{cards.h(_header(number))}\n{body(found)}"


def draft_buttons(number: int) -> cards.Keyboard:
    return [
        [
            ("Save", cards.data(cards.SOL_SAVE, number)),
            ("Edit title", cards.data(cards.SOL_EDIT, number, "title")),
            ("Edit answer", cards.data(cards.SOL_EDIT, number, "answer")),
        ],
        [
            ("Keywords", cards.data(cards.SOL_EDIT, number, "keywords")),
            ("Link", cards.data(cards.SOL_EDIT, number, "link")),
        ],
    ]


def read_draft(number: int, text: str) -> Draft | None:
    """The draft of ticket ``number`` as Telegram hands its text back; None for any other
    message."""
    header, _, rest = text.partition("\n")
    if header != _header(number) or not rest.startswith(_TITLE) or _ANSWER not in rest:
        return None
    return fields(rest)


def is_draft(message: Message, number: int, bot_id: int) -> bool:
    """Whether ``message`` is the bot's own draft of a solution from ticket ``number`` (it may
    sit in the General topic, away from the ticket's closed one)."""
    author = message.from_user
    own = author is not None and author.id == bot_id
    return own and read_draft(number, message.text or "") is not None


def edited(carried: Draft, part: str, text: str) -> Draft:
    """The draft an edit prompt carries (``carried``) with ``part`` set from the operator's
    answer ``text``; ``-`` clears the keywords or the link."""
    cleared = text.strip() == "-"
    match part:
        case "title":
            return replace(carried, title=" ".join(text.split()))
        case "answer":
            return replace(carried, answer=text.strip())
        case "keywords":
            return replace(carried, keywords=() if cleared else keywords_of(text))
    return replace(carried, link="" if cleared else text.strip())


def fault(found: Draft) -> str:
    """Why ``found`` cannot be a solution's draft, or "" when it can."""
    if found.link and not is_web_address(found.link):
        return "A link is an http(s) address, like https://wiki.example.org/e13: reply again."
    sizes = (
        (found.title, TITLE_MAX, "title"),
        (found.answer, ANSWER_MAX, "answer"),
        (", ".join(found.keywords), KEYWORDS_MAX, "keywords"),
        (found.link, LINK_MAX, "link"),
    )
    for value, limit, part in sizes:
        if len(value) > limit:
            return f"At most {limit} characters of {part}: reply again."
    return ""


# --- the moves ----------------------------------------------------------------------------------


class TelegramSolutions:
    def __init__(self, bot: Bot, desk: Desk) -> None:
        self._bot = bot
        self.desk = desk
        self.known = desk.known_answers

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
                    text = draft(number, Draft(ticket.description, note))
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
        saved = await self.known.save(
            number, person, found.title, found.answer, found.keywords, found.link
        )
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
        move, ask = PROMPTS[part]
        tag = cards.data(move, number, str(message.message_id))
        ask = f"✍️ Solution from #{number}: {ask}"
        await prompt(self._bot, message, ask, tag, "The new " + part, body(found, part))

    async def reply(self, asked: Message, move: str, number: int, draft_id: str, text: str) -> str:
        """An answer to an edit prompt (``asked``, which carries the parts it does not change):
        the draft rewritten, or why not (the draft stays as it was)."""
        changed = edited(fields(asked.text or ""), PART_OF[move], text)
        refused = fault(changed)
        if refused:
            return refused
        try:
            await self._bot.edit_message_text(
                draft(number, changed),
                asked.chat.id,
                int(draft_id),
                parse_mode=ParseMode.HTML,
                reply_markup=markup(draft_buttons(number)),
            )
        except BadRequest as error:
            log.info("could not rewrite the draft: %s", error)
            return _GONE
        return ""
