"""Tickets, their audit log, attachments and conversation history.

Every status move is a conditional UPDATE on the row's ``version`` (and, for claims, on
``assignee_id IS NULL``): of two concurrent moves exactly one matches, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.messages import Attachment
from handlers.tickets import (
    OPEN_STATUSES,
    Action,
    Event,
    Level,
    Requester,
    Status,
    Ticket,
    next_status,
)
from storage.models import AttachmentRow, TicketEventRow, TicketMessageRow, TicketRow


class TicketNotFound(LookupError):
    def __init__(self, number: int) -> None:
        super().__init__(f"no ticket #{number}")
        self.number = number


class MoveConflict(RuntimeError):
    """Someone else moved the ticket first; ``current`` is how it stands now."""

    def __init__(self, current: Ticket) -> None:
        super().__init__(f"ticket #{current.number} changed concurrently")
        self.current = current


def to_ticket(row: TicketRow, attachments: Sequence[str] = ()) -> Ticket:
    return Ticket(
        number=row.id,
        requester=Requester(
            row.requester_platform, row.requester_id, row.requester_name, row.requester_contact
        ),
        category=row.category,
        description=row.description,
        location=row.location,
        phone=row.phone,
        asset=row.asset,
        urgency=Level(row.urgency),
        impact=Level(row.impact),
        status=Status(row.status),
        assignee=row.assignee_id,
        assignee_name=row.assignee_name,
        line=row.line,
        specialist=row.specialist_id,
        specialist_name=row.specialist_name,
        language=row.language,
        attachments=tuple(attachments),
        created_at=row.created_at,
        updated_at=row.updated_at,
        delivery_problem=row.delivery_problem,
        first_response_at=row.first_response_at,
        csat_rating=row.csat_rating,
        csat_comment=row.csat_comment,
        version=row.version,
        parent=row.parent_id,
        major=row.major,
        incident_title=row.incident_title,
    )


async def insert(session: AsyncSession, ticket: Ticket, actor: str) -> Ticket:
    """Store a new ticket and its ``open`` event; the database assigns the number."""
    row = TicketRow(
        requester_platform=ticket.requester.platform,
        requester_id=ticket.requester.user_id,
        requester_name=ticket.requester.name,
        requester_contact=ticket.requester.contact,
        language=ticket.language,
        category=ticket.category,
        description=ticket.description,
        location=ticket.location,
        phone=ticket.phone,
        asset=ticket.asset,
        urgency=ticket.urgency.value,
        impact=ticket.impact.value,
        priority=ticket.priority.value,
        status=Status.NEW.value,
        created_at=ticket.created_at,
        updated_at=ticket.created_at,
        version=1,
        delivery_problem="",
        csat_comment="",
        major=False,
        incident_title="",
    )
    session.add(row)
    await session.flush()
    session.add(
        TicketEventRow(
            ticket_id=row.id,
            action=Action.OPEN.value,
            actor=actor,
            at=ticket.created_at,
            before=None,
            after=Status.NEW.value,
            note="",
        )
    )
    return to_ticket(row)


async def get_row(session: AsyncSession, number: int) -> TicketRow:
    row = (
        await session.execute(
            select(TicketRow)
            .where(TicketRow.id == number)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise TicketNotFound(number)
    return row


async def get(session: AsyncSession, number: int) -> Ticket:
    return to_ticket(await get_row(session, number), await attachment_ids(session, number))


async def move(
    session: AsyncSession,
    ticket: Ticket,
    action: Action,
    actor: str,
    now: datetime,
    note: str = "",
    *,
    unassigned_only: bool = False,
    **changes: Any,
) -> Ticket:
    """Apply ``action`` to ``ticket`` as it was read; raise TransitionError, or MoveConflict
    when it changed since."""
    after = next_status(ticket.status, action)
    return await _conditional_update(
        session, ticket, action, actor, now, note, after, unassigned_only, changes
    )


async def record(
    session: AsyncSession,
    ticket: Ticket,
    event: Event,
    actor: str,
    now: datetime,
    note: str = "",
    **changes: Any,
) -> Ticket:
    """Change fields without a status move (e.g. a specialist takes an escalated ticket)."""
    return await _conditional_update(
        session, ticket, event, actor, now, note, ticket.status, False, changes
    )


async def _conditional_update(
    session: AsyncSession,
    ticket: Ticket,
    action: Action | Event,
    actor: str,
    now: datetime,
    note: str,
    after: Status,
    unassigned_only: bool,
    changes: dict[str, Any],
) -> Ticket:
    assert ticket.number is not None
    stmt = update(TicketRow).where(
        TicketRow.id == ticket.number, TicketRow.version == ticket.version
    )
    if unassigned_only:
        stmt = stmt.where(TicketRow.assignee_id.is_(None))
    values = {"status": after.value, "version": ticket.version + 1, "updated_at": now, **changes}
    result = await session.execute(
        stmt.values(**values).returning(TicketRow),
        execution_options={"synchronize_session": False, "populate_existing": True},
    )
    row = result.scalar_one_or_none()
    if row is None:
        raise MoveConflict(await get(session, ticket.number))
    session.add(
        TicketEventRow(
            ticket_id=ticket.number,
            action=action.value,
            actor=actor,
            at=now,
            before=ticket.status.value,
            after=after.value,
            note=note,
        )
    )
    return to_ticket(row, ticket.attachments)


async def events(session: AsyncSession, number: int) -> list[TicketEventRow]:
    stmt = select(TicketEventRow).where(TicketEventRow.ticket_id == number)
    return list((await session.execute(stmt.order_by(TicketEventRow.id))).scalars())


async def add_attachments(
    session: AsyncSession, number: int, platform: str, files: Sequence[Attachment], now: datetime
) -> None:
    session.add_all(
        AttachmentRow(
            ticket_id=number,
            platform=platform,
            kind=f.kind,
            file_id=f.file_id,
            name=f.name,
            created_at=now,
        )
        for f in files
    )


async def attachment_ids(session: AsyncSession, number: int) -> list[str]:
    stmt = select(AttachmentRow.file_id).where(AttachmentRow.ticket_id == number)
    return list((await session.execute(stmt.order_by(AttachmentRow.id))).scalars())


async def add_message(
    session: AsyncSession,
    number: int,
    author: tuple[str, str, str],
    direction: str,
    text: str,
    now: datetime,
    source_ref: str = "",
) -> None:
    platform, author_id, author_name = author
    session.add(
        TicketMessageRow(
            ticket_id=number,
            author_platform=platform,
            author_id=author_id,
            author_name=author_name,
            direction=direction,
            text=text,
            at=now,
            source_ref=source_ref,
        )
    )


async def said_since(session: AsyncSession, number: int, author_id: str, since: datetime) -> int:
    """How many messages ``author_id`` wrote to the ticket since ``since``."""
    stmt = select(func.count()).where(
        TicketMessageRow.ticket_id == number,
        TicketMessageRow.author_id == author_id,
        TicketMessageRow.direction == "from_user",
        TicketMessageRow.at >= since,
    )
    return int((await session.execute(stmt)).scalar_one())


async def open_for_requester(session: AsyncSession, platform: str, user_id: str) -> list[Ticket]:
    stmt = (
        select(TicketRow)
        .where(
            TicketRow.requester_platform == platform,
            TicketRow.requester_id == user_id,
            TicketRow.status.in_([s.value for s in (*OPEN_STATUSES, Status.RESOLVED)]),
        )
        .order_by(TicketRow.id)
    )
    return [to_ticket(row) for row in (await session.execute(stmt)).scalars()]


async def open_tickets(session: AsyncSession, limit: int = 50) -> list[Ticket]:
    """Open tickets, oldest first."""
    stmt = (
        select(TicketRow)
        .where(TicketRow.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(TicketRow.created_at, TicketRow.id)
        .limit(limit)
    )
    return [to_ticket(row) for row in (await session.execute(stmt)).scalars()]


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    stmt = select(TicketRow.status, func.count()).group_by(TicketRow.status)
    return {status: count for status, count in (await session.execute(stmt)).all()}


async def set_delivery_problem(session: AsyncSession, number: int, problem: str) -> None:
    await session.execute(
        update(TicketRow).where(TicketRow.id == number).values(delivery_problem=problem)
    )


async def clear_delivery_problem(
    session: AsyncSession, requesters: list[tuple[str, str]]
) -> list[int]:
    """The (platform, user id) requesters could be reached again: forget the problem on their
    tickets; returns the numbers of the tickets that had one (their cards need a refresh)."""
    result = await session.execute(_CLEAR_DELIVERY_PROBLEM, {"requesters": requesters})
    return sorted(result.scalars())


# Run after every batch of delivered texts: built once (a Core statement, no ORM bookkeeping).
_TICKETS = TicketRow.__table__.c
_CLEAR_DELIVERY_PROBLEM = (
    update(TicketRow.__table__)
    .where(
        tuple_(_TICKETS.requester_platform, _TICKETS.requester_id).in_(
            bindparam("requesters", expanding=True)
        ),
        _TICKETS.delivery_problem != "",
    )
    .values(delivery_problem="")
    .returning(_TICKETS.id)
)


async def mark_first_response(session: AsyncSession, number: int, now: datetime) -> None:
    """The first operator reply counts as the first response, if nothing came before it."""
    await session.execute(
        update(TicketRow)
        .where(TicketRow.id == number, TicketRow.first_response_at.is_(None))
        .values(first_response_at=now)
    )


async def resolved_before(session: AsyncSession, cutoff: datetime) -> list[Ticket]:
    """Resolved tickets whose requester has not confirmed since ``cutoff``."""
    stmt = select(TicketRow).where(
        TicketRow.status == Status.RESOLVED.value, TicketRow.resolved_at < cutoff
    )
    rows = (await session.execute(stmt.order_by(TicketRow.id))).scalars()
    return [to_ticket(row) for row in rows]


async def messages(session: AsyncSession, number: int) -> list[TicketMessageRow]:
    """What was said about the ticket after it was filed, oldest first."""
    stmt = select(TicketMessageRow).where(TicketMessageRow.ticket_id == number)
    return list((await session.execute(stmt.order_by(TicketMessageRow.id))).scalars())


async def log_event(
    session: AsyncSession, ticket: Ticket, event: Event, actor: str, now: datetime, note: str = ""
) -> None:
    """Record something that happened to a ticket without moving it (an SLA reminder)."""
    session.add(
        TicketEventRow(
            ticket_id=ticket.number,
            action=event.value,
            actor=actor,
            at=now,
            before=ticket.status.value,
            after=ticket.status.value,
            note=note,
        )
    )


async def rate(
    session: AsyncSession, ticket: Ticket, rating: int, actor: str, now: datetime
) -> bool:
    """Record the requester's 1-5 rating; False if the ticket was rated already (once only)."""
    result = await session.execute(
        update(TicketRow)
        .where(TicketRow.id == ticket.number, TicketRow.csat_rating.is_(None))
        .values(csat_rating=rating)
        .returning(TicketRow.id)
    )
    if result.scalar_one_or_none() is None:
        return False
    await log_event(session, ticket, Event.CSAT_RATING, actor, now, str(rating))
    return True


async def add_comment(
    session: AsyncSession, ticket: Ticket, comment: str, actor: str, now: datetime
) -> None:
    await session.execute(
        update(TicketRow).where(TicketRow.id == ticket.number).values(csat_comment=comment)
    )
    await log_event(session, ticket, Event.CSAT_COMMENT, actor, now, comment)
