"""Inbound de-duplication: Telegram update ids, Slack event ids, button clicks, seen once.

The database table is the default; with Redis the keys live there (SET NX with a TTL).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import SessionFactory
from storage.models import ProcessedUpdateRow

KEEP = timedelta(days=2)


class Dedupe:
    def __init__(self, sessions: SessionFactory, redis: Redis | None = None) -> None:
        self._sessions = sessions
        self._redis = redis

    async def first_time(self, key: str, now: datetime) -> bool:
        """True the first time ``key`` is seen, False on every repeat (across processes)."""
        if self._redis is not None:
            added = await self._redis.set(f"helpdesk:seen:{key}", "1", nx=True, ex=KEEP)
            return bool(added)
        async with self._sessions() as session:
            session.add(ProcessedUpdateRow(key=key, at=now))
            try:
                await session.commit()
            except IntegrityError:
                return False
            return True

    async def forget_old(self, now: datetime) -> None:
        if self._redis is not None:
            return
        async with self._sessions.begin() as session:
            await _delete_before(session, now - KEEP)


async def _delete_before(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(ProcessedUpdateRow).where(ProcessedUpdateRow.at < cutoff))
