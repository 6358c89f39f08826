"""Major incidents in the database: parent/child links on ``tickets``, broadcasts and who each
one reached. The rules (what may be linked, what matches) are in ``handlers/incidents.py``.

Links are moves of the child (``link``/``unlink`` in the transition table) made through
``storage/tickets.py``, so each is one conditional UPDATE plus its audit event; declaring a ticket
a major incident and broadcasting are recorded events of the parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.incidents import Recipient, Tally, tally
from handlers.tickets import OPEN_STATUSES, Action, Event, Status, Ticket
from storage import tickets as store
from storage.models import BroadcastRecipientRow, BroadcastRow, TicketRow

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_UNLINKED_OPEN = [s.value for s in OPEN_STATUSES if s is not Status.LINKED]


async def declare_major(
    session: AsyncSession, ticket: Ticket, actor: str, now: datetime, title: str = ""
) -> Ticket:
    """Make ``ticket`` a major incident that requesters know as ``title`` (nothing is recorded
    if it is one already)."""
    if ticket.major:
        return ticket
    title = title.strip()[:200]
    return await store.record(
        session, ticket, Event.DECLARE_MAJOR, actor, now, title, major=True, incident_title=title
    )


async def link(
    session: AsyncSession, child: Ticket, parent: Ticket, actor: str, now: datetime
) -> Ticket:
    """Move ``child`` under ``parent`` (which becomes a major incident if it was not one).
    Hearing that it is a known problem is the requester's first response, if none came yet."""
    await declare_major(session, parent, actor, now)
    note = f"to #{parent.number}"
    responded = child.first_response_at or now
    return await store.move(
        session,
        child,
        Action.LINK,
        actor,
        now,
        note,
        parent_id=parent.number,
        first_response_at=responded,
    )


async def unlink(session: AsyncSession, child: Ticket, actor: str, now: datetime) -> Ticket:
    """Take ``child`` off its incident. A linked ticket goes back to the queue, unowned; a
    resolved one (its requester said the fix did not help) stays resolved: the caller
    reopens it."""
    note = f"from #{child.parent}" if child.parent else ""
    owner = {"assignee_id": None, "assignee_name": None} if child.status == Status.LINKED else {}
    return await store.move(
        session, child, Action.UNLINK, actor, now, note, parent_id=None, **owner
    )


async def children(session: AsyncSession, parent: int) -> list[Ticket]:
    """The tickets linked to ``parent``, oldest first."""
    stmt = select(TicketRow).where(TicketRow.parent_id == parent).order_by(TicketRow.id)
    return [store.to_ticket(row) for row in (await session.execute(stmt)).scalars()]


async def has_children(session: AsyncSession, number: int) -> bool:
    stmt = select(TicketRow.id).where(TicketRow.parent_id == number).limit(1)
    return (await session.execute(stmt)).first() is not None


async def affected_requesters(session: AsyncSession, parent: int) -> int:
    """How many people the incident ``parent`` affects: its requester and every linked
    ticket's, each person once."""
    people = (
        select(TicketRow.requester_platform, TicketRow.requester_id)
        .where((TicketRow.id == parent) | (TicketRow.parent_id == parent))
        .distinct()
        .subquery()
    )
    return int((await session.execute(select(func.count()).select_from(people))).scalar_one())


async def reach(session: AsyncSession, number: int) -> tuple[int, int, Tally | None]:
    """What an incident's card shows: tickets linked, people affected, the latest broadcast."""
    stmt = select(func.count()).where(TicketRow.parent_id == number)
    linked = int((await session.execute(stmt)).scalar_one())
    return linked, await affected_requesters(session, number), await latest_tally(session, number)


async def open_incidents(session: AsyncSession, category: str | None = None) -> list[Ticket]:
    """Major incidents still being worked on (of ``category``, when given), oldest first."""
    stmt = select(TicketRow).where(TicketRow.major.is_(True), TicketRow.status.in_(_UNLINKED_OPEN))
    if category is not None:
        stmt = stmt.where(TicketRow.category == category)
    rows = (await session.execute(stmt.order_by(TicketRow.id))).scalars()
    return [store.to_ticket(row) for row in rows]


async def link_candidates(
    session: AsyncSession, category: str, since: datetime, exclude: int, limit: int = 10
) -> list[Ticket]:
    """Tickets ``exclude`` could be linked to: open incidents, then the open unlinked tickets of
    ``category`` opened since ``since``, newest first."""
    stmt = (
        select(TicketRow)
        .where(
            TicketRow.id != exclude,
            TicketRow.status.in_(_UNLINKED_OPEN),
            TicketRow.parent_id.is_(None),
            TicketRow.category == category,
            TicketRow.major.is_(True) | (TicketRow.created_at >= since),
        )
        .order_by(TicketRow.major.desc(), TicketRow.id.desc())
        .limit(limit)
    )
    return [store.to_ticket(row) for row in (await session.execute(stmt)).scalars()]


# --- broadcasts -------------------------------------------------------------------------------


async def start_broadcast(
    session: AsyncSession,
    parent: Ticket,
    text: str,
    actor: str,
    now: datetime,
    recipients: Sequence[Recipient],
) -> int:
    """Record a broadcast of ``text`` on ``parent`` to ``recipients`` (all pending); its id."""
    row = BroadcastRow(ticket_id=parent.number, text=text, author=actor, at=now)
    session.add(row)
    await session.flush()
    session.add_all(
        BroadcastRecipientRow(
            broadcast_id=row.id,
            platform=r.platform,
            chat=r.chat,
            ticket_id=r.ticket,
            state=PENDING,
            error="",
        )
        for r in recipients
    )
    await store.log_event(session, parent, Event.BROADCAST, actor, now, text)
    return row.id


async def settle(
    session: AsyncSession, broadcast: int, platform: str, chat: str, error: str | None
) -> int | None:
    """Record that the broadcast reached the chat (``error`` None) or could not; once only.
    The parent ticket whose card shows the count, or None when this was recorded already."""
    state = DELIVERED if error is None else FAILED
    result = await session.execute(
        update(BroadcastRecipientRow)
        .where(
            BroadcastRecipientRow.broadcast_id == broadcast,
            BroadcastRecipientRow.platform == platform,
            BroadcastRecipientRow.chat == chat,
            BroadcastRecipientRow.state == PENDING,
        )
        .values(state=state, error=(error or "")[:200])
        .returning(BroadcastRecipientRow.broadcast_id)
    )
    if result.scalar_one_or_none() is None:
        return None
    stmt = select(BroadcastRow.ticket_id).where(BroadcastRow.id == broadcast)
    return int((await session.execute(stmt)).scalar_one())


async def latest_tally(session: AsyncSession, parent: int) -> Tally | None:
    """How the incident's latest broadcast went, or None if it had none."""
    latest = (
        select(func.max(BroadcastRow.id)).where(BroadcastRow.ticket_id == parent).scalar_subquery()
    )
    r = BroadcastRecipientRow
    stmt = select(r.state, r.error, r.ticket_id).where(r.broadcast_id == latest)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return None
    delivered = sum(1 for state, _, _ in rows if state == DELIVERED)
    failed = [(error, ticket) for state, error, ticket in rows if state == FAILED]
    return tally(len(rows), delivered, failed)
