"""Writes the delivery worker's outcomes: each in the next transaction together with every
other outcome that arrived meanwhile, fenced so that only the claim's holder records.

Under load one commit for many answers keeps the time between a platform's answer and its
record (the window in which a crash could send a message twice) short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.outcomes import Outcome, RetryLater, Sent, Undeliverable
from storage import outbox
from storage.db import SessionFactory
from storage.models import OutboxRow

log = logging.getLogger(__name__)

SentHook = Callable[[Any, list[OutboxRow]], Awaitable[None]]  # (session, rows just sent)


@dataclass
class Record:
    """An outcome waiting to be written; ``done`` tells whether the row was still ours."""

    row: OutboxRow
    result: Outcome
    covered: list[int]
    now: datetime
    delay: float
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, outcome: bool | Exception) -> None:
        if self.done.done():  # its sender gave up waiting (stopped)
            return
        if isinstance(outcome, Exception):
            self.done.set_exception(outcome)
        else:
            self.done.set_result(outcome)


class Recorder:
    def __init__(self, sessions: SessionFactory, on_sent: SentHook) -> None:
        """``on_sent`` runs inside each transaction that records rows as sent, with those."""
        self._sessions = sessions
        self._on_sent = on_sent
        self._records: list[Record] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def commit(self, record: Record) -> bool:
        """Record an outcome; True if the row was still ours."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._record_batches(), name="outbox-recorder")
        self._records.append(record)
        self._ready.set()
        return await record.done

    async def stop(self) -> None:
        """Write what was answered before stopping, then end."""
        self._stopping = True
        if self._task is not None:
            self._ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, 5.0)

    async def _record_batches(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            if not self._records:
                if self._stopping:
                    return
                continue
            batch, self._records = self._records, []
            try:
                async with self._sessions.begin() as session:
                    results = [await self._write(session, record) for record in batch]
                    await self._on_sent(session, _sent(batch, results))
            except Exception:  # one bad record must not fail the others: one by one then
                log.warning("recording %d outcomes together failed; one by one", len(batch))
                for record in batch:
                    await self._write_alone(record)
                continue
            for record, ours in zip(batch, results, strict=True):
                record.settle(ours)

    async def _write_alone(self, record: Record) -> None:
        try:
            async with self._sessions.begin() as session:
                ours = await self._write(session, record)
                await self._on_sent(session, _sent([record], [ours]))
        except Exception as exc:
            record.settle(exc)
        else:
            record.settle(ours)

    async def _write(self, session: Any, record: Record) -> bool:
        row, now = record.row, record.now
        match record.result:
            case Sent(result=data):
                ours = await outbox.mark_sent(session, row.id, data, now, row.attempts)
                if ours:
                    await outbox.mark_covered(session, record.covered, row.id, now)
                return ours
            case RetryLater(error=error):
                retry_at = now + timedelta(seconds=record.delay)
                return await outbox.mark_retry(session, row.id, retry_at, error, row.attempts)
            case Undeliverable(error=error):
                log.warning("outbox %s to %s undeliverable: %s", row.id, row.destination, error)
                return await outbox.mark_failed(session, row.id, error, now, row.attempts)
        return False


def _sent(records: list[Record], ours: list[bool]) -> list[OutboxRow]:
    """The rows of ``records`` just recorded as sent (by this worker)."""
    return [
        record.row
        for record, mine in zip(records, ours, strict=True)
        if mine and isinstance(record.result, Sent)
    ]
