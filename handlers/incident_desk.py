"""The desk's major-incident use cases: link and unlink tickets, declare an incident, broadcast
an update to everybody it affects, and what resolving, reopening and intake do for incidents.

Like every use case, each runs in one transaction of the desk (ticket moves, audit events and
outbox rows together) and sends nothing itself. The rules are in ``handlers/incidents.py``, the
tables in ``storage/incidents.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.batch import Batch
from handlers.desk import CONFIRM, ActionResult, Desk, actor_of
from handlers.i18n import t
from handlers.incidents import SUGGEST_WITHIN, link_refusal, recipients
from handlers.messages import Button, Outbound, Reply, UserRef, reply_payload
from handlers.tickets import Action, Status, Ticket
from storage import incidents, links
from storage import tickets as store
from storage.models import OutboxRow
from storage.tickets import TicketNotFound

BROADCAST = "broadcast"  # payload key of a broadcast's text rows: the broadcast's id


class IncidentDesk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    # --- operators ----------------------------------------------------------------------------

    async def link(self, child: int, parent: int, operator: UserRef, cause: str) -> ActionResult:
        """Link ticket ``child`` to ``parent`` (which becomes a major incident)."""

        async def act(batch: Batch, ticket: Ticket) -> str:
            return await self._link(batch, ticket, parent, actor_of(operator))

        return await self.desk.act_on(child, operator, cause, act)

    async def _link(self, batch: Batch, ticket: Ticket, parent: int, actor: str) -> str:
        """The link itself, or why not: the requester hears it is a known problem, the
        incident's card counts one more."""
        session = batch.session
        assert ticket.number is not None
        try:
            incident = await store.get(session, parent)
        except TicketNotFound:
            return f"There is no ticket #{parent}."
        refusal = link_refusal(
            ticket, incident, await incidents.has_children(session, ticket.number)
        )
        if refusal:
            return refusal
        moved = await incidents.link(session, ticket.number, parent, actor, batch.now)
        text = t(moved.language, "incident.linked", parent=parent, number=ticket.number)
        await self.desk.tell_requester(batch, moved, text)
        await self.desk.changed(batch, parent)
        return ""

    async def unlink(self, child: int, operator: UserRef, cause: str) -> ActionResult:
        """Take ``child`` off its incident: back in the queue, its clocks running again."""

        async def act(batch: Batch, ticket: Ticket) -> str:
            if ticket.status != Status.LINKED or ticket.parent is None:
                return f"Ticket #{child} is not linked to an incident."
            moved = await incidents.unlink(batch.session, child, actor_of(operator), batch.now)
            text = t(moved.language, "incident.unlinked", number=child)
            await self.desk.tell_requester(batch, moved, text)
            await self.desk.changed(batch, ticket.parent)
            return ""

        return await self.desk.act_on(child, operator, cause, act)

    async def declare_major(self, number: int, operator: UserRef, cause: str) -> ActionResult:
        """Make ticket ``number`` a major incident other tickets can be linked to."""

        async def act(batch: Batch, ticket: Ticket) -> str:
            if ticket.major:
                return f"Ticket #{number} is a major incident already."
            if ticket.status == Status.LINKED:
                return f"Ticket #{number} is linked to #{ticket.parent}; unlink it first."
            if not ticket.is_open:
                return f"Ticket #{number} is {ticket.status.value.replace('_', ' ')}."
            await incidents.declare_major(batch.session, number, actor_of(operator), batch.now)
            return ""

        return await self.desk.act_on(number, operator, cause, act)

    async def broadcast(
        self, parent: int, operator: UserRef, text: str, cause: str
    ) -> ActionResult:
        """Send ``text`` to the requester of the incident and of every ticket linked to it, each
        once, in their language and chat. Delivery is paced by the outbox like any message;
        the incident's card counts what arrived."""

        async def act(batch: Batch, ticket: Ticket) -> str:
            if not ticket.major:
                return f"Ticket #{parent} is not a major incident; declare it first."
            session = batch.session
            affected = [ticket, *await incidents.children(session, parent)]
            to = recipients(affected)
            actor = actor_of(operator)
            sent = await incidents.start_broadcast(session, parent, text, actor, batch.now, to)
            author = (operator.platform, operator.id, operator.name)
            await store.add_message(session, parent, author, "to_user", text, batch.now)
            for person in to:
                update = t(person.language, "incident.update", parent=parent, text=text)
                payload = {**reply_payload(Reply(update)), BROADCAST: sent}
                await batch.add(
                    Outbound(person.platform, person.chat, "text", payload, person.ticket)
                )
            return ""

        return await self.desk.act_on(parent, operator, cause, act)

    # --- the rest of the desk, where incidents change what happens ----------------------------

    async def resolve_children(
        self, batch: Batch, parent: int, operator: UserRef, note: str
    ) -> None:
        """The incident was resolved: so is every ticket still linked to it, and each requester
        gets the note and the "did this solve it?" question."""
        session = batch.session
        for child in await incidents.children(session, parent):
            if child.status != Status.LINKED or child.number is None:
                continue
            moved = await store.move(
                session,
                child.number,
                Action.RESOLVE,
                actor_of(operator),
                batch.now,
                note,
                resolved_at=batch.now,
                assignee_id=operator.id,
                assignee_name=operator.name,
            )
            question = resolved_question(child.number, moved.language, note)
            await self.desk.tell_requester(batch, moved, question.text, question.buttons)
            await self.desk.changed(batch, child.number)

    async def reopened(self, batch: Batch, ticket: Ticket, actor: str) -> None:
        """The requester of a resolved child says the fix did not help: it leaves the incident
        and goes on as a ticket of its own."""
        if ticket.parent is None or ticket.number is None:
            return
        await incidents.unlink(batch.session, ticket.number, actor, batch.now)
        await self.desk.changed(batch, ticket.parent)

    async def join(self, batch: Batch, ticket: Ticket, parent: int, actor: str) -> None:
        """A request filed from intake with "Yes, add me": linked to the incident. Should the
        incident have closed meanwhile, the request simply stays a ticket of its own."""
        await self._link(batch, ticket, parent, actor)
        assert ticket.number is not None
        await self.desk.changed(batch, ticket.number)

    async def open_incidents(self, session: AsyncSession) -> Sequence[Ticket]:
        """What a new request may be offered during intake."""
        return await incidents.open_incidents(session)

    # --- queries ------------------------------------------------------------------------------

    async def link_candidates(self, number: int) -> tuple[Ticket | None, list[Ticket]]:
        """Ticket ``number`` and what "Link to…" suggests for it: open incidents and recent open
        tickets of its category."""
        async with self.desk.sessions() as session:
            try:
                ticket = await store.get(session, number)
            except TicketNotFound:
                return None, []
            since = self.desk.clock() - SUGGEST_WITHIN
            found = await incidents.link_candidates(session, ticket.category, since, number)
        return ticket, found

    async def affected(self, number: int) -> int:
        """How many people a broadcast on incident ``number`` would reach."""
        async with self.desk.sessions() as session:
            return await incidents.affected_requesters(session, number)

    # --- delivery of broadcasts ---------------------------------------------------------------

    async def reached(self, session: AsyncSession, rows: list[OutboxRow]) -> None:
        """Broadcast texts reached their chats (in the transaction recording that): counted,
        and each incident's card shows the new count (one refresh per incident)."""
        await self._settle(session, rows, None, f"broadcast-reached:{min(r.id for r in rows)}")

    async def undeliverable(self, session: AsyncSession, row: OutboxRow, error: str) -> None:
        """A broadcast text could not be delivered (the requester blocked the bot): counted as
        such on the incident's card; it is not tried again."""
        await self._settle(session, [row], error, f"broadcast-failed:{row.id}")

    async def _settle(
        self, session: AsyncSession, rows: list[OutboxRow], error: str | None, cause: str
    ) -> None:
        parents: set[int] = set()
        for row in rows:
            sent = row.payload.get(BROADCAST) if row.kind == "text" else None
            if sent is None:
                continue
            chat = row.destination.partition(":")[2]
            parent = await incidents.settle(session, int(sent), row.platform, chat, error)
            if parent is not None:
                parents.add(parent)
        batch = Batch(session, cause, self.desk.clock())
        for parent in sorted(parents):
            channel = self.desk.operators_channel
            await self.desk.queue_card(batch, parent, links.OPERATOR_CARD, channel)


def resolved_question(number: int, language: str, note: str) -> Reply:
    """The resolution note and "did this solve the problem?" with its two answers."""
    buttons = (
        (
            Button(t(language, "btn.fixed_yes"), f"{CONFIRM}{number}:yes", "primary"),
            Button(t(language, "btn.fixed_no"), f"{CONFIRM}{number}:no", "danger"),
        ),
    )
    return Reply(t(language, "ticket.resolved", number=number, note=note), buttons)
