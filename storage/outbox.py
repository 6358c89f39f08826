"""The transactional outbox: messages written with the change that caused them, sent later.

A row is claimed with a short lease by a conditional UPDATE, so of several workers (processes)
exactly one sends it; only the oldest pending row of each destination is eligible, so each
chat receives its messages in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.messages import Outbound
from storage.models import OutboxRow

PENDING, SENT, FAILED = "pending", "sent", "failed"


def destination_key(platform: str, chat: str) -> str:
    return f"{platform}:{chat}"


async def enqueue(session: AsyncSession, message: Outbound, key: str, now: datetime) -> None:
    """Add ``message`` unless a message with the same idempotency ``key`` exists already."""
    values = {
        "key": key,
        "platform": message.platform,
        "destination": destination_key(message.platform, message.destination),
        "kind": message.kind,
        "payload": message.payload,
        "ticket_id": message.ticket_id,
        "state": PENDING,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "error": "",
    }
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(OutboxRow).values(**values).on_conflict_do_nothing(index_elements=["key"])
    await session.execute(stmt)


async def claim_due(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: list[str],
    busy: set[str],
) -> list[OutboxRow]:
    """Lease up to ``limit`` due rows, the head of each destination's queue, for this worker.

    ``busy`` destinations (a send to them is still in flight here) are skipped.
    """
    heads = (
        select(func.min(OutboxRow.id))
        .where(OutboxRow.state == PENDING, OutboxRow.platform.in_(platforms))
        .group_by(OutboxRow.destination)
    )
    free = or_(OutboxRow.locked_until.is_(None), OutboxRow.locked_until < now)
    candidates = (
        (
            await session.execute(
                select(OutboxRow.id)
                .where(
                    OutboxRow.id.in_(heads),
                    OutboxRow.not_before <= now,
                    free,
                    OutboxRow.destination.not_in(busy),
                )
                .order_by(OutboxRow.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    claimed = []
    for row_id in candidates:
        result = await session.execute(
            update(OutboxRow)
            .where(and_(OutboxRow.id == row_id, OutboxRow.state == PENDING, free))
            .values(locked_until=now + lease, attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow)
            .execution_options(populate_existing=True)
        )
        row = result.scalar_one_or_none()
        if row is not None:
            claimed.append(row)
    return claimed


async def mark_sent(
    session: AsyncSession, row_id: int, result: dict[str, Any], now: datetime
) -> None:
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id)
        .values(state=SENT, sent_at=now, result=result, locked_until=None, error="")
    )


async def mark_retry(session: AsyncSession, row_id: int, not_before: datetime, error: str) -> None:
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id)
        .values(not_before=not_before, locked_until=None, error=error[:1000])
    )


async def mark_failed(session: AsyncSession, row_id: int, error: str, now: datetime) -> None:
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row_id)
        .values(state=FAILED, sent_at=now, locked_until=None, error=error[:1000])
    )


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending row becomes due (for the worker's sleep)."""
    stmt = select(func.min(OutboxRow.not_before)).where(OutboxRow.state == PENDING)
    return (await session.execute(stmt)).scalar_one_or_none()


async def depth(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.state == PENDING)
    return (await session.execute(stmt)).scalar_one()
