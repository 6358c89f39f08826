"""The desk: its use cases wired on one ticket service, and the reads the adapters need.

Adapters call the part for whoever acts: ``requesters`` (anything a requester sends),
``operators`` (first-line moves and thread messages), ``incidents`` (linking tickets to a
major incident, broadcasting to it), ``specialists`` (the second line);
the running app calls ``housekeeping``, ``alarms`` and ``feedback``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from escalation.alarms import SlaAlarms
from escalation.specialists import Specialists
from handlers import report_query
from handlers.config import DeskConfig
from handlers.feedback import Feedback
from handlers.housekeeping import Housekeeping
from handlers.incident_desk import Incidents
from handlers.known_answers import KnownAnswers
from handlers.operators import Operators
from handlers.outbound import Place, Places
from handlers.reports import Period, Report
from handlers.requesters import Requesters
from handlers.tickets import Ticket
from handlers.tickets_service import TicketService
from storage import links
from storage import tickets as store
from storage.db import SessionFactory
from storage.tickets import TicketNotFound


class Desk:
    def __init__(
        self,
        sessions: SessionFactory,
        config: DeskConfig,
        places: Places,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.service = TicketService(sessions, config, places, clock, on_commit)
        self.requesters = Requesters(self.service)
        self.operators = Operators(self.service)
        self.incidents = Incidents(self.service)
        self.known_answers = KnownAnswers(sessions, clock)
        self.specialists = Specialists(self.service)
        self.housekeeping = Housekeeping(self.service)
        self.alarms = SlaAlarms(self.service)
        self.feedback = Feedback(self.service)

    @property
    def config(self) -> DeskConfig:
        return self.service.config

    @property
    def places(self) -> Places:
        return self.service.places

    @property
    def sessions(self) -> SessionFactory:
        return self.service.sessions

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.service.clock

    async def ticket(self, number: int) -> Ticket | None:
        async with self.sessions() as session:
            try:
                return await store.get(session, number)
            except TicketNotFound:
                return None

    async def report(self, period: Period) -> Report:
        """The desk's figures for ``period``, computed from the audit log."""
        async with self.sessions() as session:
            return await report_query.report(session, period)

    async def open_tickets(self) -> list[Ticket]:
        async with self.sessions() as session:
            return await store.open_tickets(session)

    async def open_tickets_of(self, platform: str, user_id: str) -> list[Ticket]:
        """A requester's tickets that are open or wait for their confirmation, oldest first."""
        async with self.sessions() as session:
            return await store.open_for_requester(session, platform, user_id)

    async def card_at(self, place: Place, message_id: str) -> tuple[int, str] | None:
        """(ticket, card role) of the card that is ``message_id`` in ``place``, if it is one."""
        async with self.sessions() as session:
            link = await links.ticket_of(session, place.platform, place.chat, message_id)
        if link is None or not links.is_card(link.role):
            return None
        return link.ticket_id, link.role
