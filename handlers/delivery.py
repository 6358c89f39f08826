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
from datetime import datetime, timedelta
from typing import Any

from handlers import backlog
from handlers.outbound import KINDS, Card, Outbound, Relay, UnknownMessage, mergeable, merged
from handlers.outcomes import Outcome, RetryLater, Sender, Undeliverable
from handlers.recorder import Record, Recorder, SentHook
from storage import outbox, ratelimit
from storage.db import SessionFactory
from storage.models import OutboxRow
from storage.ratelimit import Throttled

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
WAITING = 4  # claimed rows per platform, waiting for their pace or sending: WAITING x concurrency
IDEMPOTENT_KINDS = (KINDS[Card],)  # rendered from current state: one send covers queued repeats


Hook = Callable[[OutboxRow, Outcome], Awaitable[None]]
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
        lease: timedelta = timedelta(seconds=4),
        concurrency: int = 32,
        poll: float = 0.5,
        max_attempts: int = 30,
        digest_above: int = 0,
        observe: Observer = lambda row, outcome: None,
        on_sent: SentHook = _nothing,
        alone: bool = False,
    ) -> None:
        """``after_send`` runs after a row is recorded as sent or undeliverable; ``on_sent``
        runs inside each transaction that records rows as sent, with those rows. ``alone``:
        no other process shares the database (SQLite), so claims left by a crash are freed at
        the start instead of waiting for their lease to run out."""
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
        self._alone = alone
        self._held: dict[int, int] = {}  # claimed rows in work here -> their fence (attempts)
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self._claimed: Counter[str] = Counter()  # rows in work per platform
        self._sending: Counter[str] = Counter()  # of those, past their pace
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._digest_checked = 0.0
        self._recorder = Recorder(sessions, on_sent)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until :meth:`stop` is called; claims are renewed alongside."""
        if self._alone:
            async with self._sessions.begin() as session:
                freed = await outbox.release_all(session)
            if freed:
                log.info("freed %d outbox claims left by a process that stopped", freed)
        heartbeat = asyncio.create_task(self._renew_claims(), name="outbox-heartbeat")
        try:
            await self._deliver_until_stopped()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _renew_claims(self) -> None:
        """The claims' heartbeat: the rows in work here keep their lease while this process
        lives; a dead process's claims run out within one lease, and others take them over."""
        every = self._lease.total_seconds() / 4
        while True:
            await asyncio.sleep(every)
            try:
                until = self._clock() + self._lease
                async with self._sessions.begin() as session:
                    await outbox.renew(session, dict(self._held), until)
            except Exception:
                log.warning("could not renew outbox claims; trying again", exc_info=True)

    async def _deliver_until_stopped(self) -> None:
        while not self._stopping:
            try:
                await self._post_digests()
                await self.deliver_due()
            except Exception:  # a database hiccup must not kill delivery for good
                log.exception("delivery round failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):  # no task per wait, unlike wait_for
                    await self._wake.wait()
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
            self._held[row.id] = row.attempts
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
            covered: list[int] = []
            try:
                message, covered = await self._covered(row, outbox.message_of(row))
                result = await sender.send(row, message)
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
            self._held.pop(row.id, None)
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

    async def _covered(self, row: OutboxRow, message: Outbound) -> tuple[Outbound, list[int]]:
        """What to send for ``row``, and the queued rows this send makes unnecessary: repeats
        of an idempotent row (a card is rendered from the ticket as it is now, which includes
        every change already queued), or a requester's messages waiting right behind this one
        (merged into one post, in order, so one chatty requester cannot fill a channel's
        queue)."""
        if row.kind in IDEMPOTENT_KINDS:
            async with self._sessions() as session:
                return message, await outbox.repeats_of(session, row)
        if not isinstance(message, Relay) or not mergeable(message):
            return message, []
        async with self._sessions() as session:
            following = await outbox.followers(session, row)
        decoded = []
        for follower in following:
            try:
                decoded.append(outbox.message_of(follower))
            except UnknownMessage:
                break
        combined, taken = merged(message, decoded)
        return combined, [follower.id for follower in following[:taken]]

    async def _record(self, row: OutboxRow, result: Outcome, covered: list[int]) -> None:
        delay = 0.0
        if isinstance(result, RetryLater):
            delay = result.after if result.after is not None else backoff(row.attempts)
            log.warning(
                "outbox %s to %s: retry in %.1fs (%s)", row.id, row.destination, delay, result.error
            )
        for attempt in range(3):  # a brief database hiccup must not turn a sent row into a resend
            try:
                record = Record(row, result, covered, self._clock(), delay)
                ours = await self._recorder.commit(record)
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
        await self._recorder.stop()
