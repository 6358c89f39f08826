"""The desk in Telegram groups, inbound: card buttons, words in a ticket's topic, reply-prompts
and the operators' commands, each turned into a plain core call.

Only the desk's people act: operators are on ``[desk] operators`` (user ids or @usernames) when
it is set, else members of the operators' group (``getChatMember``); a line's specialists are
operators or members of the line's group. Everyone else gets an alert and nothing changes.
Resolve, Reject and a specialist's Resolve ask for their note with a ForceReply prompt;
Escalate asks for the line and the impact with inline keyboards, then for a note. A prompt
carries its move as ``hd:<move>:<number>[:…]`` in its text, so an answer needs no state.
The incident moves are made in :mod:`bot.telegram_incidents`, the known-solution moves in
:mod:`bot.telegram_solutions` and ``/reply`` (a new saved reply) in :mod:`bot.telegram_replies`,
once checked here like every other press, answer and command.
"""

from __future__ import annotations

import logging
import re
import time

from telegram import Message, ReactionTypeEmoji, Update, User
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application

from bot import telegram_cards as cards
from bot import telegram_incidents as incidents
from bot import telegram_replies as replies
from bot import telegram_solutions as solutions
from bot.card_state import card_of
from bot.telegram_desk_sender import PLATFORM, markup, split_link, stats_html
from bot.telegram_prompts import Press, answer, beside, edit_keyboard, prompt
from handlers.desk import Desk
from handlers.i18n import pick_language
from handlers.messages import UserRef
from handlers.outbound import FileRef, Place, PostRef
from handlers.reports import PeriodError, desk_zone, parse_period
from handlers.tickets import Level
from handlers.tickets_service import ActionResult, Refusal
from storage import links

log = logging.getLogger(__name__)

MEMBERS_TTL = 60.0  # seconds a getChatMember answer is trusted
NOT_OPERATOR = "Only the desk's operators can do that."
NOT_SPECIALIST = "Only this line's specialists and the operators can do that."
STALE_BUTTON = "This button is no longer valid: use the ticket's current card."
_COMMAND = re.compile(r"^/[A-Za-z]")  # not "//", the internal-note prefix
_TAG = re.compile(r"hd:[a-z_]+:\d+(?::[a-z0-9_]+)*")
_MEMBER = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER)
_PROMPTS = {
    cards.RESOLVE: "✍️ Resolve #{n}: what was done? Reply to this message; the requester reads it.",
    cards.REJECT: "✍️ Reject #{n}: why? Reply to this message; the requester reads it.",
    cards.SPEC_RESOLVE: "✍️ Resolve #{n}: what was done? Reply to this message.",
    cards.IMPACT: "✍️ Escalate #{n}: a note for the specialists? Reply here (- for none).",
}
_SPECIALIST_MOVES = (cards.TAKE, cards.SPEC_RESOLVE, cards.RETURN)
_ASKING = (
    cards.ESCALATE,
    cards.LINE,
    cards.IMPACT,
    cards.RESOLVE,
    cards.REJECT,
    cards.SPEC_RESOLVE,
)


def user_ref(tg_user: User) -> UserRef:
    return UserRef(
        platform=PLATFORM,
        id=str(tg_user.id),
        name=tg_user.full_name,
        language=pick_language(tg_user.language_code),
        username=tg_user.username or "",
    )


class TelegramDesk:
    """The operators' group and the lines' groups that are in Telegram."""

    def __init__(self, application: Application, desk: Desk) -> None:  # type: ignore[type-arg]
        self._bot = application.bot
        self.desk = desk
        operators = desk.places.operators
        self._operators = operators.chat if operators.platform == PLATFORM else None
        self._lines = {
            place.chat: line_id
            for line_id, place in desk.places.lines.items()
            if place.platform == PLATFORM
        }
        self._allow = frozenset(desk.config.desk.operators)
        self._members: dict[tuple[str, int], tuple[float, bool]] = {}
        self.incidents = incidents.TelegramIncidents(self._bot, desk)
        self.solutions = solutions.TelegramSolutions(self._bot, desk)
        self.replies = replies.TelegramReplies(self._bot, desk)

    def serves(self, chat: str) -> bool:
        return chat == self._operators or chat in self._lines

    # --- who may act --------------------------------------------------------------------------

    async def _member(self, chat: str, user_id: int) -> bool:
        cached = self._members.get((chat, user_id))
        if cached is not None and time.monotonic() - cached[0] < MEMBERS_TTL:
            return cached[1]
        try:
            member = await self._bot.get_chat_member(chat, user_id)
        except TelegramError as error:
            log.warning("getChatMember %s in %s failed: %s", user_id, chat, error)
            return False
        is_member = member.status in _MEMBER or getattr(member, "is_member", False)
        self._members[(chat, user_id)] = (time.monotonic(), is_member)
        return is_member

    async def is_operator(self, user: User) -> bool:
        if self._allow:
            named = bool(user.username) and f"@{user.username}" in self._allow
            return str(user.id) in self._allow or named
        return self._operators is not None and await self._member(self._operators, user.id)

    async def may_act(self, user: User, chat: str, move: str) -> bool:
        """Operators act on every card; a line's members on their specialist cards."""
        if await self.is_operator(user):
            return True
        in_line = move in _SPECIALIST_MOVES and chat in self._lines
        return in_line and await self._member(chat, user.id)

    # --- buttons ------------------------------------------------------------------------------

    async def on_button(self, update: Update, cause: str) -> bool:
        query = update.callback_query
        assert query is not None
        message = query.message
        parsed = cards.parse(query.data or "")
        if parsed is None or not isinstance(message, Message):
            await answer(query, STALE_BUTTON if parsed is None else "")
            return True
        move, number, extra = parsed
        chat = str(message.chat.id)
        if not await self.may_act(query.from_user, chat, move):
            await answer(query, NOT_SPECIALIST if chat in self._lines else NOT_OPERATOR)
            return True
        line_id = self._lines.get(chat, "")
        if move in solutions.ON_DRAFT:
            where = chat == self._operators and solutions.is_draft(message, number, self._bot.id)
        else:
            where = await self._beside_card(message, number, move, line_id)
        if not where:
            await answer(query, STALE_BUTTON)
            return True
        person = user_ref(query.from_user)
        press = Press(query, message, move, number, extra, person, cause)
        if move in incidents.PRESSES:
            await self.incidents.press(press)
        elif move in solutions.PRESSES:
            await self.solutions.press(press)
        elif move in _ASKING:  # answered at once: the question may wait for the group's pace
            await answer(query)
            await self._ask(message, move, number, extra)
        else:
            result = await self._move(move, number, person, line_id, cause)
            await answer(query, result.reason if isinstance(result, Refusal) else "")
        return True

    async def _move(
        self, move: str, number: int, person: UserRef, line_id: str, cause: str
    ) -> ActionResult | None:
        match move:
            case cards.CLAIM:
                return await self.desk.operators.claim(number, person, cause)
            case cards.RELEASE:
                return await self.desk.operators.release(number, person, cause)
            case cards.TAKE:
                return await self.desk.specialists.take(number, person, line_id, cause)
            case cards.RETURN:
                return await self.desk.specialists.return_to_first_line(
                    number, person, line_id, "", cause
                )
        return None

    async def _ask(self, message: Message, move: str, number: int, extra: list[str]) -> None:
        """What a move needs before it is made: a line, an impact, a note."""
        match move:
            case cards.ESCALATE:
                await self._choose_line(message, number)
            case cards.LINE:
                await edit_keyboard(message, cards.impact_picker(number, extra[0]))
            case cards.IMPACT:
                await edit_keyboard(message, [])
                await self._prompt(message, move, number, *extra)
            case cards.RESOLVE | cards.REJECT | cards.SPEC_RESOLVE:
                await self._prompt(message, move, number)

    async def _beside_card(self, message: Message, number: int, move: str, line_id: str) -> bool:
        """Whether the pressed ``message`` is the ticket's current card for ``move``, or sits
        in its topic (or replies to it: a picker): a forged or stale button's ticket number is
        not taken on trust."""
        specialist = move in _SPECIALIST_MOVES
        if specialist and not line_id:
            return False
        role = links.specialist_card(line_id) if specialist else links.OPERATOR_CARD
        async with self.desk.sessions() as session:
            link = await links.get(session, number, role)
        if link is None or link.chat != str(message.chat.id):
            return False
        thread, card_id = split_link(link.message_id)
        if message.message_id == card_id:
            return True
        if thread is not None:
            return message.message_thread_id == thread
        replied = message.reply_to_message
        return replied is not None and replied.message_id == card_id

    async def _choose_line(self, card: Message, number: int) -> None:
        ticket = await self.desk.ticket(number)
        if ticket is None:
            return
        await self._bot.send_message(
            card.chat.id,
            f"Escalate #{number}: to which line?",
            reply_markup=markup(cards.line_picker(ticket, self.desk.config)),
            **beside(card),
        )

    async def _prompt(self, card: Message, move: str, number: int, *extra: str) -> None:
        tag = cards.data(move, number, *extra)
        await prompt(self._bot, card, _PROMPTS[move].format(n=number), tag)

    # --- messages -----------------------------------------------------------------------------

    async def on_message(self, message: Message, cause: str) -> bool:
        user = message.from_user
        assert user is not None
        chat = str(message.chat.id)
        text = message.text or message.caption or ""
        if _COMMAND.match(text) and chat == self._operators:
            await self._command(message, user, text)
            return True
        replied = message.reply_to_message
        if replied is not None and replied.from_user and replied.from_user.id == self._bot.id:
            tag = _TAG.search(replied.text or "")
            if tag and cards.parse(tag[0]):
                return await self._answer_prompt(message, user, tag[0], text, cause)
        found = await self._card_of_thread(message, chat)
        file = _file_of(message)
        if found is None or not (text or file):
            return True
        number, role = found
        move = cards.SPEC_RESOLVE if role != links.OPERATOR_CARD else cards.CLAIM
        if not await self.may_act(user, chat, move):
            await _not_relayed(message)
            return True
        source = PostRef(Place(PLATFORM, chat), str(message.message_id))
        await self.desk.operators.thread_message(
            number, user_ref(user), text, source, cause, role, file
        )
        return True

    async def _card_of_thread(self, message: Message, chat: str) -> tuple[int, str] | None:
        """(ticket, card role) whose topic (or reply chain) the message is in."""
        async with self.desk.sessions() as session:
            if message.is_topic_message and message.message_thread_id:
                thread = str(message.message_thread_id)
                link = await links.card_in_thread(session, PLATFORM, chat, thread)
            elif message.reply_to_message is not None:
                replied = str(message.reply_to_message.message_id)
                link = await links.ticket_of(session, PLATFORM, chat, replied)
            else:
                return None
        if link is None or not links.is_card(link.role):
            return None
        return link.ticket_id, link.role

    async def _answer_prompt(
        self, message: Message, user: User, tag: str, note: str, cause: str
    ) -> bool:
        parsed = cards.parse(tag)
        assert parsed is not None
        move, number, extra = parsed
        # The prompt is the bot's own, written after its button was checked beside the card.
        if not await self.may_act(user, str(message.chat.id), move):
            return True
        if not note.strip():
            await message.reply_text("A note is needed: reply to the prompt with some text.")
            return True
        person, desk = user_ref(user), self.desk
        refused = await self._delegate(message, move, number, extra, person, cause)
        if refused is not None:
            if refused:
                await message.reply_text(refused)
            return True
        if move == cards.REJECT:
            result = await desk.operators.reject(number, person, note, cause)
        elif move == cards.IMPACT:
            line_id, impact = extra
            said = "" if note.strip() == "-" else note
            result = await desk.specialists.escalate(
                number, person, line_id, said, Level(impact), cause
            )
        else:
            result = await desk.operators.resolve(number, person, note, cause)
        if isinstance(result, Refusal):
            await message.reply_text(result.reason)
        return True

    async def _delegate(
        self, said: Message, move: str, number: int, extra: list[str], person: UserRef, cause: str
    ) -> str | None:
        """An answer to a prompt of the incident, solution or saved-reply moves: "" when it
        was taken, why not, or None when ``move`` is none of theirs."""
        asked, note = said.reply_to_message, said.text or said.caption or ""
        assert asked is not None
        if move in incidents.REPLIES:
            return await self.incidents.reply(move, number, note, person, cause)
        if move in solutions.REPLIES:
            return await self.solutions.reply(asked, move, number, extra[0], note)
        if move in replies.REPLIES:
            return await self.replies.reply(said, asked, move, extra[0], person)
        return None

    # --- commands -----------------------------------------------------------------------------

    async def _command(self, message: Message, user: User, text: str) -> None:
        word, _, rest = text[1:].partition(" ")
        command = word.split("@", 1)[0].lower()
        if command not in ("list", "show", "stats", "reply"):
            return
        if not await self.is_operator(user):
            await message.reply_text(NOT_OPERATOR)
            return
        if command == "reply":
            await self.replies.start(message, user_ref(user), rest)
            return
        desk = self.desk
        if command == "list":
            tickets = await desk.open_tickets()
            answer = cards.ticket_list(tickets, desk.config, desk.clock())
        elif command == "show":
            answer = await self._show(rest.strip().lstrip("#"))
        else:
            try:
                period = parse_period(rest, desk.clock(), desk_zone(desk.config))
            except PeriodError as error:
                answer = cards.h(str(error))
            else:
                answer = stats_html(f"Helpdesk {period.label}", await desk.report(period))
        await message.reply_text(answer, parse_mode=ParseMode.HTML)

    async def _show(self, number: str) -> str:
        if not number.isdigit():
            return "Usage: /show 12"
        desk = self.desk
        card = await card_of(desk.sessions, desk.config, desk.clock, int(number))
        if card is None:
            return f"There is no ticket #{number}."
        return cards.operator_card(*card, desk.config)


def _file_of(message: Message) -> FileRef | None:
    """The photo (largest size) or document an operator's message carries."""
    if message.photo:
        return FileRef("photo", message.photo[-1].file_id, PLATFORM)
    if message.document is not None:
        document = message.document
        return FileRef("document", document.file_id, PLATFORM, document.file_name or "")
    return None


async def _not_relayed(message: Message) -> None:
    """An outsider's words in a card's topic: marked as not relayed (a reaction, which does
    not count against the group's message limit)."""
    try:
        await message.set_reaction(ReactionTypeEmoji(cards.RECEIPTS["not_relayed"]))
    except TelegramError as error:
        log.info("could not mark an outsider's message: %s", error)
