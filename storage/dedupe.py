"""Inbound de-duplication: Telegram updates, Slack events and button clicks, processed once.

Two questions decide whether an inbound event (by its key, which is also the ``cause`` its
outbox rows are keyed after) is processed now:

1. **Was it processed?** Its first outbox row (``<key>:0``) exists. That row is written in the
   same transaction as every other change the event made, so the answer is durable across
   restarts and never wrong: an event interrupted by a crash before its commit has no row and
   is processed again when the platform redelivers it.
2. **Is someone processing it right now?** A short claim (Redis ``SET NX`` with a TTL, or a
   row of ``processed_updates``) stops a retry or a double click that arrives while the first
   copy is still being handled, in this process or another. A claim older than ``claim_for``
   is taken over (its holder died). Sources that never deliver one event twice at the same
   time (a single Telegram poller) need no claim: the desk answers question 1 itself, inside
   the transaction that processes the event: writing the event's first row finds the key
   taken, and the transaction is rolled back (``TicketService.once``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from storage import outbox
from storage.db import SessionFactory
from storage.models import ProcessedUpdateRow

KEEP = timedelta(days=2)
CLAIM = timedelta(seconds=60)

Observer = Callable[[str, bool], None]


class Dedupe:
    def __init__(
        self,
        sessions: SessionFactory,
        redis: Redis | None = None,
        claim_for: timedelta = CLAIM,
        observe: Observer = lambda key, first: None,
    ) -> None:
        self._sessions = sessions
        self._redis = redis
        self._claim_for = claim_for
        self._observe = observe

    async def first_time(self, key: str, now: datetime) -> bool:
        """True if ``key`` is to be processed now; False for a repeat (across processes)."""
        async with self._sessions() as session:
            processed = await outbox.caused_by(session, key)
        first = not processed and await self._claim(key, now)
        self._observe(key, first)
        return first

    async def _claim(self, key: str, now: datetime) -> bool:
        if self._redis is not None:
            added = await self._redis.set(f"helpdesk:seen:{key}", "1", nx=True, ex=self._claim_for)
            return bool(added)
        async with self._sessions() as session:
            session.add(ProcessedUpdateRow(key=key, at=now))
            try:
                await session.commit()
                return True
            except IntegrityError:
                await session.rollback()
            stale = await session.execute(
                update(ProcessedUpdateRow)
                .where(ProcessedUpdateRow.key == key, ProcessedUpdateRow.at < now - self._claim_for)
                .values(at=now)
            )
            await session.commit()
            return bool(stale.rowcount)  # type: ignore[attr-defined]

    async def forget_old(self, now: datetime) -> None:
        """Drop database claims older than two days (Redis claims expire by themselves)."""
        if self._redis is not None:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                delete(ProcessedUpdateRow).where(ProcessedUpdateRow.at < now - KEEP)
            )
