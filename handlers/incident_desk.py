"""The desk's major-incident use cases: operators link and unlink tickets, declare an incident
and broadcast an update to everybody it affects; and what resolving, reopening, intake and
delivery do for incidents (called from the requesters', operators' and feedback modules).

Like every use case, each runs in one transaction of the ticket service (moves, audit events and
outbox rows together) and sends nothing itself. The rules are in ``handlers/incidents.py``, the
tables in ``storage/incidents.py``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.batch import Batch
from handlers.i18n import t
from handlers.incidents import SUGGEST_WITHIN, link_refusal, recipients
from handlers.messages import Reply, UserRef
from handlers.outbound import KINDS, Place, ToChat
from handlers.tickets import Action, Status, Ticket
from handlers.tickets_service import (
    ActionResult,
    Refused,
    TicketService,
    actor_of,
    author_of,
    said,
)
from storage import incidents, links, outbox
from storage import tickets as store
from storage.models import OutboxRow
from storage.tickets import TicketNotFound


class Incidents:
    """What operators do with incidents from a card."""

    def __init__(self, service: TicketService) -> None:
        self.service = service

    async def link(self, child: int, parent: int, operator: UserRef, cause: str) -> ActionResult:
        """Link ticket ``child`` to ``parent`` (which becomes a major incident)."""

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            try:
                incident = await store.get(batch.session, parent)
            except TicketNotFound:
                raise Refused(f"There is no ticket #{parent}.") from None
            return await link(self.service, batch, ticket, incident, actor_of(operator))

        return await self.service.act_on(child, operator, cause, act)

    async def unlink(self, child: int, operator: UserRef, cause: str) -> ActionResult:
        """Take ``child`` off its incident: back in the queue, its clocks running again."""

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            if ticket.status != Status.LINKED or ticket.parent is None:
                raise Refused(f"Ticket #{child} is not linked to an incident.")
            moved = await incidents.unlink(batch.session, ticket, actor_of(operator), batch.now)
            text = t(moved.language, "incident.unlinked", number=child)
            await self.service.tell_requester(batch, moved, text)
            await _refresh(self.service, batch, ticket.parent)
            return moved

        return await self.service.act_on(child, operator, cause, act)

    async def declare_major(
        self, number: int, operator: UserRef, title: str, cause: str
    ) -> ActionResult:
        """Make ticket ``number`` a major incident other tickets can be linked to; ``title`` is
        what requesters are shown about it."""

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            if ticket.major:
                raise Refused(f"Ticket #{number} is a major incident already.")
            if ticket.status == Status.LINKED:
                raise Refused(f"Ticket #{number} is linked to #{ticket.parent}; unlink it first.")
            if not ticket.is_open:
                raise Refused(f"Ticket #{number} is {said(ticket.status)}.")
            actor = actor_of(operator)
            return await incidents.declare_major(batch.session, ticket, actor, batch.now, title)

        return await self.service.act_on(number, operator, cause, act)

    async def broadcast(
        self, parent: int, operator: UserRef, text: str, cause: str
    ) -> ActionResult:
        """Send ``text`` to the requester of the incident and of every ticket linked to it, each
        once, in their language and chat. The messages fall due at the desk's
        ``broadcast_per_second`` (and the outbox paces them within the platform's limits like
        any message), so conversations keep their share of the bot; the incident's card counts
        what arrived."""

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            if not ticket.major:
                raise Refused(f"Ticket #{parent} is not a major incident; declare it first.")
            session = batch.session
            to = recipients([ticket, *await incidents.children(session, parent)])
            actor = actor_of(operator)
            sent = await incidents.start_broadcast(session, ticket, text, actor, batch.now, to)
            await store.add_message(
                session, parent, author_of(operator), "to_user", text, batch.now
            )
            pace = timedelta(seconds=1 / self.service.config.desk.broadcast_per_second)
            for n, person in enumerate(to):
                update = Reply(t(person.language, "incident.update", parent=parent, text=text))
                place = Place(person.platform, person.chat)
                await batch.add(ToChat(place, update, person.ticket, broadcast=sent), n * pace)
            return ticket

        return await self.service.act_on(parent, operator, cause, act)

    # --- what the "Link to…" and Broadcast dialogs show ---------------------------------------

    async def link_candidates(self, number: int) -> tuple[Ticket | None, list[Ticket]]:
        """Ticket ``number`` and what "Link to…" suggests for it: open incidents and recent open
        tickets of its category."""
        async with self.service.sessions() as session:
            try:
                ticket = await store.get(session, number)
            except TicketNotFound:
                return None, []
            since = self.service.clock() - SUGGEST_WITHIN
            found = await incidents.link_candidates(session, ticket.category, since, number)
        return ticket, found

    async def affected(self, number: int) -> int:
        """How many people a broadcast on incident ``number`` would reach."""
        async with self.service.sessions() as session:
            return await incidents.affected_requesters(session, number)


# --- the rest of the desk, where incidents change what happens --------------------------------


async def link(
    service: TicketService, batch: Batch, ticket: Ticket, incident: Ticket, actor: str
) -> Ticket:
    """Link ``ticket`` to ``incident`` (or raise :class:`Refused`): the requester hears it is a
    known problem, the incident's card counts one more."""
    assert ticket.number is not None and incident.number is not None
    has_children = await incidents.has_children(batch.session, ticket.number)
    refusal = link_refusal(ticket, incident, has_children)
    if refusal:
        raise Refused(refusal)
    moved = await incidents.link(batch.session, ticket, incident, actor, batch.now)
    text = t(moved.language, "incident.linked", parent=incident.number, number=ticket.number)
    await service.tell_requester(batch, moved, text)
    await _refresh(service, batch, incident.number)
    return moved


async def join(
    service: TicketService, batch: Batch, ticket: Ticket, parent: int, actor: str
) -> None:
    """A request filed from intake with "Yes, add me" joins the incident. Should the incident
    have been closed meanwhile, the request stays a ticket of its own (it is one already)."""
    try:
        incident = await store.get(batch.session, parent)
        moved = await link(service, batch, ticket, incident, actor)
    except (TicketNotFound, Refused):
        return
    await service.changed(batch, moved)


async def resolve_children(
    batch: Batch, incident: Ticket, operator: UserRef, note: str
) -> list[Ticket]:
    """The incident was resolved: so is every ticket still linked to it (the caller asks each
    requester whether it is fixed). The resolved children, as they stand now."""
    assert incident.number is not None
    resolved = []
    for child in await incidents.children(batch.session, incident.number):
        if child.status != Status.LINKED:
            continue
        moved = await store.move(
            batch.session,
            child,
            Action.RESOLVE,
            actor_of(operator),
            batch.now,
            note,
            resolved_at=batch.now,
            assignee_id=operator.id,
            assignee_name=operator.name,
        )
        resolved.append(moved)
    return resolved


async def release_children(
    service: TicketService, batch: Batch, incident: Ticket, actor: str
) -> None:
    """The incident was rejected: every ticket still linked to it goes back to the queue as a
    ticket of its own, and its requester is told so."""
    assert incident.number is not None
    for child in await incidents.children(batch.session, incident.number):
        if child.status != Status.LINKED:
            continue
        moved = await incidents.unlink(batch.session, child, actor, batch.now)
        await service.tell_requester(
            batch, moved, t(moved.language, "incident.unlinked", number=moved.number)
        )
        await service.changed(batch, moved)


async def leave(service: TicketService, batch: Batch, ticket: Ticket, actor: str) -> Ticket:
    """A resolved child whose requester says the fix did not help leaves its incident and goes
    on as a ticket of its own (the caller reopens it)."""
    if ticket.parent is None:
        return ticket
    moved = await incidents.unlink(batch.session, ticket, actor, batch.now)
    await _refresh(service, batch, ticket.parent)
    return moved


async def followed_by(session: AsyncSession, ticket: Ticket, author: str) -> tuple[Ticket, str]:
    """Where a requester's words about ``ticket`` are read, and under what name: a linked
    ticket's go to its incident's threads (where the people working on it are), marked with
    the ticket they came from."""
    if ticket.status != Status.LINKED or ticket.parent is None:
        return ticket, author
    return await store.get(session, ticket.parent), f"{author} (#{ticket.number})"


async def open_incidents(session: AsyncSession) -> list[Ticket]:
    """What a new request may be offered during intake."""
    return await incidents.open_incidents(session)


async def settle_broadcasts(
    service: TicketService, session: AsyncSession, rows: list[OutboxRow], error: str | None
) -> None:
    """Broadcast messages reached their chats (``error`` None), or could not be delivered
    (``error``: the requester blocked the bot; such a message is not tried again): counted, and
    each incident's card refreshed once."""
    parents: set[int] = set()
    for row in rows:
        if row.kind != KINDS[ToChat]:
            continue
        message = outbox.message_of(row)
        if not isinstance(message, ToChat) or message.broadcast is None:
            continue
        place = message.place
        parent = await incidents.settle(
            session, message.broadcast, place.platform, place.chat, error
        )
        if parent is not None:
            parents.add(parent)
    if parents:
        cause = f"broadcast-{'failed' if error else 'reached'}:{min(row.id for row in rows)}"
        batch = Batch(session, cause, service.clock())
        for parent in sorted(parents):
            await _refresh(service, batch, parent)


async def _refresh(service: TicketService, batch: Batch, incident: int) -> None:
    """The incident's card again (its reach and delivery count changed)."""
    await service.queue_card(batch, incident, links.OPERATOR_CARD, service.places.operators)
