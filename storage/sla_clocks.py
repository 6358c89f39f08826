"""SLA clocks in the database, and the once-only claim of a due reminder or breach.

A due moment is claimed by ``UPDATE ... SET reminded = true WHERE reminded = false AND
reminder_at <= now``: of several scheduler processes exactly one gets the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from escalation.sla import Kind, SlaClock
from storage.models import SlaClockRow


@dataclass(frozen=True)
class Due:
    ticket_id: int
    kind: Kind
    moment: str  # "reminder" | "breach"


def _to_clock(row: SlaClockRow) -> SlaClock:
    return SlaClock(
        kind=Kind(row.kind),
        target=timedelta(seconds=row.target_seconds),
        consumed=timedelta(seconds=row.consumed_seconds),
        running_since=row.running_since,
        stopped=row.stopped,
        reminder_at=row.reminder_at,
        breach_at=row.breach_at,
        reminded=row.reminded,
        breached=row.breached,
    )


async def load(session: AsyncSession, ticket_id: int) -> dict[Kind, SlaClock]:
    stmt = (
        select(SlaClockRow)
        .where(SlaClockRow.ticket_id == ticket_id)
        .execution_options(populate_existing=True)
    )
    return {Kind(row.kind): _to_clock(row) for row in (await session.execute(stmt)).scalars()}


async def save(session: AsyncSession, ticket_id: int, clock: SlaClock) -> None:
    row = await session.get(SlaClockRow, (ticket_id, clock.kind.value))
    if row is None:
        row = SlaClockRow(ticket_id=ticket_id, kind=clock.kind.value)
        session.add(row)
    row.target_seconds = int(clock.target.total_seconds())
    row.consumed_seconds = int(clock.consumed.total_seconds())
    row.running_since = clock.running_since
    row.stopped = clock.stopped
    row.reminder_at = clock.reminder_at
    row.breach_at = clock.breach_at
    # Fired flags only ever go from False to True, and only through claim_due.
    row.reminded = row.reminded or clock.reminded
    row.breached = row.breached or clock.breached


async def claim_due(session: AsyncSession, now: datetime, limit: int = 100) -> list[Due]:
    """Mark due reminders and breaches fired and return them; each is returned once, ever."""
    claimed: list[Due] = []
    for moment, at, fired in (
        ("reminder", SlaClockRow.reminder_at, SlaClockRow.reminded),
        ("breach", SlaClockRow.breach_at, SlaClockRow.breached),
    ):
        candidates = (
            await session.execute(
                select(SlaClockRow.ticket_id, SlaClockRow.kind)
                .where(fired.is_(False), at.is_not(None), at <= now)
                .order_by(at)
                .limit(limit)
            )
        ).all()
        for ticket_id, kind in candidates:
            result = await session.execute(
                update(SlaClockRow)
                .where(
                    SlaClockRow.ticket_id == ticket_id,
                    SlaClockRow.kind == kind,
                    fired.is_(False),
                    at <= now,
                )
                .values({fired.key: True})
                .returning(SlaClockRow.ticket_id)
            )
            if result.scalar_one_or_none() is not None:
                claimed.append(Due(ticket_id, Kind(kind), moment))
    return claimed
