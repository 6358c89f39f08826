"""The second line: escalation to specialist channels, taking and returning tickets, and the
SLA reminders and breaches that call people before a ticket rots.

The first-line operator stays the ticket's owner through all of it (ITIL: the service desk keeps
control). Everything is written through the desk's transaction helpers, so each step is one
transaction with its audit event and its outbox rows.
"""

from __future__ import annotations

from datetime import datetime

from escalation import business_hours, policy, sla
from escalation.sla import Kind
from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.desk import ActionResult, Desk, actor_of
from handlers.i18n import t
from handlers.messages import Outbound, UserRef
from handlers.tickets import Action, Level, Status, Ticket, priority_of
from storage import links, sla_clocks
from storage import tickets as store
from storage.sla_clocks import Due

SYSTEM = "system:sla"


class SecondLine:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @property
    def config(self) -> DeskConfig:
        return self.desk.config

    # --- escalation ---------------------------------------------------------------------------

    async def escalate(
        self, number: int, operator: UserRef, line_id: str, note: str, impact: Level, cause: str
    ) -> ActionResult:
        """Hand the ticket to ``line_id``'s specialists; the operator stays the owner."""
        line = self.config.line(line_id)
        if line is None:
            return ActionResult(False, f"There is no support line {line_id!r}.")

        async def act(batch: Batch, ticket: Ticket) -> str:
            if ticket.status == Status.ESCALATED and ticket.line == line.id:
                return f"Ticket #{number} is already with {line.name}."
            owner = (
                {}
                if ticket.assignee
                else {"assignee_id": operator.id, "assignee_name": operator.name}
            )
            first = {} if ticket.first_response_at else {"first_response_at": batch.now}
            moved = await store.move(
                batch.session,
                number,
                Action.ESCALATE,
                actor_of(operator),
                batch.now,
                f"to {line.id}: {note}".strip(": "),
                line=line.id,
                impact=impact.value,
                priority=priority_of(impact, ticket.urgency).value,
                specialist_id=None,
                specialist_name=None,
                **owner,
                **first,
            )
            role = links.specialist_card(line.id)
            if await links.get(batch.session, number, role) is None:
                pings = list(line.ping)
                await self.desk.queue_card(batch, number, role, line.channel, ping=pings, note=note)
            await self.desk.tell_requester(
                batch, moved, self._escalated_text(moved, line.name, batch.now)
            )
            return ""

        return await self.desk.act_on(number, operator, cause, act)

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

    async def take(self, number: int, specialist: UserRef, cause: str) -> ActionResult:
        """A specialist takes the escalated ticket (one of them wins a race)."""

        async def act(batch: Batch, ticket: Ticket) -> str:
            if ticket.status != Status.ESCALATED:
                return f"Ticket #{number} is not with the second line any more."
            if ticket.specialist:
                who = "you" if ticket.specialist == specialist.id else ticket.specialist_name
                return f"Ticket #{number} is already taken by {who}."
            await store.record(
                batch.session,
                number,
                "take",
                actor_of(specialist),
                batch.now,
                specialist_id=specialist.id,
                specialist_name=specialist.name,
            )
            return ""

        return await self.desk.act_on(number, specialist, cause, act)

    async def return_to_first_line(
        self, number: int, specialist: UserRef, note: str, cause: str
    ) -> ActionResult:
        """The specialists give the ticket back to its owner in the first line."""

        async def act(batch: Batch, ticket: Ticket) -> str:
            await store.move(
                batch.session,
                number,
                Action.RETURN,
                actor_of(specialist),
                batch.now,
                note,
                line=None,
                specialist_id=None,
                specialist_name=None,
            )
            return ""

        return await self.desk.act_on(number, specialist, cause, act)

    # --- SLA ----------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Send every due SLA reminder and breach, each exactly once (across processes)."""
        now = self.desk.clock()
        async with self.desk.sessions.begin() as session:
            batch = Batch(session, f"sla:{now.isoformat()}", now)
            due = await sla_clocks.claim_due(session, now)
            for moment in due:
                await self._fire(batch, moment)
        if due:
            self.desk.on_commit()
        return len(due)

    async def _fire(self, batch: Batch, due: Due) -> None:
        ticket = await store.get(batch.session, due.ticket_id)
        if not ticket.is_open:
            return
        clocks = await sla_clocks.load(batch.session, due.ticket_id)
        left = sla.remaining(clocks[due.kind], batch.now, self.config.business_hours)
        what = "response" if due.kind is Kind.RESPOND else "resolution"
        await store.log_event(
            batch.session,
            due.ticket_id,
            f"sla_{due.moment}",
            SYSTEM,
            batch.now,
            f"{due.kind.value}",
        )
        role, channel = self._holder(ticket)
        number = due.ticket_id
        if due.moment == "reminder":
            share = round(self.config.desk.reminder_share * 100)
            text = f"⏰ #{number}: {share}% of the {what} time is used; {sla.span(left)} left."
            await self._notice(batch, number, channel, text, role)
        else:
            await self._breach(batch, ticket, what, role, channel)
        await self.desk.changed(batch, number)

    async def _breach(
        self, batch: Batch, ticket: Ticket, what: str, role: str, channel: str
    ) -> None:
        number = ticket.number
        assert number is not None
        line = self.config.line(ticket.line or "") or self.config.route(ticket.category)
        pings = policy.breach_pings(line, self.config)
        if ticket.status == Status.NEW:
            # Nobody took it: announce it again, loudly, where the operators are.
            text = f"🚨 #{number} breached its {what} target and is still unclaimed."
            await self._notice(batch, number, self.desk.operators_channel, text, None, pings)
            return
        owner = [ticket.assignee] if ticket.assignee else []
        text = f"🚨 #{number} breached its {what} target."
        await self._notice(batch, number, channel, text, role, list(dict.fromkeys(owner + pings)))

    def _holder(self, ticket: Ticket) -> tuple[str, str]:
        """The card (role, channel) of whoever holds the ticket now."""
        line = self.config.line(ticket.line or "")
        if ticket.status == Status.ESCALATED and line is not None:
            return links.specialist_card(line.id), line.channel
        return links.OPERATOR_CARD, self.desk.operators_channel

    async def _notice(
        self,
        batch: Batch,
        number: int,
        channel: str,
        text: str,
        role: str | None,
        ping: list[str] | None = None,
    ) -> None:
        """A system message: in the card's thread (``role``), or at the top of the channel;
        ``ping`` names the people (user or group ids) it calls."""
        payload: dict[str, object] = {"text": text, "ping": ping or []}
        if role is not None:
            payload["thread_of"] = {"ticket": number, "role": role}
        await batch.add(Outbound("slack", channel, "notice", payload, number))
