"""Report aggregation in SQL over the audit log; see handlers/reports/ for what each figure means.

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

from handlers.config import localized
from handlers.incidents import title
from handlers.reports import (
    RESPONSE_ACTIONS,
    WORK_ACTIONS,
    CohortCounts,
    Facts,
    IncidentFacts,
    SolutionOutcome,
    TicketTimes,
    VolumeCell,
)
from storage.models import (
    IntakeStartRow,
    SolutionOfferItemRow,
    SolutionOfferRow,
    SolutionRow,
    TicketEventRow,
    TicketRow,
)

_LINK_MOVES = ("link", "unlink")

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
        intakes_started=await intakes_started(session, since, until),
        deflected=await deflected(session, since, until),
        solutions=await solution_outcomes(session, since, until),
        unmatched=await unmatched(session, since, until),
        linked=await linked_opened(session, since, until),
        people=await people_by_category(session, since, until),
        incidents=await incidents(session, since, until),
    )


def _children_at(until: datetime) -> Any:
    """Ids of the tickets linked to an incident as the log stood at ``until``: their latest
    link/unlink event before then is a link."""
    latest = func.max(TicketEventRow.id)
    latest_link = func.max(case((TicketEventRow.action == "link", TicketEventRow.id)))
    return (
        select(TicketEventRow.ticket_id)
        .where(TicketEventRow.action.in_(_LINK_MOVES), TicketEventRow.at < until)
        .group_by(TicketEventRow.ticket_id)
        .having(latest_link == latest)
    )


def _opened(
    since: datetime, until: datetime, children: bool = False
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The ``open`` events of the period: which tickets form the cohort. A ticket linked to an
    incident is counted through its incident, so it is left out (``children``: only those)."""
    opened = aliased(TicketEventRow, name="opened")
    linked = opened.ticket_id.in_(_children_at(until))
    where = [
        opened.action == "open",
        opened.at >= since,
        opened.at < until,
        linked if children else ~linked,
    ]
    return opened, where


async def linked_opened(session: AsyncSession, since: datetime, until: datetime) -> int:
    """Tickets opened in the period that are linked to an incident (counted through it)."""
    opened, where = _opened(since, until, children=True)
    stmt = select(func.count()).select_from(opened).where(*where)
    return int((await session.execute(stmt)).scalar_one())


async def people_by_category(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, int]:
    """Where IT hurts: per category, the people whose requests were opened in the period, each
    person once; a ticket linked to an incident counts under the incident's category."""
    opened = aliased(TicketEventRow, name="opened")
    ticket, parent = aliased(TicketRow, name="ticket"), aliased(TicketRow, name="parent")
    linked = and_(ticket.parent_id == parent.id, ticket.id.in_(_children_at(until)))
    category = func.coalesce(parent.category, ticket.category).label("category")
    people = (
        select(category, ticket.requester_platform, ticket.requester_id)
        .select_from(opened)
        .join(ticket, ticket.id == opened.ticket_id)
        .outerjoin(parent, linked)
        .where(opened.action == "open", opened.at >= since, opened.at < until)
        .distinct()
        .subquery()
    )
    stmt = select(people.c.category, func.count()).group_by(people.c.category)
    return {name: count for name, count in (await session.execute(stmt)).all()}


async def incidents(session: AsyncSession, since: datetime, until: datetime) -> list[IncidentFacts]:
    """Major incidents declared before ``until`` and not resolved before ``since``, with the
    tickets linked to them at ``until``."""
    declared = select(TicketEventRow.ticket_id).where(
        TicketEventRow.action == "declare_major", TicketEventRow.at < until
    )
    resolved = (
        select(TicketEventRow.ticket_id, func.min(TicketEventRow.at).label("at"))
        .where(TicketEventRow.action == "resolve", TicketEventRow.at < until)
        .group_by(TicketEventRow.ticket_id)
        .subquery()
    )
    stmt = (
        select(TicketRow, resolved.c.at)
        .outerjoin(resolved, resolved.c.ticket_id == TicketRow.id)
        .where(TicketRow.id.in_(declared))
        .where((resolved.c.at.is_(None)) | (resolved.c.at >= since))
        .order_by(TicketRow.id)
    )
    found = (await session.execute(stmt)).all()
    if not found:
        return []
    who = (TicketRow.requester_platform, TicketRow.requester_id)
    kids = select(TicketRow.parent_id, TicketRow.category, *who).where(
        TicketRow.parent_id.in_([row.id for row, _ in found]),
        TicketRow.id.in_(_children_at(until)),
    )
    linked: dict[int, list[tuple[str, str, str]]] = {}
    for parent, category, platform, requester in (await session.execute(kids)).all():
        linked.setdefault(parent, []).append((category, platform, requester))
    return [
        IncidentFacts(
            number=row.id,
            title=row.incident_title or title(row.description),
            category=row.category,
            opened_at=row.created_at,
            resolved_at=resolved_at,
            requester=(row.requester_platform, row.requester_id),
            children=tuple(linked.get(row.id, ())),
        )
        for row, resolved_at in found
    ]


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


async def intakes_started(session: AsyncSession, since: datetime, until: datetime) -> int:
    stmt = select(func.count()).where(IntakeStartRow.at >= since, IntakeStartRow.at < until)
    return int(await session.scalar(stmt) or 0)


def _answered(outcome: str, since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [
        SolutionOfferRow.outcome == outcome,
        SolutionOfferRow.decided_at >= since,
        SolutionOfferRow.decided_at < until,
    ]


async def deflected(session: AsyncSession, since: datetime, until: datetime) -> int:
    """Offers answered "This solved it" during the period."""
    stmt = select(func.count()).where(*_answered("solved", since, until))
    return int(await session.scalar(stmt) or 0)


async def solution_outcomes(
    session: AsyncSession, since: datetime, until: datetime
) -> list[SolutionOutcome]:
    """Per solution: offers it solved, and offers it was part of that were rejected."""
    solved = (
        select(SolutionOfferRow.solution_id.label("solution_id"), func.count().label("n"))
        .where(*_answered("solved", since, until))
        .group_by(SolutionOfferRow.solution_id)
        .subquery()
    )
    rejected = (
        select(SolutionOfferItemRow.solution_id.label("solution_id"), func.count().label("n"))
        .join(SolutionOfferRow, SolutionOfferRow.id == SolutionOfferItemRow.offer_id)
        .where(*_answered("rejected", since, until))
        .group_by(SolutionOfferItemRow.solution_id)
        .subquery()
    )
    stmt = (
        select(
            SolutionRow.id,
            SolutionRow.key,
            SolutionRow.title,
            func.coalesce(solved.c.n, 0),
            func.coalesce(rejected.c.n, 0),
        )
        .outerjoin(solved, solved.c.solution_id == SolutionRow.id)
        .outerjoin(rejected, rejected.c.solution_id == SolutionRow.id)
        .where((solved.c.n.is_not(None)) | (rejected.c.n.is_not(None)))
    )
    return [
        SolutionOutcome(sid, key, localized(title, "en", f"#{sid}"), int(n_solved), int(n_rejected))
        for sid, key, title, n_solved, n_rejected in (await session.execute(stmt)).all()
    ]


async def unmatched(session: AsyncSession, since: datetime, until: datetime) -> dict[str, int]:
    """Tickets of the opened cohort that were offered no solution, by category."""
    opened, where = _opened(since, until)
    offered = select(SolutionOfferRow.id).where(SolutionOfferRow.ticket_id == opened.ticket_id)
    stmt = (
        select(TicketRow.category, func.count())
        .select_from(opened)
        .join(TicketRow, TicketRow.id == opened.ticket_id)
        .where(*where, ~offered.exists())
        .group_by(TicketRow.category)
    )
    return {category: n for category, n in (await session.execute(stmt)).all()}
