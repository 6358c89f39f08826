"""Requesters' remembered profiles (name, phone, location), offered back on the next ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.intake import Profile
from storage.db import Upsert
from storage.models import UserRow

# Both run once per ticket filed: built once, Core statements (no ORM identity-map lookups).
_USERS = UserRow.__table__
_PROFILE = select(_USERS.c.name, _USERS.c.phone, _USERS.c.location).where(
    _USERS.c.platform == bindparam("platform"), _USERS.c.user_id == bindparam("user_id")
)
_REMEMBERED = ("name", "phone", "location", "language", "chat_id", "updated_at")
_REMEMBER = Upsert(
    _USERS,
    lambda insert: insert.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={column: insert.excluded[column] for column in _REMEMBERED},
    ),
)


async def profile(session: AsyncSession, platform: str, user_id: str) -> Profile | None:
    found = await session.execute(_PROFILE, {"platform": platform, "user_id": user_id})
    row = found.first()
    if row is None:
        return None
    return Profile(name=row.name, phone=row.phone, location=row.location)


async def remember(
    session: AsyncSession,
    platform: str,
    user_id: str,
    remembered: Profile,
    language: str,
    chat_id: str,
    now: datetime,
) -> None:
    values = {
        "platform": platform,
        "user_id": user_id,
        "name": remembered.name,
        "phone": remembered.phone,
        "location": remembered.location,
        "language": language,
        "chat_id": chat_id,
        "updated_at": now,
    }
    await session.execute(_REMEMBER.of(session), values)
