"""The second line: escalation to a support line's specialists, who take the ticket, answer
in their card's thread, resolve it or return it to the first line.

The first-line operator stays the ticket's owner through all of it (ITIL: the service desk keeps
control). Each step is one transaction through the ticket service.
"""

from __future__ import annotations

from datetime import datetime

from escalation import business_hours
from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.messages import UserRef
from handlers.tickets import Action, Event, Level, Status, Ticket, priority_of
from handlers.tickets_service import (
    ActionResult,
    Refusal,
    Refused,
    TicketService,
    actor_of,
    owner_unless_owned,
)
from storage import links
from storage import tickets as store


class Specialists:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    @property
    def config(self) -> DeskConfig:
        return self.service.config

    async def escalate(
        self, number: int, operator: UserRef, line_id: str, note: str, impact: Level, cause: str
    ) -> ActionResult:
        """Hand the ticket to ``line_id``'s specialists; the operator stays the owner."""
        line = self.config.line(line_id)
        place = self.service.places.line(line_id)
        if line is None or place is None:
            return Refusal(f"There is no support line {line_id!r}.")

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            if ticket.status == Status.ESCALATED and ticket.line == line.id:
                raise Refused(f"Ticket #{number} is already with {line.name}.")
            first = {} if ticket.first_response_at else {"first_response_at": batch.now}
            moved = await store.move(
                batch.session,
                ticket,
                Action.ESCALATE,
                actor_of(operator),
                batch.now,
                f"to {line.id}: {note}".strip(": "),
                line=line.id,
                impact=impact.value,
                priority=priority_of(impact, ticket.urgency).value,
                specialist_id=None,
                specialist_name=None,
                **owner_unless_owned(ticket, operator),
                **first,
            )
            role = links.specialist_card(line.id)
            if await links.get(batch.session, number, role) is None:
                await self.service.queue_card(batch, number, role, place, tuple(line.ping), note)
            text = self._escalated_text(moved, line.name, batch.now)
            await self.service.tell_requester(batch, moved, text)
            return moved

        return await self.service.act_on(number, operator, cause, act)

    def _escalated_text(self, ticket: Ticket, line_name: str, now: datetime) -> str:
        lang = ticket.language
        text = t(lang, "ticket.escalated", number=ticket.number, line=line_name)
        hours = self.config.business_hours
        if not business_hours.is_open(now, hours):
            opening = business_hours.next_opening(now, hours)
            day, at = business_hours.local_time(opening, hours)
            when = (
                f"{day.isoformat()} {at.strftime('%H:%M')} ({hours.timezone if hours else 'UTC'})"
            )
            text += "\n" + t(lang, "ticket.after_hours", when=when)
        return text

    async def take(
        self, number: int, specialist: UserRef, line_id: str, cause: str
    ) -> ActionResult:
        """A specialist of ``line_id`` (whose card was used) takes the escalated ticket (one
        of them wins a race)."""

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            _with_line(ticket, line_id)
            if ticket.specialist:
                who = "you" if ticket.specialist == specialist.id else ticket.specialist_name
                raise Refused(f"Ticket #{number} is already taken by {who}.")
            return await store.record(
                batch.session,
                ticket,
                Event.TAKE,
                actor_of(specialist),
                batch.now,
                specialist_id=specialist.id,
                specialist_name=specialist.name,
            )

        return await self.service.act_on(number, specialist, cause, act)

    async def return_to_first_line(
        self, number: int, specialist: UserRef, line_id: str, note: str, cause: str
    ) -> ActionResult:
        """The specialists of ``line_id`` give the ticket back to its owner in the first line."""

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            _with_line(ticket, line_id)
            return await store.move(
                batch.session,
                ticket,
                Action.RETURN,
                actor_of(specialist),
                batch.now,
                note,
                line=None,
                specialist_id=None,
                specialist_name=None,
            )

        return await self.service.act_on(number, specialist, cause, act)


def _with_line(ticket: Ticket, line_id: str) -> None:
    """Second-line moves come from the card of the line that holds the ticket now; a stale
    card (the ticket was returned or escalated elsewhere) or another line's is refused."""
    if ticket.status != Status.ESCALATED or ticket.line != line_id:
        raise Refused(f"Ticket #{ticket.number} is not with this line any more.")
