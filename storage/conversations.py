"""Where intake conversations live between messages: a JSON document per (platform, user).

They are rows of the database, written in the transaction of the update that moved them: a
failed commit leaves the conversation where it was, so the redelivered update is handled as
if new (a store beside the database, such as Redis, could not promise that).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


async def load(session: AsyncSession, key: Key) -> dict[str, Any] | None:
    found = await session.execute(_LOAD, {"platform": key[0], "user_id": key[1]})
    return found.scalar_one_or_none()


async def save(session: AsyncSession, key: Key, state: dict[str, Any], now: datetime) -> None:
    # One statement: the row was just loaded, but the session holds it only weakly, so an
    # ORM update would select it again.
    values = {"platform": key[0], "user_id": key[1], "state": state, "updated_at": now}
    await session.execute(_SAVE.of(session), values)


async def drop(session: AsyncSession, key: Key) -> None:
    await session.execute(
        delete(ConversationRow).where(
            ConversationRow.platform == key[0], ConversationRow.user_id == key[1]
        )
    )


async def idle_since(session: AsyncSession, cutoff: datetime) -> list[Key]:
    stmt = select(ConversationRow.platform, ConversationRow.user_id).where(
        ConversationRow.updated_at < cutoff
    )
    return [(p, u) for p, u in (await session.execute(stmt)).all()]
