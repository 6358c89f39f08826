"""What a ticket's card shows, as of now: the ticket, its last move and notes, its SLA timing,
the known solutions offered before it was filed, a major incident's reach.
Read by every platform's sender, so a late or repeated refresh never shows stale data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.card_words import CardHistory
from escalation import sla
from handlers.config import DeskConfig
from handlers.tickets import Action, Ticket
from storage import incidents, sla_clocks, solutions
from storage import tickets as store
from storage.db import SessionFactory
from storage.tickets import TicketNotFound


async def card_of(
    sessions: SessionFactory, config: DeskConfig, clock: Callable[[], datetime], number: int
) -> tuple[Ticket, CardHistory] | None:
    """What a ticket's card shows, as of now; None if there is no such ticket."""
    async with sessions() as session:
        try:
            ticket = await store.get(session, number)
        except TicketNotFound:
            return None
        history = history_of(await store.events(session, number))
        clocks = await sla_clocks.load(session, number)
        offered = await solutions.offered_before(session, number)
        if ticket.major:
            linked, affected, tally = await incidents.reach(session, number)
            broadcast = tally.text() if tally else ""
            history = replace(history, linked=linked, affected=affected, broadcast=broadcast)
    timing = sla.summary(clocks, clock(), config.business_hours)
    return ticket, replace(history, sla=timing, offered=offered)


# What sets a ticket's status: its opening and every move of the transition table. The other
# audit rows (handlers.tickets.Event: a take, a first response, a rating, SLA alarms, a major
# incident's declaration or broadcast) leave the status, so the card's last move, as it is.
_STATUS_SETTERS = frozenset(Action)


def history_of(events: list[Any]) -> CardHistory:
    """The last move, the note of the latest resolution or rejection, and of the latest
    escalation (recorded as ``to <line>: <note>``)."""
    moves = [e for e in events if e.action in _STATUS_SETTERS]
    notes = [e.note for e in moves if e.action in (Action.RESOLVE, Action.REJECT) and e.note]
    escalations = [e.note for e in moves if e.action == Action.ESCALATE]
    escalation_note = escalations[-1].partition(": ")[2] if escalations else ""
    return CardHistory(
        last_action=moves[-1].action if moves else "",
        note=notes[-1] if notes else "",
        escalation_note=escalation_note,
    )
