"""The delivery worker: takes due outbox rows and hands them to the platform senders.

Each destination (one chat, one channel) is served by at most one send at a time and in order;
different destinations are served in parallel, so one slow chat never blocks the others.
Outcomes: sent (recorded, never sent again), retry later (backoff with jitter, or the platform's
retry-after for that destination only), undeliverable (recorded and reported, never retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage import outbox
from storage.db import SessionFactory
from storage.models import OutboxRow

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class Sent:
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryLater:
    error: str
    after: float | None = None  # seconds the platform asked for; None = our backoff


@dataclass(frozen=True)
class Undeliverable:
    error: str


Outcome = Sent | RetryLater | Undeliverable


class Sender(Protocol):
    platform: str

    async def send(self, row: OutboxRow) -> Outcome: ...

    def spacing(self, destination: str) -> float:
        """Seconds to leave between two messages to ``destination``."""
        ...


Hook = Callable[[OutboxRow, Outcome], Awaitable[None]]


def backoff(attempts: int) -> float:
    """Capped exponential backoff with jitter: about 1, 2, 4, ... seconds, at most 5 minutes."""
    base = min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))
    return base * random.uniform(0.5, 1.0)


class DeliveryWorker:
    def __init__(
        self,
        sessions: SessionFactory,
        senders: dict[str, Sender],
        clock: Callable[[], datetime],
        after_send: Hook,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 100,
        poll: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._clock = clock
        self._after_send = after_send
        self._lease = lease
        self._batch = batch
        self._poll = poll
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until :meth:`stop` is called."""
        while not self._stopping:
            try:
                await self.deliver_due()
            except Exception:  # a database hiccup must not kill delivery for good
                log.exception("delivery round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Start sending every due row whose destination is free; return how many started."""
        if not self._senders:
            return 0
        now = self._clock()
        async with self._sessions.begin() as session:
            rows = await outbox.claim_due(
                session, now, self._lease, self._batch, list(self._senders), self._busy
            )
        started = 0
        for row in rows:
            self._busy.add(row.destination)
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _deliver(self, row: OutboxRow) -> None:
        sender = self._senders[row.platform]
        try:
            try:
                result = await sender.send(row)
            except Exception as exc:  # a sender bug must not lose the message
                log.exception("sender failed on outbox row %s", row.id)
                result = RetryLater(f"{type(exc).__name__}: {exc}")
            await self._record(row, result)
            if isinstance(result, Sent):
                await asyncio.sleep(sender.spacing(row.destination))
        finally:
            self._busy.discard(row.destination)
            self.wake()

    async def _record(self, row: OutboxRow, result: Outcome) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            match result:
                case Sent(result=data):
                    await outbox.mark_sent(session, row.id, data, now)
                case RetryLater(error=error, after=after):
                    delay = after if after is not None else backoff(row.attempts)
                    await outbox.mark_retry(session, row.id, now + timedelta(seconds=delay), error)
                    log.warning(
                        "outbox %s to %s: retry in %.1fs (%s)",
                        row.id,
                        row.destination,
                        delay,
                        error,
                    )
                case Undeliverable(error=error):
                    await outbox.mark_failed(session, row.id, error, now)
                    log.warning("outbox %s to %s undeliverable: %s", row.id, row.destination, error)
        if not isinstance(result, RetryLater):
            await self._after_send(row, result)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; give in-flight sends up to ``grace`` seconds to finish."""
        self._stopping = True
        self.wake()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
