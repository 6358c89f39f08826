"""The delivery worker: takes due outbox rows and hands them to the platform senders.

Each destination (one chat, one channel) is served by at most one send at a time and in order;
different destinations are served in parallel, so one slow chat never blocks the others. Per
platform, up to ``concurrency`` requests are on their way to it, and up to ``WAITING`` times as
many claimed rows wait for their pace (storage/ratelimit.py, applied by the senders): a row that
waits a second for its chat takes no request's place, and Telegram's pace never keeps Slack's
cards waiting.

Outcomes: sent (recorded, never sent again), retry later (capped exponential backoff with
jitter, or the platform's retry-after for that destination only), undeliverable (recorded and
reported to ``after_send``, never retried). A message still failing after ``max_attempts``
tries is given up as undeliverable, so one broken message cannot hold its chat's queue forever.

The one window in which a message can go out twice: the platform accepted it but this process
died (or lost the database) before recording that. The worker records right after the answer,
in one transaction with every other answer that came meanwhile and retrying the database
briefly, to keep that window to milliseconds (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from handlers import backlog
from handlers.outbound import KINDS, Card, Outbound, UnknownMessage
from storage import outbox, ratelimit
from storage.db import SessionFactory
from storage.models import OutboxRow
from storage.ratelimit import Throttled

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
WAITING = 4  # claimed rows per platform, waiting for their pace or sending: WAITING x concurrency
IDEMPOTENT_KINDS = (KINDS[Card],)  # rendered from current state: one send covers queued repeats


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


@dataclass
class _Record:
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


class Sender(Protocol):
    """Delivers typed messages to one platform (``row`` carries the attempt count)."""

    platform: str

    async def send(self, row: OutboxRow, message: Outbound) -> Outcome: ...


Hook = Callable[[OutboxRow, Outcome], Awaitable[None]]
SentHook = Callable[[Any, list[OutboxRow]], Awaitable[None]]  # (session, rows just sent)
Observer = Callable[[OutboxRow, Outcome], None]


async def _nothing(session: Any, rows: list[OutboxRow]) -> None:
    return None


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
        concurrency: int = 32,
        poll: float = 0.5,
        max_attempts: int = 30,
        digest_above: int = 0,
        observe: Observer = lambda row, outcome: None,
        on_sent: SentHook = _nothing,
    ) -> None:
        """``after_send`` runs after a row is recorded as sent or undeliverable; ``on_sent``
        runs inside each transaction that records rows as sent, with those rows."""
        self._sessions = sessions
        self._senders = senders
        self._clock = clock
        self._after_send = after_send
        self._lease = lease
        self._concurrency = concurrency
        self._poll = poll
        self._max_attempts = max_attempts
        self._digest_above = digest_above
        self._observe = observe
        self._on_sent = on_sent
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self._claimed: Counter[str] = Counter()  # rows in work per platform
        self._sending: Counter[str] = Counter()  # of those, past their pace
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._digest_checked = 0.0
        self._records: list[_Record] = []
        self._records_ready = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until :meth:`stop` is called."""
        while not self._stopping:
            try:
                await self._post_digests()
                await self.deliver_due()
            except Exception:  # a database hiccup must not kill delivery for good
                log.exception("delivery round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Start sending every due row whose destination is free, as far as each platform has
        room; return how many started."""
        rooms = {p: self._room(p) for p in self._senders}
        rooms = {platform: room for platform, room in rooms.items() if room > 0}
        if not rooms:
            return 0
        rows: list[OutboxRow] = []
        async with self._sessions.begin() as session:
            for platform, room in rooms.items():
                rows += await outbox.claim_due(
                    session, self._clock(), self._lease, room, [platform], self._busy
                )
        for row in rows:
            self._busy.add(row.destination)
            self._claimed[row.platform] += 1
            task = asyncio.create_task(self._deliver(row), name=f"outbox-{row.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    def _room(self, platform: str) -> int:
        sending = self._concurrency - self._sending[platform]
        return min(sending, WAITING * self._concurrency - self._claimed[platform])

    async def _deliver(self, row: OutboxRow) -> None:
        sender = self._senders[row.platform]

        def passed() -> None:
            self._sending[row.platform] += 1

        passage = ratelimit.watch(passed)
        try:
            covered = await self._covered(row)
            try:
                result = await sender.send(row, outbox.message_of(row))
            except asyncio.CancelledError:
                if not passage.passed:  # stopped while waiting for its pace: nothing went out
                    await self._put_back(row)
                raise
            except Throttled as exc:  # our own pacing: not the message's fault, not an attempt
                result = RetryLater(str(exc), after=exc.wait)
            except UnknownMessage as exc:  # written by another version: no retry will help
                result = Undeliverable(f"not a message this version knows: {exc}")
            except Exception as exc:  # a sender bug must not lose the message
                log.exception("sender failed on outbox row %s", row.id)
                result = self._give_up(row, RetryLater(f"{type(exc).__name__}: {exc}"))
            else:
                result = self._give_up(row, result)
            await self._record(row, result, covered)
        except Exception:
            log.exception("could not record the outcome of outbox row %s", row.id)
        finally:
            self._busy.discard(row.destination)
            self._claimed[row.platform] -= 1
            self._sending[row.platform] -= passage.passed
            self.wake()

    async def _put_back(self, row: OutboxRow) -> None:
        """Make a claimed row due again at once (its send never started)."""
        try:
            async with self._sessions.begin() as session:
                await outbox.mark_retry(session, row.id, self._clock(), "stopped", row.attempts)
        except Exception:  # then it is due again when its lease ends
            log.exception("could not put outbox row %s back", row.id)

    def _give_up(self, row: OutboxRow, result: Outcome) -> Outcome:
        if isinstance(result, RetryLater) and row.attempts >= self._max_attempts:
            return Undeliverable(f"gave up after {row.attempts} attempts: {result.error}")
        return result

    async def _covered(self, row: OutboxRow) -> list[int]:
        """Queued repeats of an idempotent row that this send makes unnecessary (a card is
        rendered from the ticket as it is now, which includes every change already queued)."""
        if row.kind not in IDEMPOTENT_KINDS:
            return []
        async with self._sessions() as session:
            return await outbox.repeats_of(session, row)

    async def _record(self, row: OutboxRow, result: Outcome, covered: list[int]) -> None:
        delay = 0.0
        if isinstance(result, RetryLater):
            delay = result.after if result.after is not None else backoff(row.attempts)
            log.warning(
                "outbox %s to %s: retry in %.1fs (%s)", row.id, row.destination, delay, result.error
            )
        for attempt in range(3):  # a brief database hiccup must not turn a sent row into a resend
            try:
                ours = await self._commit(_Record(row, result, covered, self._clock(), delay))
                break
            except Exception:
                if attempt == 2:
                    raise
                log.warning("recording outbox row %s failed; trying again", row.id)
                await asyncio.sleep(0.2 * 3**attempt)
        self._observe(row, result)
        if not ours:
            log.warning("outbox %s: the lease ran out before the outcome was recorded", row.id)
        elif isinstance(result, RetryLater):
            asyncio.get_running_loop().call_later(delay, self.wake)
        else:
            try:
                await self._after_send(row, result)
            except Exception:
                log.exception("after-send hook failed for outbox row %s", row.id)

    async def _commit(self, record: _Record) -> bool:
        """Record an outcome in the next transaction of the recorder, together with every other
        outcome that arrived meanwhile: under load, one commit for many answers keeps the time
        between an answer and its record (the duplicate window) short."""
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_batches(), name="outbox-recorder")
        self._records.append(record)
        self._records_ready.set()
        return await record.done

    async def _record_batches(self) -> None:
        while True:
            await self._records_ready.wait()
            self._records_ready.clear()
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

    async def _write_alone(self, record: _Record) -> None:
        try:
            async with self._sessions.begin() as session:
                ours = await self._write(session, record)
                await self._on_sent(session, _sent([record], [ours]))
        except Exception as exc:
            record.settle(exc)
        else:
            record.settle(ours)

    async def _write(self, session: Any, record: _Record) -> bool:
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

    # --- bursts -------------------------------------------------------------------------------

    async def _post_digests(self) -> None:
        """Where more ticket cards wait than ``digest_above``, queue one digest message that
        lists them; it goes out before them (storage/outbox.py). Cards still follow, in order:
        operators need their buttons and threads. A new digest only comes once every card
        the last one announced has gone out."""
        if not self._digest_above or time.monotonic() - self._digest_checked < 1.0:
            return
        self._digest_checked = time.monotonic()
        async with self._sessions.begin() as session:
            await backlog.announce(session, self._digest_above, self._clock())

    # --- stopping -----------------------------------------------------------------------------

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming new work after flushing, for up to ``grace`` seconds, what is due now;
        wait for sends in flight within the same time; cancel the rest. What was not sent stays
        in the outbox for the next start (a cancelled send is retried once its lease ends)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        self._stopping = True
        self.wake()
        while loop.time() < deadline:
            try:
                started = await self.deliver_due()
            except Exception:
                log.exception("delivery round failed while stopping")
                break
            if not started and not self._tasks:
                break
            if self._tasks:
                await asyncio.wait(
                    set(self._tasks),
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._recorder is not None:  # write what was answered before stopping, then end
            self._records_ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recorder, 5.0)


def _sent(records: list[_Record], ours: list[bool]) -> list[OutboxRow]:
    """The rows of ``records`` just recorded as sent (by this worker)."""
    return [
        record.row
        for record, mine in zip(records, ours, strict=True)
        if mine and isinstance(record.result, Sent)
    ]
