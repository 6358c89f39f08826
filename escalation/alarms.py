"""SLA reminders and breaches: each due moment fires once (across processes), in the thread
of whoever holds the ticket, calling the people who must act before it rots."""

from __future__ import annotations

from escalation import policy, sla
from escalation.sla import Kind
from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.outbound import Notice, Place
from handlers.tickets import Event, Status, Ticket
from handlers.tickets_service import TicketService
from storage import sla_clocks
from storage import tickets as store
from storage.sla_clocks import Due

SYSTEM = "system:sla"


class SlaAlarms:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    @property
    def config(self) -> DeskConfig:
        return self.service.config

    async def fire_due(self) -> int:
        """Send every due SLA reminder and breach, each exactly once (across processes)."""
        now = self.service.clock()
        async with self.service.transaction(f"sla:{now.isoformat()}") as batch:
            due = await sla_clocks.claim_due(batch.session, now)
            for moment in due:
                await self._fire(batch, moment)
        return len(due)

    async def _fire(self, batch: Batch, due: Due) -> None:
        ticket = await store.get(batch.session, due.ticket_id)
        if not ticket.is_open:
            return
        clocks = await sla_clocks.load(batch.session, due.ticket_id)
        left = sla.remaining(clocks[due.kind], batch.now, self.config.business_hours)
        what = "response" if due.kind is Kind.RESPOND else "resolution"
        event = Event.SLA_REMINDER if due.moment == "reminder" else Event.SLA_BREACH
        await store.log_event(batch.session, ticket, event, SYSTEM, batch.now, due.kind.value)
        role, place = self.service.holder(ticket)
        number = due.ticket_id
        if event is Event.SLA_REMINDER:
            share = round(self.config.desk.reminder_share * 100)
            text = f"⏰ #{number}: {share}% of the {what} time is used; {sla.span(left)} left."
            await batch.add(Notice(place, number, text, role))
        else:
            await self._breach(batch, ticket, what, role, place)
        await self.service.changed(batch, ticket)

    async def _breach(
        self, batch: Batch, ticket: Ticket, what: str, role: str, place: Place
    ) -> None:
        number = ticket.number
        assert number is not None
        line = self.config.line(ticket.line or "") or self.config.route(ticket.category)
        pings = policy.breach_pings(line, self.config)
        if ticket.status == Status.NEW:
            # Nobody took it: announce it again, loudly, where the operators are.
            text = f"🚨 #{number} breached its {what} target and is still unclaimed."
            operators = self.service.places.operators
            await batch.add(Notice(operators, number, text, "", tuple(pings)))
            return
        owner = [ticket.assignee] if ticket.assignee else []
        text = f"🚨 #{number} breached its {what} target."
        calls = tuple(dict.fromkeys(owner + pings))
        await batch.add(Notice(place, number, text, role, calls))
