"""Major incidents on the Telegram desk: the card's **Link to…**, **Unlink**, **Declare major
incident** and **Broadcast** buttons, made with the same use cases the Slack desk calls
(:class:`handlers.incident_desk.Incidents`).

Link to… posts a picker beside the card: the open tickets of the same category from the last
hours as buttons (``hd:link_to:<child>:<parent>``), and any other parent by replying to it with
its number. Declare asks for the title requesters will see and Broadcast for the update, each
with a reply-prompt that carries its move. :class:`bot.telegram_desk.TelegramDesk` checked the
operator and the card before a press or an answer gets here.
"""

from __future__ import annotations

from telegram import Bot, CallbackQuery, Message

from bot import telegram_cards as cards
from bot.slack_incident_blocks import TITLE_MAX, UPDATE_MAX, suggestion_label
from bot.telegram_prompts import Press, answer, edit_keyboard, picker, prompt
from handlers.desk import Desk
from handlers.incidents import title
from handlers.messages import UserRef, ticket_number
from handlers.tickets import Ticket
from handlers.tickets_service import ActionResult

PRESSES = frozenset({cards.LINK, cards.LINK_TO, cards.UNLINK, cards.DECLARE, cards.BROADCAST})
REPLIES = frozenset({cards.LINK, cards.DECLARE, cards.BROADCAST})
SUGGESTED = 8  # parents offered as buttons
LABEL_LIMIT = 60  # characters of a suggestion's button


def link_picker(ticket: Ticket, suggestions: list[Ticket]) -> tuple[str, cards.Keyboard]:
    """(HTML text, keyboard) of Link to…: the suggested parents, one a row; the text carries the
    move, so a reply with a number answers it too."""
    number = ticket.number
    assert number is not None
    text = (
        f"🔗 Link #{number} to which ticket? Pick an open ticket of its category, or reply to "
        f"this message with the parent's number.\n<code>{cards.data(cards.LINK, number)}</code>"
    )
    keyboard = [
        [
            (
                cards.clip(suggestion_label(s), LABEL_LIMIT),
                cards.data(cards.LINK_TO, number, str(s.number)),
            )
        ]
        for s in suggestions[:SUGGESTED]
    ]
    return text, keyboard


def parent_of(text: str) -> int | None:
    """The parent an operator typed: ``12`` or ``#12``."""
    return ticket_number(text.strip().removeprefix("#").strip())


def refusal(result: ActionResult) -> str:
    return "" if result.ok else result.reason


class TelegramIncidents:
    def __init__(self, bot: Bot, desk: Desk) -> None:
        self._bot = bot
        self.desk = desk

    async def press(self, press: Press) -> None:
        incidents, query, card, number = (
            self.desk.incidents,
            press.query,
            press.message,
            press.number,
        )
        match press.move:
            case cards.UNLINK:
                result = await incidents.unlink(number, press.person, press.cause)
                await answer(query, refusal(result))
            case cards.LINK_TO:
                parent = int(press.extra[0])
                result = await incidents.link(number, parent, press.person, press.cause)
                await answer(query, refusal(result))
                if result.ok:
                    await edit_keyboard(card, [])
            case cards.LINK:
                await self._ask_parent(query, card, number)
            case cards.DECLARE:
                await self._ask_title(query, card, number)
            case cards.BROADCAST:
                await self._ask_update(query, card, number)

    async def _ask_parent(self, query: CallbackQuery, card: Message, number: int) -> None:
        ticket, suggestions = await self.desk.incidents.link_candidates(number)
        if ticket is None:
            await answer(query, f"There is no ticket #{number}.")
            return
        await answer(query)
        if suggestions:
            await picker(self._bot, card, *link_picker(ticket, suggestions))
            return
        ask = f"🔗 Link #{number}: reply with the parent ticket's number."
        await prompt(self._bot, card, ask, cards.data(cards.LINK, number), "12")

    async def _ask_title(self, query: CallbackQuery, card: Message, number: int) -> None:
        ticket = await self.desk.ticket(number)
        if ticket is None:
            await answer(query, f"There is no ticket #{number}.")
            return
        await answer(query)
        ask = (
            f"🚨 Declare #{number} a major incident: reply with the title requesters will see "
            f"(no names or personal data)."
        )
        tag = cards.data(cards.DECLARE, number)
        await prompt(self._bot, card, ask, tag, title(ticket.description))

    async def _ask_update(self, query: CallbackQuery, card: Message, number: int) -> None:
        incident = await self.desk.ticket(number)
        if incident is None or not incident.major:
            await answer(query, f"Ticket #{number} is not a major incident.")
            return
        people = await self.desk.incidents.affected(number)
        await answer(query)
        who = "person" if people == 1 else "people"
        ask = (
            f"📣 Broadcast on #{number}: reply with the update (for example: ETA 30 min). "
            f"It goes to {people} {who}, each in their own chat."
        )
        tag = cards.data(cards.BROADCAST, number)
        await prompt(self._bot, card, ask, tag, "The update", topic_open=incident.is_open)

    async def reply(self, move: str, number: int, text: str, person: UserRef, cause: str) -> str:
        """An answer to Link's, Declare's or Broadcast's prompt: the move made, or why not."""
        incidents = self.desk.incidents
        if move == cards.LINK:
            parent = parent_of(text)
            if parent is None:
                return "Reply with the parent ticket's number, for example 12."
            return refusal(await incidents.link(number, parent, person, cause))
        if move == cards.DECLARE:
            if len(text.strip()) > TITLE_MAX:
                return f"A title of at most {TITLE_MAX} characters, please: reply again."
            return refusal(await incidents.declare_major(number, person, text.strip(), cause))
        if len(text.strip()) > UPDATE_MAX:
            return f"An update of at most {UPDATE_MAX} characters, please: reply again."
        return refusal(await incidents.broadcast(number, person, text.strip(), cause))
