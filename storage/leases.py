"""Named leases: one process at a time holds one, for ``ttl``, and renews it while it works.

Used to pick the one process that polls Telegram. With Redis the lease is a key
(``SET NX PX`` to take it, a compare-and-extend script to renew, compare-and-delete to give it
up); without Redis it is a row of the ``leases`` table taken with one conditional upsert.
A holder that dies simply stops renewing: the lease is free again ``ttl`` later.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import SessionFactory
from storage.models import LeaseRow

PREFIX = "helpdesk:lease:"

# KEYS[1] the lease; ARGV[1] the holder, ARGV[2] the ttl in ms. Take it if free, extend it if
# ours; returns 1 when we hold it afterwards.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def holder_id() -> str:
    """Who we are, readable in the lease table and in logs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(
        self,
        name: str,
        ttl: timedelta,
        clock: Callable[[], datetime],
        sessions: SessionFactory,
        redis: Redis | None = None,
    ) -> None:
        self.name = name
        self.ttl = ttl
        self.holder = holder_id()
        self._clock = clock
        self._sessions = sessions
        self._redis = redis

    async def hold(self) -> bool:
        """Take the lease if it is free, or extend it if we hold it; True if we hold it now."""
        if self._redis is not None:
            millis = int(self.ttl.total_seconds() * 1000)
            held = await self._redis.eval(_HOLD, 1, PREFIX + self.name, self.holder, millis)
            return bool(held)
        now = self._clock()
        values = {"name": self.name, "holder": self.holder, "expires_at": now + self.ttl}
        async with self._sessions.begin() as session:
            dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(LeaseRow).values(**values)
            stmt = insert.on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": self.holder, "expires_at": now + self.ttl},
                where=or_(LeaseRow.holder == self.holder, LeaseRow.expires_at < now),
            ).returning(LeaseRow.holder)
            return (await session.execute(stmt)).scalar_one_or_none() == self.holder

    async def release(self) -> None:
        """Give the lease up at once (a graceful stop), so another process need not wait."""
        if self._redis is not None:
            await self._redis.eval(_RELEASE, 1, PREFIX + self.name, self.holder)
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                .values(expires_at=self._clock() - self.ttl)
            )
