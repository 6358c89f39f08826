"""The one small service every actor uses to change a ticket: act on it in one transaction,
record the change, let its SLA clocks follow, and queue what must be said about it.

Nothing is sent from here. Each use case's transaction writes its outbox rows (typed messages,
handlers/outbound.py); the delivery worker sends them after the commit (``on_commit`` wakes it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from escalation import policy
from handlers.batch import Batch, SeenBefore
from handlers.config import DeskConfig
from handlers.messages import Button, Reply, UserRef
from handlers.outbound import Card, FileRef, Place, Places, Relay, ToChat
from handlers.tickets import FINAL_STATUSES, Action, Status, Ticket, TransitionError
from storage import links, sla_clocks
from storage import tickets as store
from storage.db import SessionFactory
from storage.tickets import MoveConflict, TicketNotFound

MAX_BUTTON_NUMBER = 18  # digits: ticket numbers in button data are parsed strictly


class Refused(Exception):
    """A move the desk will not make, with the reason the person who tried it is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Done:
    """The move was made; ``ticket`` is how it stands now."""

    ticket: Ticket
    ok: ClassVar[bool] = True


@dataclass(frozen=True)
class Refusal:
    """The move was not made; ``reason`` says why, ``ticket`` how it stands (if it exists)."""

    reason: str
    ticket: Ticket | None = None
    ok: ClassVar[bool] = False


ActionResult = Done | Refusal
Act = Callable[[Batch, Ticket], Awaitable[Ticket]]


def actor_of(user: UserRef) -> str:
    """How a person is written in the audit log: ``platform:id:name``."""
    return f"{user.platform}:{user.id}:{user.name}"


def author_of(user: UserRef) -> tuple[str, str, str]:
    """How a person is written beside a message in the ticket's history."""
    return (user.platform, user.id, user.name)


def requester_place(ticket: Ticket) -> Place:
    """The requester's private chat with the bot (its id is the user's on both platforms)."""
    return Place(ticket.requester.platform, ticket.requester.user_id)


def owner_unless_owned(ticket: Ticket, person: UserRef) -> dict[str, str]:
    """The person acting becomes the owner of a ticket nobody owns (as ``store.move`` fields)."""
    if ticket.assignee:
        return {}
    return {"assignee_id": person.id, "assignee_name": person.name}


def said(status: Status) -> str:
    return status.value.replace("_", " ")


def taken_by(ticket: Ticket) -> str:
    return f"Ticket #{ticket.number} is already taken by {ticket.assignee_name}."


def cannot_move(number: int, status: Status, action: Action) -> str:
    """A refused move as a sentence: 'Ticket #5 is closed, so you cannot claim it any more.'"""
    verb = action.value.replace("_", " ")
    if status in FINAL_STATUSES:
        return f"Ticket #{number} is {said(status)}, so you cannot {verb} it any more."
    return f"Ticket #{number} is {said(status)} right now, so you cannot {verb} it."


class TicketService:
    def __init__(
        self,
        sessions: SessionFactory,
        config: DeskConfig,
        places: Places,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.places = places
        self.clock = clock
        self.on_commit = on_commit

    # --- transactions -------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, cause: str) -> AsyncIterator[Batch]:
        """One transaction for the work ``cause`` brings; the delivery worker is woken after
        it commits."""
        async with self.sessions.begin() as session:
            yield Batch(session, cause, self.clock())
        self.on_commit()

    async def once(self, cause: str, work: Callable[[Batch], Awaitable[None]]) -> bool:
        """``work`` in one transaction, unless ``cause`` was processed before (a redelivery):
        then False, and nothing is done (its first message exists: the transaction is rolled
        back, see :class:`Batch`)."""
        try:
            async with self.sessions.begin() as session:
                await work(Batch(session, cause, self.clock(), once=True))
        except SeenBefore:
            return False
        self.on_commit()
        return True

    async def act_on(self, number: int, actor: UserRef, cause: str, act: Act) -> ActionResult:
        """Run ``act`` on the ticket in one transaction. ``act`` returns the moved ticket or
        raises :class:`Refused`; races and moves the table forbids come back as refusals."""
        try:
            async with self.sessions.begin() as session:
                batch = Batch(session, cause, self.clock())
                ticket = await store.get(session, number)
                try:
                    moved = await act(batch, ticket)
                except Refused as refused:
                    return Refusal(refused.reason, ticket)
                await self.changed(batch, moved)
        except TicketNotFound:
            return Refusal(f"There is no ticket #{number}.")
        except MoveConflict as conflict:
            current = conflict.current
            if current.assignee and current.assignee != actor.id:
                return Refusal(taken_by(current), current)
            return Refusal(f"Ticket #{number} just changed; look at the card again.", current)
        except TransitionError as error:
            return Refusal(cannot_move(number, error.status, error.action))
        self.on_commit()
        return Done(moved)

    # --- what follows a change ----------------------------------------------------------------

    async def changed(self, batch: Batch, ticket: Ticket) -> None:
        """After any change of a ticket: its SLA clocks follow its new state, and each of its
        cards (operators', and every line's it was escalated to) is refreshed from the
        current state by the sender."""
        number = ticket.number
        assert number is not None
        clocks = await sla_clocks.load(batch.session, number)
        responded = ticket.first_response_at is not None
        followed = policy.follow(
            clocks, ticket.status, ticket.priority, responded, batch.now, self.config
        )
        for clock in followed.values():
            if clocks.get(clock.kind) != clock:
                await sla_clocks.save(batch.session, number, clock)
        await self.queue_card(batch, number, links.OPERATOR_CARD, self.places.operators)
        for link in await links.specialist_cards(batch.session, number):
            await self.queue_card(batch, number, link.role, Place(link.platform, link.chat))

    async def queue_card(
        self,
        batch: Batch,
        number: int,
        role: str,
        place: Place,
        ping: tuple[str, ...] = (),
        note: str = "",
    ) -> None:
        """Post the card, or edit it in place: the sender renders the ticket's current state."""
        await batch.add(Card(place, number, role, ping, note))

    async def relay(
        self,
        batch: Batch,
        ticket: Ticket,
        text: str,
        author: str,
        voice: str = "requester",
        file: FileRef | None = None,
        only: str = "",
    ) -> None:
        """Someone's words into every thread following the ticket now (or only the card
        ``only``): the operators' and, while escalated, the line's."""
        assert ticket.number is not None
        for role, place in self.threads_of(ticket):
            if not only or role == only:
                await batch.add(Relay(place, ticket.number, role, text, author, voice, file))

    def threads_of(self, ticket: Ticket) -> list[tuple[str, Place]]:
        """(card role, place) of every thread following the ticket now."""
        threads = [(links.OPERATOR_CARD, self.places.operators)]
        if ticket.status == Status.ESCALATED and ticket.line:
            place = self.places.line(ticket.line)
            if place is not None:
                threads.append((links.specialist_card(ticket.line), place))
        return threads

    def holder(self, ticket: Ticket) -> tuple[str, Place]:
        """The card (role, place) of whoever holds the ticket now."""
        return self.threads_of(ticket)[-1]

    async def tell_requester(
        self,
        batch: Batch,
        ticket: Ticket,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
    ) -> None:
        await batch.add(ToChat(requester_place(ticket), Reply(text, buttons), ticket.number))
