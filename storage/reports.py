"""Report aggregation in SQL over the audit log; see handlers/reports.py for what each figure means.

Counts are GROUP BY / SUM in the database. Only three moments per ticket of the opened cohort
(opened, first response, first resolve) come into Python, for medians, percentiles and local
days/hours (time-zone bucketing in Python is correct on SQLite and PostgreSQL alike, DST too).
Every query is plain SQL both backends run the same way: no date functions, no dialect branches.

Indexes that keep this fast on a large log: ``ticket_events(action, at)`` (the cohort and the
activity queries filter on both) next to the existing ``ticket_events(ticket_id, id)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers.reports import (
    RESPONSE_ACTIONS,
    WORK_ACTIONS,
    CohortCounts,
    Facts,
    TicketTimes,
    VolumeCell,
)
from storage.models import TicketEventRow, TicketRow

_COUNTED = ("escalate", "resolve", "reopen", "sla_breach")
_TICKET_DIMS = (TicketRow.category, TicketRow.priority, TicketRow.line)


async def collect(session: AsyncSession, since: datetime, until: datetime) -> Facts:
    return Facts(
        counts=await cohort_counts(session, since, until),
        volume=await volume(session, since, until),
        times=await ticket_times(session, since, until),
        csat=await csat_answers(session, since, until),
        work=await workload(session, since, until),
        escalations=await escalations(session, since, until),
    )


def _opened(since: datetime, until: datetime) -> tuple[Any, list[ColumnElement[bool]]]:
    """The ``open`` events of the period: which tickets form the cohort."""
    opened = aliased(TicketEventRow, name="opened")
    where = [opened.action == "open", opened.at >= since, opened.at < until]
    return opened, where


async def cohort_counts(session: AsyncSession, since: datetime, until: datetime) -> CohortCounts:
    opened, where = _opened(since, until)
    event = aliased(TicketEventRow, name="event")

    def flag(condition: ColumnElement[bool], name: str) -> Any:
        return func.max(case((condition, 1), else_=0)).label(name)

    breach = event.action == "sla_breach"
    per_ticket = (
        select(
            opened.ticket_id,
            flag(event.action == "resolve", "resolved"),
            flag(event.action == "escalate", "escalated"),
            flag(event.action == "reopen", "reopened"),
            flag(breach, "breached"),
            flag(and_(breach, event.note == "respond"), "breached_respond"),
            flag(and_(breach, event.note == "resolve"), "breached_resolve"),
        )
        .select_from(opened)
        .outerjoin(
            event,
            and_(
                event.ticket_id == opened.ticket_id,
                event.action.in_(_COUNTED),
                event.at < until,
            ),
        )
        .where(*where)
        .group_by(opened.ticket_id)
        .subquery()
    )
    col = per_ticket.c
    first_contact = case((and_(col.resolved == 1, col.escalated == 0), 1), else_=0)
    stmt = select(
        func.count(),
        func.coalesce(func.sum(col.resolved), 0),
        func.coalesce(func.sum(first_contact), 0),
        func.coalesce(func.sum(col.reopened), 0),
        func.coalesce(func.sum(col.escalated), 0),
        func.coalesce(func.sum(col.breached), 0),
        func.coalesce(func.sum(col.breached_respond), 0),
        func.coalesce(func.sum(col.breached_resolve), 0),
    )
    row = (await session.execute(stmt)).one()
    return CohortCounts(*(int(value) for value in row))


async def volume(session: AsyncSession, since: datetime, until: datetime) -> list[VolumeCell]:
    """Opened tickets counted by every combination of their current dimensions."""
    opened, where = _opened(since, until)
    dims = (TicketRow.category, TicketRow.line, TicketRow.location, TicketRow.status)
    stmt = (
        select(*dims, TicketRow.priority, func.count())
        .select_from(opened)
        .join(TicketRow, TicketRow.id == opened.ticket_id)
        .where(*where)
        .group_by(*dims, TicketRow.priority)
    )
    return [VolumeCell(*row) for row in (await session.execute(stmt)).all()]


async def ticket_times(
    session: AsyncSession, since: datetime, until: datetime
) -> list[TicketTimes]:
    """Per ticket of the cohort: opened, first response and first resolve (before ``until``)."""
    opened, where = _opened(since, until)
    event = aliased(TicketEventRow, name="event")
    stmt = (
        select(
            opened.at,
            *_TICKET_DIMS,
            func.min(event.at),
            func.min(case((event.action == "resolve", event.at))),
        )
        .select_from(opened)
        .join(TicketRow, TicketRow.id == opened.ticket_id)
        .outerjoin(
            event,
            and_(
                event.ticket_id == opened.ticket_id,
                event.action.in_(RESPONSE_ACTIONS),
                event.at < until,
            ),
        )
        .where(*where)
        .group_by(opened.id, opened.at, TicketRow.id, *_TICKET_DIMS)
    )
    return [TicketTimes(*row) for row in (await session.execute(stmt)).all()]


def _during(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [TicketEventRow.at >= since, TicketEventRow.at < until]


async def csat_answers(session: AsyncSession, since: datetime, until: datetime) -> dict[str, int]:
    """Ratings given during the period, the latest one per ticket."""
    latest = (
        select(func.max(TicketEventRow.id))
        .where(TicketEventRow.action == "csat_rating", *_during(since, until))
        .group_by(TicketEventRow.ticket_id)
    )
    stmt = (
        select(TicketEventRow.note, func.count())
        .where(TicketEventRow.id.in_(latest))
        .group_by(TicketEventRow.note)
    )
    return {note: count for note, count in (await session.execute(stmt)).all()}


async def workload(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[str, str, int]]:
    """(actor, action, distinct tickets) for claims, takes, escalations and resolutions."""
    stmt = (
        select(
            TicketEventRow.actor,
            TicketEventRow.action,
            func.count(distinct(TicketEventRow.ticket_id)),
        )
        .where(TicketEventRow.action.in_(WORK_ACTIONS), *_during(since, until))
        .group_by(TicketEventRow.actor, TicketEventRow.action)
    )
    return [(actor, action, n) for actor, action, n in (await session.execute(stmt)).all()]


async def escalations(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[int, str]]:
    """(ticket, the head of the note 'to <line>: ...') of every escalation in the period."""
    stmt = select(TicketEventRow.ticket_id, func.substr(TicketEventRow.note, 1, 80)).where(
        TicketEventRow.action == "escalate", *_during(since, until)
    )
    return [(ticket, note or "") for ticket, note in (await session.execute(stmt)).all()]
