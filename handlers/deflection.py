"""Known solutions in the requester's intake: the I/O around the pure machine.

The desk calls these three inside its transaction: when an intake starts (counted, for the
deflection share), for each intake step (:func:`step`: runs the search the machine asks for,
records the offer and the requester's answer), and when the intake's draft becomes a ticket
(the ticket is attached to the offer its requester turned down, so the card can list it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import intake
from handlers.config import DeskConfig
from handlers.messages import UserRef
from handlers.tickets import Ticket
from storage import solutions


async def intake_started(session: AsyncSession, user: UserRef, now: datetime) -> None:
    await solutions.record_intake_start(session, user.platform, user.id, now)


async def step(
    session: AsyncSession,
    user: UserRef,
    state: intake.State,
    given: intake.Input,
    now: datetime,
    config: DeskConfig,
    incidents: Sequence[Ticket] = (),
) -> intake.Outcome:
    """``intake.step`` (``incidents``: the open major incidents it may offer), with the known
    solutions it asks for found (and their offer recorded), and the requester's answer to an
    offer recorded."""
    outcome = intake.step(state, given, now, config, incidents=incidents)
    if outcome.search is not None:
        search = outcome.search
        found = await solutions.match(session, search.description, search.category)
        offer = (
            await solutions.record_offer(
                session, user.platform, user.id, search.category, found, now
            )
            if found
            else None
        )
        found_ = intake.Found(tuple(found), offer)
        outcome = intake.step(state, given, now, config, found=found_, incidents=incidents)
    if outcome.answered is not None:
        answered = outcome.answered
        await solutions.decide(session, answered.offer, now, answered.solved_by)
    return outcome


async def ticket_filed(session: AsyncSession, draft: intake.Draft, number: int) -> None:
    if draft.offer is not None:
        await solutions.attach_ticket(session, draft.offer, number)
