"""Where intake conversations live between messages: the database, or Redis when configured.

Both stores keep a JSON document per (platform, user) and can list the ones idle since a time,
so expired conversations can be told about and dropped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Upsert
from storage.models import ConversationRow

Key = tuple[str, str]  # (platform, user id)

_TABLE = ConversationRow.__table__
_LOAD = select(_TABLE.c.state).where(
    _TABLE.c.platform == bindparam("platform"), _TABLE.c.user_id == bindparam("user_id")
)
_SAVE = Upsert(
    _TABLE,
    lambda insert: insert.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={"state": insert.excluded.state, "updated_at": insert.excluded.updated_at},
    ),
)


class ConversationStore(Protocol):
    async def load(self, session: AsyncSession, key: Key) -> dict[str, Any] | None: ...
    async def save(
        self, session: AsyncSession, key: Key, state: dict[str, Any], now: datetime
    ) -> None: ...
    async def drop(self, session: AsyncSession, key: Key) -> None: ...
    async def idle_since(self, session: AsyncSession, cutoff: datetime) -> list[Key]: ...


class DatabaseConversations:
    """Rows in ``conversations``, written in the caller's transaction."""

    async def load(self, session: AsyncSession, key: Key) -> dict[str, Any] | None:
        found = await session.execute(_LOAD, {"platform": key[0], "user_id": key[1]})
        return found.scalar_one_or_none()

    async def save(
        self, session: AsyncSession, key: Key, state: dict[str, Any], now: datetime
    ) -> None:
        # One statement: the row was just loaded, but the session holds it only weakly, so an
        # ORM update would select it again.
        values = {"platform": key[0], "user_id": key[1], "state": state, "updated_at": now}
        await session.execute(_SAVE.of(session), values)

    async def drop(self, session: AsyncSession, key: Key) -> None:
        await session.execute(
            delete(ConversationRow).where(
                ConversationRow.platform == key[0], ConversationRow.user_id == key[1]
            )
        )

    async def idle_since(self, session: AsyncSession, cutoff: datetime) -> list[Key]:
        stmt = select(ConversationRow.platform, ConversationRow.user_id).where(
            ConversationRow.updated_at < cutoff
        )
        return [(p, u) for p, u in (await session.execute(stmt)).all()]


class RedisConversations:
    """A JSON string per conversation plus a sorted set of last-activity times for sweeping."""

    IDLE_INDEX = "helpdesk:conv:idle"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @staticmethod
    def _name(key: Key) -> str:
        return f"{key[0]}:{key[1]}"

    async def load(self, session: AsyncSession, key: Key) -> dict[str, Any] | None:
        raw = await self._redis.get(f"helpdesk:conv:{self._name(key)}")
        return json.loads(raw) if raw else None

    async def save(
        self, session: AsyncSession, key: Key, state: dict[str, Any], now: datetime
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"helpdesk:conv:{self._name(key)}", json.dumps(state))
            pipe.zadd(self.IDLE_INDEX, {self._name(key): now.timestamp()})
            await pipe.execute()

    async def drop(self, session: AsyncSession, key: Key) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"helpdesk:conv:{self._name(key)}")
            pipe.zrem(self.IDLE_INDEX, self._name(key))
            await pipe.execute()

    async def idle_since(self, session: AsyncSession, cutoff: datetime) -> list[Key]:
        names = await self._redis.zrangebyscore(self.IDLE_INDEX, "-inf", cutoff.timestamp())
        keys = []
        for name in names:
            text = name.decode() if isinstance(name, bytes) else name
            platform, _, user = text.partition(":")
            keys.append((platform, user))
        return keys
