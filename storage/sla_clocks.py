"""SLA clocks in the database, and the once-only claim of a due reminder or breach.

A due moment is claimed by ``UPDATE ... SET reminded = true WHERE reminded = false AND
reminder_at <= now``: of several scheduler processes exactly one gets the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from escalation.sla import Kind, SlaClock
from storage.db import Upsert
from storage.models import SlaClockRow


@dataclass(frozen=True)
class Due:
    ticket_id: int
    kind: Kind
    moment: str  # "reminder" | "breach"


def _to_clock(row: Row[Any]) -> SlaClock:
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


# Every change of a ticket loads its clocks and saves the ones that moved: built once, Core
# statements (no ORM objects to load, look up and flush).
_CLOCKS = SlaClockRow.__table__
_LOAD = select(_CLOCKS).where(_CLOCKS.c.ticket_id == bindparam("ticket_id"))
_SAVE = Upsert(
    _CLOCKS,
    lambda insert: insert.on_conflict_do_update(
        index_elements=["ticket_id", "kind"],
        set_={
            **{
                column: insert.excluded[column]
                for column in (
                    "target_seconds",
                    "consumed_seconds",
                    "running_since",
                    "stopped",
                    "reminder_at",
                    "breach_at",
                )
            },
            # Fired flags only ever go from False to True, and only through claim_due.
            "reminded": _CLOCKS.c.reminded | insert.excluded.reminded,
            "breached": _CLOCKS.c.breached | insert.excluded.breached,
        },
    ),
)


async def load(session: AsyncSession, ticket_id: int) -> dict[Kind, SlaClock]:
    rows = await session.execute(_LOAD, {"ticket_id": ticket_id})
    return {Kind(row.kind): _to_clock(row) for row in rows}


async def save(session: AsyncSession, ticket_id: int, clock: SlaClock) -> None:
    values = {
        "ticket_id": ticket_id,
        "kind": clock.kind.value,
        "target_seconds": int(clock.target.total_seconds()),
        "consumed_seconds": int(clock.consumed.total_seconds()),
        "running_since": clock.running_since,
        "stopped": clock.stopped,
        "reminder_at": clock.reminder_at,
        "breach_at": clock.breach_at,
        "reminded": clock.reminded,
        "breached": clock.breached,
    }
    await session.execute(_SAVE.of(session), values)


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
