"""Operators and known solutions: save one from a resolved ticket, and pick a known solution or a
saved reply to answer a requester with (the adapter sends the text through the ticket's thread,
like any operator message). Who may do this is checked by the adapters, as for every card action.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.config import is_web_address
from handlers.messages import UserRef
from handlers.outbound import Place
from handlers.solutions import KnownSolution, SavedReplyText
from handlers.text import clean
from handlers.tickets import Action, Status, Ticket
from handlers.tickets_service import Refused, actor_of
from storage import links, solutions
from storage import tickets as store
from storage.db import SessionFactory

SAVABLE = (Status.RESOLVED, Status.CLOSED)
PICKER_SIZE = 100  # Slack shows at most 100 options per group


@dataclass(frozen=True)
class Picks:
    """What an operator can answer ``ticket`` with: its category's known solutions, the best
    matches of its description first, and the saved replies."""

    ticket: Ticket
    solutions: Sequence[KnownSolution]
    replies: Sequence[SavedReplyText]


class KnownAnswers:
    def __init__(self, sessions: SessionFactory, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    async def _ticket(self, number: int) -> Ticket:
        async with self.sessions() as session:
            try:
                return await store.get(session, number)
            except store.TicketNotFound:
                raise Refused(f"There is no ticket #{number}.") from None

    async def _resolved(self, number: int) -> Ticket:
        """Ticket ``number``, which a solution may be saved from (:class:`Refused` if not)."""
        ticket = await self._ticket(number)
        if ticket.status not in SAVABLE:
            raise Refused(f"Ticket #{number} is not resolved; save a solution once it is.")
        return ticket

    async def save_form(self, number: int) -> tuple[Ticket, str]:
        """The resolved ticket and its latest resolution note, to prefill a solution from."""
        ticket = await self._resolved(number)
        async with self.sessions() as session:
            events = await store.events(session, number)
        notes = [e.note for e in events if e.action == Action.RESOLVE and e.note]
        return ticket, notes[-1] if notes else ""

    async def save(
        self,
        number: int,
        operator: UserRef,
        title: str,
        answer: str,
        keywords: Sequence[str] = (),
        link: str = "",
    ) -> KnownSolution:
        """A known solution from resolved ticket ``number``, in the ticket's language and
        category; offered to the next requester whose description matches."""
        ticket = await self._resolved(number)
        title, answer, link = clean(title).strip(), clean(answer).strip(), clean(link).strip()
        if not (title and answer):
            raise Refused("A solution needs a title and an answer.")
        if link and not is_web_address(link):
            raise Refused("The link must be an http(s) address.")
        async with self.sessions.begin() as session:
            return await solutions.save(
                session,
                title={ticket.language: title},
                answer={ticket.language: answer},
                categories=[ticket.category],
                keywords=[k for k in (clean(k).strip() for k in keywords) if k],
                link=link,
                created_by=actor_of(operator),
                ticket_id=number,
                now=self.clock(),
            )

    async def operators_replies(self) -> list[SavedReplyText]:
        """The saved replies operators wrote (those from the desk config live in its TOML)."""
        async with self.sessions() as session:
            return [r for r in await solutions.saved_replies(session) if r.key is None]

    async def save_reply(
        self,
        operator: UserRef,
        language: str,
        title: str,
        text: str,
        replaces: int | None = None,
    ) -> SavedReplyText:
        """A saved reply in ``language``, optionally in place of an operator's older one."""
        title, text = clean(title).strip(), clean(text).strip()
        if not (title and text):
            raise Refused("A saved reply needs a title and a text.")
        if replaces is not None and replaces not in {r.id for r in await self.operators_replies()}:
            raise Refused("The reply to replace is gone or comes from the desk config.")
        async with self.sessions.begin() as session:
            return await solutions.save_reply(
                session,
                title={language: title},
                text={language: text},
                created_by=actor_of(operator),
                now=self.clock(),
                replaces=replaces,
            )

    async def picks(self, number: int) -> Picks:
        ticket = await self._ticket(number)
        async with self.sessions() as session:
            best = await solutions.match(session, ticket.description, ticket.category)
            rest = await solutions.for_category(session, ticket.category)
            replies = await solutions.saved_replies(session)
        ids = {s.id for s in best}
        ordered = [*best, *(s for s in rest if s.id not in ids)][:PICKER_SIZE]
        return Picks(ticket, ordered, replies[:PICKER_SIZE])

    async def card_message(self, number: int) -> tuple[Place, str] | None:
        """(place, message id) of the ticket's card on the operators' desk, once posted."""
        async with self.sessions() as session:
            link = await links.get(session, number, links.OPERATOR_CARD)
        return (Place(link.platform, link.chat), link.message_id) if link is not None else None

    async def text_of(self, number: int, kind: str, item_id: int) -> tuple[str, str]:
        """(title, text) of the known solution (``kind`` "solution") or saved reply
        ("reply") ``item_id``, in the ticket's language: what the requester is sent."""
        ticket = await self._ticket(number)
        language = ticket.language
        async with self.sessions() as session:
            if kind == "solution":
                found = await solutions.solution(session, item_id)
                if found is not None:
                    return found.title_in(language), found.answer_in(language)
            else:
                reply = await solutions.saved_reply(session, item_id)
                if reply is not None:
                    return reply.title_in(language), reply.text_in(language)
        raise Refused("That solution or saved reply is no longer available.")
