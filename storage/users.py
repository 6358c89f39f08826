"""Requesters' remembered profiles (name, phone, location), offered back on the next ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.intake import Profile
from storage.models import UserRow


async def profile(session: AsyncSession, platform: str, user_id: str) -> Profile | None:
    row = await session.get(UserRow, (platform, user_id))
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
    row = await session.get(UserRow, (platform, user_id))
    if row is None:
        row = UserRow(platform=platform, user_id=user_id)
        session.add(row)
    row.name = remembered.name
    row.phone = remembered.phone
    row.location = remembered.location
    row.language = language
    row.chat_id = chat_id
    row.updated_at = now
