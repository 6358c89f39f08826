"""The outbox rows one use case writes, keyed after the inbound event that caused them."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.messages import Reply
from handlers.outbound import Outbound, Place, ToChat
from storage import outbox


class Batch:
    """A use case's transaction (``session``), its moment (``now``) and its outbox writer.

    Idempotency keys are ``<cause>:<n>``: processing the same inbound event again (a retried
    delivery that slipped past de-duplication) cannot queue its messages twice."""

    def __init__(self, session: AsyncSession, cause: str, now: datetime) -> None:
        self.session, self.cause, self.now = session, cause, now
        self._seq = itertools.count()

    async def seen_before(self) -> bool:
        """Whether ``cause`` was processed already (storage/dedupe.py, question 1), asked in
        the transaction that would process it: no separate round trip for de-duplication."""
        return await outbox.caused_by(self.session, self.cause)

    async def add(self, message: Outbound) -> None:
        await outbox.enqueue(self.session, message, f"{self.cause}:{next(self._seq)}", self.now)

    async def to_chat(self, place: Place, reply: Reply, ticket: int | None = None) -> None:
        await self.add(ToChat(place, reply, ticket))
