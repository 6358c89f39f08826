"""The delivery machinery on its own, on a real database (and Redis when configured): the rate
limiter, leases, the outbox's claims and fences, and inbound de-duplication."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from bot.pacing import Limits
from handlers.backlog import digest
from handlers.batch import Batch, SeenBefore
from handlers.clock import utc_now
from handlers.delivery import DeliveryWorker, backoff
from handlers.messages import Reply
from handlers.outbound import Card, Outbound, Place, ToChat
from handlers.outcomes import RetryLater, Sent
from storage import outbox
from storage.db import SessionFactory, make_engine
from storage.dedupe import Dedupe
from storage.leases import Lease
from storage.migrate import upgrade
from storage.models import OutboxRow
from storage.ratelimit import RateLimiter, Rule, Throttled, reserve, settled
from tests.conftest import POSTGRES_URL, Clock


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis | None]:
    """The test Redis, or None (then the in-process / database variants are tested)."""
    if not redis_url:
        yield None
        return
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


# --- the rate limiter ---------------------------------------------------------------------------


async def test_limiter_spaces_requests_under_a_key_and_not_across_keys(
    redis: Redis | None,
) -> None:
    limiter = RateLimiter(redis)
    stamps: dict[str, list[float]] = {"a": [], "b": []}

    async def send(key: str) -> None:
        await limiter.acquire([Rule(key, 0.05)])
        stamps[key].append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(send(key) for key in ("a", "b") * 5))
    for times in stamps.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.045, gaps
    assert time.monotonic() - started < 0.4  # a and b went in parallel (5 x 0.05 each)


async def test_limiter_reserves_all_rules_at_once(redis: Redis | None) -> None:
    """A message to a chat needs a slot of its chat and of the bot: both at the same instant."""
    limiter = RateLimiter(redis)
    chat, bot = Rule("chat:1", 0.2), Rule("bot", 0.01)
    await limiter.acquire([chat, bot])
    waited = (await limiter.acquire([chat, bot])).wait
    assert 0.15 < waited <= 0.2
    assert (await limiter.acquire([Rule("chat:2", 0.2), bot])).wait < 0.05  # the bot slot was free


async def test_requests_to_one_chat_are_also_spaced_from_the_previous_answer(
    redis: Redis | None,
) -> None:
    """A request that was slow to leave must not arrive right before the next one."""
    limiter = RateLimiter(redis)
    chat = Rule("chat:1", 0.1, serial=True)
    reservation = await limiter.acquire([chat])
    await asyncio.sleep(0.08)  # the request took a while
    await limiter.settle([chat], reservation)
    assert (await limiter.acquire([chat])).wait > 0.09


async def test_limiter_refuses_to_wait_longer_than_a_lease(redis: Redis | None) -> None:
    limiter = RateLimiter(redis, max_wait=0.1)
    rule = Rule("slow", 0.5)
    await limiter.acquire([rule])
    with pytest.raises(Throttled) as refused:
        await limiter.acquire([rule])
    assert 0.3 < refused.value.wait <= 0.5
    assert (await limiter.acquire([Rule("other", 0.5)])).wait == 0.0  # nothing was reserved


async def test_a_burst_goes_at_once_then_requests_are_spaced(redis: Redis | None) -> None:
    limiter = RateLimiter(redis)
    chat = Rule("chat:burst", 0.2, serial=True, burst=3)
    burst = [await limiter.acquire([chat]) for _ in range(3)]
    assert [r.wait for r in burst] == [0.0, 0.0, 0.0]
    for reservation in burst:
        await limiter.settle([chat], reservation)
    assert 0.15 < (await limiter.acquire([chat])).wait <= 0.2


def test_bucket_lets_a_burst_go_then_refills_one_per_interval() -> None:
    chat = Rule("chat", 1.0, burst=3)
    arrivals: dict[str, float] = {}
    starts = []
    for now in (100.0, 100.0, 100.0, 100.0, 100.5):
        reservation = reserve(arrivals, [chat], now)
        arrivals.update(reservation.arrivals)
        starts.append(reservation.start)
    # three at once, then one per second from when the bucket would have refilled one
    assert starts == [100.0, 100.0, 100.0, 101.0, 102.0]
    assert reserve(arrivals, [chat], 104.0).start == 104.0  # a refilled token
    quiet = reserve(arrivals, [chat], 110.0)
    assert quiet.arrivals["chat"] == 111.0  # a full bucket does not save up beyond the burst


def test_bucket_of_one_spaces_every_request() -> None:
    chat = Rule("chat", 1.0)
    first = reserve({}, [chat], 50.0)
    second = reserve(first.arrivals, [chat], 50.5)
    assert (first.wait, second.wait) == (0.0, 0.5)
    assert second.arrivals == {"chat": 52.0}


def test_a_request_waits_for_the_fullest_of_its_rules() -> None:
    chat, bot = Rule("chat", 1.0, burst=3), Rule("bot", 0.1)
    reservation = reserve({"chat": 12.0, "bot": 10.5}, [chat, bot], 10.0)
    assert reservation.start == 10.5  # the chat has a token; the bot's next slot is later
    assert reservation.arrivals == {"chat": 13.0, "bot": 10.6}
    assert reserve({"chat": 13.0}, [chat, bot], 10.0).start == 11.0  # the chat's bucket is empty


def test_an_answer_that_came_late_moves_the_bucket_by_as_much() -> None:
    chat = Rule("chat", 1.0, burst=3, serial=True)
    reservation = reserve({}, [chat], 20.0)
    assert settled(reservation, "chat", now=20.3) == 21.3
    assert settled(reservation, "chat", now=19.0) == 21.0  # never earlier than reserved


def test_platform_limits_become_rules() -> None:
    limits = Limits(telegram_private=1.0, telegram_group=3.0, telegram_bot=1 / 30)
    assert limits.telegram("sendMessage", 42) == [
        Rule("tg:chat:42", 1.0, serial=True, burst=3),
        Rule("tg:bot", 1 / 30),
    ]
    assert limits.telegram("sendMessage", -100123)[0].burst == 1  # groups: 20 a minute, evenly
    assert limits.telegram("sendMessage", -100123)[0].interval == 3.0
    assert limits.telegram("copyMessage", 42)[0].interval == 1.0
    assert limits.telegram("sendChatAction", 42) == []
    assert limits.telegram("editMessageText", 42) == []
    assert limits.slack("chat.postMessage", {"channel": "C1"}) == [
        Rule("slack:post:C1", 1.0, serial=True)
    ]
    assert limits.slack("reactions.add", {"channel": "C1"}) == [Rule("slack:reactions.add", 1.2)]
    assert limits.slack("users.info", {}) == []


# --- leases -------------------------------------------------------------------------------------


async def test_a_lease_has_one_holder_until_released_or_expired(
    sessions: SessionFactory, redis: Redis | None, clock: Clock
) -> None:
    def lease() -> Lease:
        return Lease("poller", timedelta(seconds=30), clock, sessions, redis)

    first, second = lease(), lease()
    assert await first.hold() and not await second.hold()
    assert await first.hold()  # renewing
    await first.release()
    assert await second.hold() and not await first.hold()
    if redis is None:  # the database lease runs on our clock; Redis on its own
        clock.advance(seconds=31)
        assert await first.hold()


async def test_concurrent_lease_grabs_have_one_winner(
    sessions: SessionFactory, redis: Redis | None, clock: Clock
) -> None:
    leases = [Lease("poller", timedelta(seconds=30), clock, sessions, redis) for _ in range(5)]
    held = await asyncio.gather(*(lease.hold() for lease in leases))
    assert sum(held) == 1


# --- the outbox ---------------------------------------------------------------------------------


async def _queue(sessions: SessionFactory, clock: Clock, chats: int, each: int) -> None:
    async with sessions.begin() as session:
        for i in range(each):
            for chat in range(chats):
                message = ToChat(Place("telegram", str(chat)), Reply(f"{chat}:{i}"))
                await outbox.enqueue(session, message, f"q:{chat}:{i}:0", clock.now)


async def test_concurrent_claimers_take_each_row_once(
    sessions: SessionFactory, clock: Clock
) -> None:
    await _queue(sessions, clock, chats=20, each=1)

    async def claimer() -> list[int]:
        async with sessions.begin() as session:
            rows = await outbox.claim_due(
                session, clock.now, timedelta(seconds=60), 100, ["telegram"], set()
            )
        return [row.id for row in rows]

    claimed = [i for ids in await asyncio.gather(*(claimer() for _ in range(6))) for i in ids]
    assert len(claimed) == len(set(claimed)) == 20


async def test_a_late_outcome_after_the_lease_moved_on_is_ignored(
    sessions: SessionFactory, clock: Clock
) -> None:
    await _queue(sessions, clock, chats=1, each=1)
    lease = timedelta(seconds=1)
    async with sessions.begin() as session:
        [mine] = await outbox.claim_due(session, clock.now, lease, 10, ["telegram"], set())
    later = clock.advance(seconds=2)  # our lease ran out: another worker takes the row
    async with sessions.begin() as session:
        [theirs] = await outbox.claim_due(session, later, lease, 10, ["telegram"], set())
    async with sessions.begin() as session:
        assert not await outbox.mark_retry(session, mine.id, later, "timeout", mine.attempts)
        assert await outbox.mark_sent(session, theirs.id, {}, later, theirs.attempts)
        assert not await outbox.mark_sent(session, theirs.id, {}, later, theirs.attempts)


async def test_a_card_send_covers_the_refreshes_queued_behind_it(
    sessions: SessionFactory, clock: Clock
) -> None:
    card = Card(Place("slack", "C1"), 7, "operator_card")
    other = Card(Place("slack", "C1"), 8, "operator_card")
    async with sessions.begin() as session:
        for i, message in enumerate([card, other, card, card]):
            await outbox.enqueue(session, message, f"c:{i}:0", clock.now)
    async with sessions() as session:
        first = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().first()
        assert first is not None
        repeats = await outbox.repeats_of(session, first)
    assert len(repeats) == 2 and first.id not in repeats


async def test_worker_delivers_in_order_per_chat_and_retries(
    sessions: SessionFactory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.delivery as delivery

    monkeypatch.setattr(delivery, "backoff", lambda attempts: 0.01)
    await _queue(sessions, clock, chats=3, each=4)
    seen: list[str] = []
    failures = {"1:0": 2}  # the first message to chat 1 fails twice

    class Flaky:
        platform = "telegram"

        async def send(self, row: OutboxRow, message: Outbound) -> Sent | RetryLater:
            assert isinstance(message, ToChat)
            text = message.reply.text
            if failures.get(text, 0) > 0:
                failures[text] -= 1
                return RetryLater("HTTP 500")
            seen.append(text)
            return Sent()

    async def nothing(row: OutboxRow, outcome: object) -> None:
        return None

    worker = DeliveryWorker(sessions, {"telegram": Flaky()}, utc_now, nothing, poll=0.01)
    task = asyncio.create_task(worker.run())
    for _ in range(200):
        if len(seen) == 12:
            break
        await asyncio.sleep(0.01)
    await worker.stop(grace=1)
    task.cancel()
    for chat in range(3):
        assert [s for s in seen if s.startswith(f"{chat}:")] == [f"{chat}:{i}" for i in range(4)]
    assert len(seen) == 12


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert 0.5 <= backoff(1) <= 1.0
    assert 4.0 <= backoff(4) <= 8.0
    assert 150 <= backoff(50) <= 300


def test_digest_lists_the_waiting_tickets() -> None:
    text = digest(list(range(1, 41)), [f"#{n}" for n in range(1, 31)]).text
    assert text.startswith("⏳ 40 tickets are waiting for their cards here")
    assert text.endswith("#30\n… and 10 more.")


# --- inbound de-duplication ---------------------------------------------------------------------


async def test_an_event_with_messages_is_never_processed_again(
    sessions: SessionFactory, redis: Redis | None, clock: Clock
) -> None:
    dedupe = Dedupe(sessions, redis)
    assert await dedupe.first_time("tg:1", clock.now)
    async with sessions.begin() as session:  # what processing tg:1 leaves behind
        message = ToChat(Place("telegram", "1"), Reply(""))
        await outbox.enqueue(session, message, "tg:1:0", clock.now)
    clock.advance(hours=1)
    restarted = Dedupe(sessions, redis)  # a new process: only the database and Redis remain
    assert not await restarted.first_time("tg:1", clock.now)


async def test_a_repeat_while_the_first_is_in_work_is_dropped_until_the_claim_expires(
    sessions: SessionFactory, redis: Redis | None, clock: Clock
) -> None:
    dedupe = Dedupe(sessions, redis, claim_for=timedelta(seconds=60))
    results = await asyncio.gather(*(dedupe.first_time("slack:Ev1", clock.now) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    if redis is None:  # the claim's holder died without leaving messages: taken over later
        assert await dedupe.first_time("slack:Ev1", clock.advance(seconds=61))


async def test_an_event_interrupted_before_its_commit_is_processed_again(
    sessions: SessionFactory, clock: Clock
) -> None:
    """Telegram's poller re-fetches an update interrupted by a crash: it must not be skipped;
    once its messages are committed it is (the desk's transaction finds its first message
    written already and is rolled back)."""
    question = Reply("Which category?")
    async with sessions() as session:
        await Batch(session, "tg:9", clock.now, once=True).to_chat(Place("telegram", "9"), question)
        await session.rollback()  # the process died before its commit
    async with sessions.begin() as session:
        await Batch(session, "tg:9", clock.now, once=True).to_chat(Place("telegram", "9"), question)
    with pytest.raises(SeenBefore):
        async with sessions.begin() as session:
            batch = Batch(session, "tg:9", clock.now, once=True)
            await batch.to_chat(Place("telegram", "9"), question)
    async with sessions() as session:
        keys = (await session.execute(select(OutboxRow.key))).scalars().all()
    assert keys == ["tg:9:0"]


# --- several processes --------------------------------------------------------------------------


@pytest.mark.skipif(not POSTGRES_URL, reason="several processes share PostgreSQL, not SQLite")
async def test_processes_that_start_together_migrate_one_after_another(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
