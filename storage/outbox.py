"""The transactional outbox: messages written with the change that caused them, sent later.

Guarantees, and how they are kept:

- **Written once.** Each row has an idempotency key derived from the inbound event that caused
  it (``<cause>:<n>``, ``n`` counting from 0); writing the same key again does nothing.
- **Sent by one process.** A worker claims rows with a lease in one conditional ``UPDATE``
  (on PostgreSQL over ``FOR UPDATE SKIP LOCKED``, so concurrent claimers skip each other's rows
  instead of waiting). A claim bumps ``attempts``, which doubles as a fencing token: recording
  the outcome only counts while the row is still ours (``attempts`` unchanged).
- **In order per destination.** Only the oldest pending row of each destination is eligible,
  except that a backlog digest (key ``digest:…``) goes before the cards it announces.
- **Sent rows are never sent again**: only ``pending`` rows can be claimed.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, case, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.outbound import KINDS, Card, Outbound, Place, decode, encode, kind_of, ticket_of
from storage.db import Upsert
from storage.models import OutboxRow

PENDING, SENT, FAILED = "pending", "sent", "failed"
DIGEST = "digest:"
_CARD = KINDS[Card]

_TABLE = OutboxRow.__table__
_ENQUEUE = Upsert(_TABLE, lambda insert: insert.on_conflict_do_nothing(index_elements=["key"]))
_FIRST_OF = select(_TABLE.c.id).where(_TABLE.c.key == bindparam("key"))


async def enqueue(
    session: AsyncSession,
    message: Outbound,
    key: str,
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Add ``message`` unless a message with the same idempotency ``key`` exists already; it
    is due at ``not_before`` (default: now). Whether it was added."""
    values = {
        "key": key,
        "platform": message.place.platform,
        "destination": message.place.key,
        "kind": kind_of(message),
        "payload": encode(message),
        "ticket_id": ticket_of(message),
        "state": PENDING,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
        "error": "",
    }
    result = await session.execute(_ENQUEUE.of(session), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def message_of(row: OutboxRow) -> Outbound:
    """The typed message a row holds; :class:`UnknownMessage` if it holds none we know."""
    return decode(row.kind, Place.from_key(row.destination), row.payload, row.ticket_id)


async def caused_by(session: AsyncSession, cause: str) -> bool:
    """Whether the inbound event ``cause`` already left messages here: its first row is written
    in the same transaction as everything else it changed, so this is a durable "processed"."""
    return (await session.execute(_FIRST_OF, {"key": f"{cause}:0"})).first() is not None


async def claim_due(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: list[str],
    busy: set[str],
) -> list[OutboxRow]:
    """Lease up to ``limit`` due rows, the head of each destination's queue, for this worker.

    The head is the oldest backlog digest, else the oldest card (a new ticket's card, or a
    card's refresh, goes ahead of thread messages: operators see new work first under a flood),
    else the oldest row. ``busy`` destinations (a send to them is in flight here) are skipped."""
    if limit <= 0:
        return []
    values = {
        "now": now,
        "until": now + lease,
        "limit": limit,
        "platforms": platforms,
        "busy": sorted(busy),
    }
    claiming = _claiming(session.bind.dialect.name == "postgresql")
    claimed = await session.execute(claiming, values)
    return sorted(claimed.scalars().all(), key=lambda row: row.id)


@functools.cache
def _claiming(postgres: bool) -> Update:
    """The ``UPDATE`` of :func:`claim_due`, built once per backend (as :func:`_finishing`)."""
    moment = _TABLE.c.locked_until.type
    now = bindparam("now", type_=moment)
    head = func.coalesce(
        func.min(case((OutboxRow.key.startswith(DIGEST), OutboxRow.id))),
        func.min(case((OutboxRow.kind == _CARD, OutboxRow.id))),
        func.min(OutboxRow.id),
    )
    heads = (
        select(head)
        .where(
            OutboxRow.state == PENDING,
            OutboxRow.platform.in_(bindparam("platforms", expanding=True)),
        )
        .group_by(OutboxRow.destination)
    )
    free = (OutboxRow.locked_until.is_(None)) | (OutboxRow.locked_until < now)
    candidates = (
        select(OutboxRow.id)
        .where(
            OutboxRow.id.in_(heads),
            OutboxRow.not_before <= now,
            free,
            OutboxRow.destination.not_in(bindparam("busy", expanding=True)),
        )
        .order_by(OutboxRow.id)
        .limit(bindparam("limit"))
    )
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(OutboxRow)
        .where(OutboxRow.id.in_(candidates), OutboxRow.state == PENDING, free)
        .values(locked_until=bindparam("until", type_=moment), attempts=OutboxRow.attempts + 1)
        .returning(OutboxRow)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


async def renew(session: AsyncSession, held: dict[int, int], until: datetime) -> None:
    """Extend this worker's claims (row id -> its fence) to ``until``: a process that stops
    renewing (it died) loses them when they run out. Rows locked right now (their outcome is
    being recorded) are skipped, not waited for."""
    if not held:
        return
    mine = select(OutboxRow.id).where(
        tuple_(OutboxRow.id, OutboxRow.attempts).in_(list(held.items())),
        OutboxRow.state == PENDING,
    )
    if session.bind.dialect.name == "postgresql":
        mine = mine.with_for_update(skip_locked=True)
    await session.execute(
        update(_TABLE).where(_TABLE.c.id.in_(mine)).values(locked_until=until),
        execution_options={"synchronize_session": False},
    )


async def release_all(session: AsyncSession) -> int:
    """Free every claim (a process starting alone on its database: nobody else holds any)."""
    result = await session.execute(
        update(_TABLE)
        .where(_TABLE.c.state == PENDING, _TABLE.c.locked_until.is_not(None))
        .values(locked_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def followers(session: AsyncSession, row: OutboxRow, limit: int = 50) -> list[OutboxRow]:
    """Pending rows queued right after ``row`` for the same destination, oldest first."""
    stmt = (
        select(OutboxRow)
        .where(
            OutboxRow.state == PENDING,
            OutboxRow.destination == row.destination,
            OutboxRow.id > row.id,
        )
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def _finish(session: AsyncSession, row_id: int, fence: int | None, **values: Any) -> bool:
    """Record an outcome for a pending row, if it is still ours (``attempts == fence``)."""
    stmt = _finishing(tuple(values), fence is not None)
    params = {"row_id": row_id, "fence": fence} | {f"new_{k}": v for k, v in values.items()}
    result = await session.execute(stmt, params)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _finishing(columns: tuple[str, ...], fenced: bool) -> Update:
    """The ``UPDATE`` of :func:`_finish` for these ``columns``, built once: building a statement
    (and its cache key) costs more than SQLite takes to run it."""
    table = _TABLE.c
    stmt = update(_TABLE).where(table.id == bindparam("row_id"), table.state == PENDING)
    if fenced:
        stmt = stmt.where(table.attempts == bindparam("fence"))
    values = {name: bindparam(f"new_{name}", type_=table[name].type) for name in columns}
    return stmt.values(locked_until=None, **values)


async def mark_sent(
    session: AsyncSession,
    row_id: int,
    result: dict[str, Any],
    now: datetime,
    fence: int | None = None,
) -> bool:
    return await _finish(session, row_id, fence, state=SENT, sent_at=now, result=result, error="")


async def mark_retry(
    session: AsyncSession,
    row_id: int,
    not_before: datetime,
    error: str,
    fence: int | None = None,
) -> bool:
    return await _finish(session, row_id, fence, not_before=not_before, error=error[:1000])


async def mark_failed(
    session: AsyncSession, row_id: int, error: str, now: datetime, fence: int | None = None
) -> bool:
    return await _finish(session, row_id, fence, state=FAILED, sent_at=now, error=error[:1000])


async def repeats_of(session: AsyncSession, row: OutboxRow) -> list[int]:
    """Pending rows queued after ``row`` that say the same (destination, kind, ticket, payload).
    They cannot be claimed while ``row`` is the head of their destination's queue."""
    stmt = select(OutboxRow.id, OutboxRow.payload).where(
        OutboxRow.state == PENDING,
        OutboxRow.destination == row.destination,
        OutboxRow.kind == row.kind,
        OutboxRow.ticket_id == row.ticket_id,
        OutboxRow.id > row.id,
    )
    return [id_ for id_, payload in (await session.execute(stmt)).all() if payload == row.payload]


async def mark_covered(session: AsyncSession, ids: list[int], by: int, now: datetime) -> None:
    """Record ``ids`` as delivered by the send of row ``by`` (which showed what they would)."""
    if not ids:
        return
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.state == PENDING)
        .values(state=SENT, sent_at=now, result={"covered_by": by}, locked_until=None)
    )


async def depth(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many rows are pending, and when the oldest of them was written."""
    stmt = select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.state == PENDING)
    count, oldest = (await session.execute(stmt)).one()
    return count, oldest


async def card_backlogs(session: AsyncSession, above: int) -> list[tuple[str, int, int]]:
    """(destination, number of waiting cards, id of the oldest) where more than ``above``
    ticket cards wait to be posted or refreshed."""
    stmt = (
        select(OutboxRow.destination, func.count(), func.min(OutboxRow.id))
        .where(OutboxRow.state == PENDING, OutboxRow.kind == _CARD)
        .group_by(OutboxRow.destination)
        .having(func.count() > above)
    )
    return [(d, n, first) for d, n, first in (await session.execute(stmt)).all()]


async def last_digest(session: AsyncSession, destination: str) -> int | None:
    """The id of the newest backlog digest written for ``destination``."""
    stmt = select(func.max(OutboxRow.id)).where(
        OutboxRow.key.startswith(f"{DIGEST}{destination}:", autoescape=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def waiting_cards(session: AsyncSession, destination: str) -> list[int]:
    """Tickets whose cards wait for ``destination``, in the order they will be sent."""
    stmt = (
        select(OutboxRow.ticket_id)
        .where(
            OutboxRow.state == PENDING,
            OutboxRow.kind == _CARD,
            OutboxRow.destination == destination,
        )
        .order_by(OutboxRow.id)
    )
    tickets = (await session.execute(stmt)).scalars()
    return list(dict.fromkeys(t for t in tickets if t is not None))


async def forget_before(session: AsyncSession, cutoff: datetime) -> None:
    """Delete sent and failed rows written before ``cutoff`` (pending ones are kept)."""
    await session.execute(
        delete(OutboxRow).where(OutboxRow.state != PENDING, OutboxRow.created_at < cutoff)
    )
