"""``helpdesk run`` as real child processes against the fake platforms in this process: killed
with SIGKILL in the middle of a burst and restarted, and two of them sharing one PostgreSQL +
Redis. What counts is what the platforms received."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy import text as sql_text

from bot.app import HelpdeskApp
from bot.config import Settings
from bot.standins import slack_requests as sr
from bot.standins.ports import free_port
from bot.standins.telegram_api import TgUser
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake import Step, choice
from storage import tickets as store
from storage.db import make_engine, make_sessions
from storage.migrate import upgrade
from storage.models import OutboxRow
from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.delivery_world import (
    BOB,
    OPS,
    card_numbers,
    environment,
    fakes,
    file_tickets,
    outbox_settled,
    posts,
    registered_numbers,
    settings_for,
    tg_user,
    until,
)
from tests.telegram_chat import TelegramChat

ROOT = Path(__file__).resolve().parent.parent
# Texts are answered as they come, never merged into the description (we answer at once).
DESK_TOML = '[desk]\nburst_window = "0s"\n'


class Child:
    """One ``helpdesk run`` process."""

    def __init__(self, settings: Settings, workdir: Path, name: str) -> None:
        self.settings = settings
        self.log = workdir / f"{name}.log"
        config = workdir / "desk.toml"
        config.write_text(DESK_TOML, encoding="utf-8")
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(workdir)),
            "PYTHONPATH": str(ROOT),
            **environment(settings),
            "HELPDESK_CONFIG": str(config),
            "LOG_LEVEL": "WARNING",
        }
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        await self.ready()

    async def ready(self, within: float = 30.0) -> None:
        """Wait until ``/healthz`` answers (the desk has migrated and started)."""
        assert self.process is not None
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(f"helpdesk exited:\n{self.log.read_text()[-3000:]}")
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"helpdesk did not start:\n{self.log.read_text()[-3000:]}")

    async def signal(self, sig: signal.Signals, within: float = 15.0) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), within)

    async def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return await response.text()


@asynccontextmanager
async def children(*kids: Child) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for kid in kids:
            if kid.process is not None and kid.process.returncode is None:
                await kid.signal(signal.SIGKILL)


def collapse(numbers: list[int]) -> list[int]:
    """``numbers`` without immediate repeats (a message sent twice in a row)."""
    return [n for i, n in enumerate(numbers) if i == 0 or numbers[i - 1] != n]


async def in_flight(settings: Settings) -> set[int]:
    """Outbox rows a killed process had claimed and not recorded: the ones that may have
    reached the platform without us knowing (docs/operations.md, "the one window")."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessions(engine)() as session:
            rows = await session.execute(
                select(OutboxRow.id).where(
                    OutboxRow.state == "pending", OutboxRow.locked_until > datetime.now(UTC)
                )
            )
            return set(rows.scalars())
    finally:
        await engine.dispose()


async def settled(settings: Settings, expected: int) -> list[OutboxRow]:
    engine = make_engine(settings.database_url)
    try:
        return await outbox_settled(make_sessions(engine), expected, within=60)
    finally:
        await engine.dispose()


async def test_killed_in_the_middle_of_a_burst_and_restarted_nothing_is_lost_or_repeated(
    database_url: str, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """120 tickets wait to be announced (120 answers, 120 cards) and 30 users ask for help;
    the desk is killed with SIGKILL half-way, started again, and stopped with SIGTERM.

    Every message arrives, in order per chat; a message arrives twice only if the killed
    process had it in flight (sent, not yet recorded), and we count those."""
    owners = [tg_user(i) for i in range(40)]
    askers = [tg_user(100 + i) for i in range(30)]
    async with fakes() as (tg, slack):
        settings = settings_for(
            tg,
            slack,
            database_url,
            redis_url,
            free_port(),
            platform_timeout=1.0,
            outbox_digest_backlog=0,
            telegram_poll_lease=2.0,
        )
        queued = HelpdeskApp(settings, DeskConfig())
        await upgrade(queued.engine)
        numbers = await file_tickets(queued.desk, owners, each=3)
        await queued.engine.dispose()
        for user in askers:
            tg.push_update(user.command("help"))

        child = Child(settings, tmp_path, "run")
        async with children(child):
            await child.start()
            await until(lambda: len(tg.sent) + len(posts(slack, OPS)) >= 120)
            await child.signal(signal.SIGKILL)
            killed_at = len(tg.sent) + len(posts(slack, OPS))
            cards_at_kill = len(posts(slack, OPS))
            doubtful = await in_flight(settings)

            started = time.monotonic()
            await child.start()
            # The dead process's claims must not hold the channel for a whole lease of old
            # (60 s): on SQLite they are freed at the start, on PostgreSQL they run out
            # within OUTBOX_LEASE (4 s) of the last heartbeat.
            await until(lambda: len(posts(slack, OPS)) > cards_at_kill, within=15)
            resumed = time.monotonic() - started
            await settled(settings, 270)
            took = time.monotonic() - started
            assert await child.signal(signal.SIGTERM) == 0

    repeats = 0
    for user in owners:
        got = registered_numbers(tg, user)
        mine = [n for n in numbers if n in set(got)]
        assert collapse(got) == mine and len(mine) == 3, (user.id, got)
        repeats += len(got) - len(mine)
    cards = card_numbers(slack)
    assert collapse(cards) == numbers
    repeats += len(cards) - len(numbers)
    for user in askers:
        helps = [text for text in tg.texts_to(user.id) if "/status" in text]
        assert 1 <= len(helps) <= 2
        repeats += len(helps) - 1
    assert repeats <= len(doubtful)
    assert (tg.rate_limited, slack.rate_limited) == (0, 0)
    with capsys.disabled():
        print(
            f"\nSIGKILL after {killed_at} of 270 messages; {len(doubtful)} in flight at the "
            f"kill; sent twice: {repeats}; the operators' channel resumed {resumed:.1f}s and the "
            f"rest was delivered {took:.1f}s after the restart"
        )


async def intake(chat: TelegramChat, submit: bool = True) -> None:
    """A complete intake through the bot, waiting for each answer like a person (up to the
    summary, when not ``submit``)."""
    await chat.send(chat.user.command("new"), t("en", "ask.category"))
    await chat.press(choice(Step.CATEGORY, "printers"), t("en", "ask.description"))
    await chat.say("The printer on floor 3 jams on every page", t("en", "ask.location"))
    await chat.say("HQ, room 301", t("en", "ask.name"))
    await chat.press(choice(Step.NAME, "remembered"), t("en", "ask.phone"))
    await chat.say("+380671234567", t("en", "ask.asset"))
    await chat.press(choice(Step.ASSET, "skip"), t("en", "ask.files", max=10))
    await chat.press(choice(Step.FILES, "done"), t("en", "ask.urgency"))
    await chat.press(choice(Step.URGENCY, "high"), t("en", "summary.title"))
    if submit:
        await chat.press(choice(Step.SUMMARY, "submit"), "is registered")


@asynccontextmanager
async def tickets_locked(database_url: str) -> AsyncIterator[None]:
    """Another session holds the tickets table (PostgreSQL) or the whole file (SQLite), so a
    Submit's transaction waits inside, where a crash would once lose the ticket."""
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(database_url.split(":///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(sql_text("LOCK TABLE tickets IN EXCLUSIVE MODE"))
            yield
            await transaction.rollback()
    finally:
        await engine.dispose()


async def waiting_for_a_lock(database_url: str) -> None:
    """Until a transaction waits for the lock (PostgreSQL shows it; SQLite's busy wait is
    invisible, so give the update a moment to get there)."""
    if database_url.startswith("sqlite"):
        await asyncio.sleep(1.0)
        return
    engine = make_engine(database_url)
    try:
        for _ in range(500):
            async with engine.connect() as connection:
                waiting = await connection.scalar(
                    sql_text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                )
            if waiting:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("nothing waited for the tickets table")
    finally:
        await engine.dispose()


async def test_killed_while_a_submit_is_in_its_transaction_the_ticket_is_not_lost(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The requester presses Submit while the tickets table is held; the process is killed
    inside that transaction. After a restart the update comes again and the ticket is filed,
    once: the conversation was never moved on outside the transaction."""
    user = tg_user(1)
    async with fakes() as (tg, slack):
        settings = settings_for(tg, slack, database_url, redis_url, free_port())
        child = Child(settings, tmp_path, "run")
        async with children(child):
            await child.start()
            chat = TelegramChat(tg, user)
            await intake(chat, submit=False)
            async with tickets_locked(database_url):
                summary = [m for m in tg.messages_to(user.id) if m.get("reply_markup")][-1]
                tg.push_update(user.press(choice(Step.SUMMARY, "submit"), summary["message_id"]))
                await waiting_for_a_lock(database_url)
                await child.signal(signal.SIGKILL)
            await child.start()
            await tg.wait_for_message(user.id, "is registered", 15)
            await settled(settings, 0)
            assert await child.signal(signal.SIGTERM) == 0
    engine = make_engine(database_url)
    async with make_sessions(engine)() as session:
        tickets = await store.open_tickets(session)
    await engine.dispose()
    assert len(tickets) == 1 and tickets[0].requester.user_id == str(user.id)
    assert sum("is registered" in text for text in tg.texts_to(user.id)) == 1


@pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL),
    reason="several processes need PostgreSQL + Redis (HELPDESK_TEST_DATABASE_URL and "
    "HELPDESK_TEST_REDIS_URL); SQLite is the single-process embedded mode",
)
async def test_two_processes_share_the_load_and_nothing_happens_twice(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Two desks on one PostgreSQL + Redis: one polls Telegram; Slack requests go to either
    (a load balancer), and every click and every event is also delivered to the other one (a
    double click, a Slack retry). Each ticket, card, claim and reply happens once."""
    users = [tg_user(i) for i in range(12)]
    async with fakes() as (tg, slack):
        kids = [
            Child(settings_for(tg, slack, database_url, redis_url, free_port()), tmp_path, name)
            for name in ("a", "b")
        ]
        async with children(*kids):
            await asyncio.gather(*(kid.start() for kid in kids))
            chats = [TelegramChat(tg, user) for user in users]
            await asyncio.gather(*(intake(chat) for chat in chats))
            await until(lambda: len(card_numbers(slack)) == len(users))
            cards = {
                int(str(c.params["text"]).split("#")[1].split(" ")[0]): c for c in posts(slack, OPS)
            }

            async def work(number: int, user: TgUser, first: Child, second: Child) -> None:
                ts = str(cards[number].response["ts"])  # type: ignore[index]
                click = sr.block_actions(
                    BOB, "ticket_claim", str(number), channel=OPS, message_ts=ts
                )
                await asyncio.gather(
                    sr.post(first.url, "/slack/events", click),
                    sr.post(second.url, "/slack/events", click),
                )
                await tg.wait_for_message(user.id, "was taken by Bob", 10)
                reply = sr.message_event(OPS, BOB, f"On my way to #{number}", thread_ts=ts)
                await sr.post(first.url, "/slack/events", reply)
                await sr.post(second.url, "/slack/events", reply, retry_num=1)
                await tg.wait_for_message(user.id, f"On my way to #{number}", 10)

            owner = {}
            for user in users:
                [number] = registered_numbers(tg, user)
                owner[number] = user
            await asyncio.gather(
                *(
                    work(number, user, kids[i % 2], kids[(i + 1) % 2])
                    for i, (number, user) in enumerate(sorted(owner.items()))
                )
            )
            await settled(kids[0].settings, 0)
            metrics = [await kid.metrics() for kid in kids]
            for kid in kids:
                assert await kid.signal(signal.SIGTERM) == 0

    engine = make_engine(database_url)
    async with make_sessions(engine)() as session:
        tickets = await store.open_tickets(session)
    await engine.dispose()
    assert sorted(t_.number for t_ in tickets) == sorted(owner)  # each ticket once
    assert sorted(card_numbers(slack)) == sorted(owner)  # each card once
    for number, user in owner.items():
        texts = tg.texts_to(user.id)
        assert sum("is registered" in text for text in texts) == 1
        assert sum("was taken by Bob" in text for text in texts) == 1
        assert sum(f"On my way to #{number}" in text for text in texts) == 1
    assert (tg.rate_limited, slack.rate_limited) == (0, 0)
    assert sorted("helpdesk_telegram_poller 1.0" in text for text in metrics) == [False, True]
    for text in metrics:  # both processes delivered part of the load
        sent = [line for line in text.splitlines() if line.startswith("helpdesk_messages_total")]
        assert any('outcome="sent"' in line and not line.endswith(" 0.0") for line in sent)
