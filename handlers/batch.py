"""The outbox rows one use case writes, keyed after the inbound event that caused them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.messages import Reply
from handlers.outbound import Outbound, Place, ToChat
from storage import outbox


class SeenBefore(Exception):
    """The inbound event was processed before: its first message is in the outbox already."""


class Batch:
    """A use case's transaction (``session``), its moment (``now``) and its outbox writer.

    Idempotency keys are ``<cause>:<n>``: processing the same inbound event again (a retried
    delivery that slipped past de-duplication) cannot queue its messages twice. With ``once``,
    finding the first key taken raises :class:`SeenBefore` (storage/dedupe.py, question 1,
    answered by the write itself: no separate read per event), and the caller rolls back."""

    def __init__(
        self, session: AsyncSession, cause: str, now: datetime, once: bool = False
    ) -> None:
        self.session, self.cause, self.now = session, cause, now
        self._seq = itertools.count()
        self._once = once

    async def add(self, message: Outbound, after: timedelta = timedelta(0)) -> None:
        """Queue ``message``, due now or ``after`` from now."""
        n = next(self._seq)
        key = f"{self.cause}:{n}"
        added = await outbox.enqueue(self.session, message, key, self.now, self.now + after)
        if self._once and n == 0 and not added:
            raise SeenBefore(self.cause)

    async def to_chat(self, place: Place, reply: Reply, ticket: int | None = None) -> None:
        await self.add(ToChat(place, reply, ticket))
