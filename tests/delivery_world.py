"""The world of the delivery tests: both fake platforms with their limits enforced, a desk
configured with proportionally tighter limits, and what we check afterwards.

Limits are scaled down so a burst of hundreds of messages takes seconds: the fakes enforce
``PRIVATE`` seconds per private chat and ``GLOBAL`` messages per second (Telegram) and one
``chat.postMessage`` per ``POST`` seconds per channel (Slack); the bot is configured below
each, as it is in production (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.standins import slack_requests as sr
from bot.standins.ports import free_port
from bot.standins.slack_api import Call, FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.desk import Desk
from handlers.messages import UserRef
from storage.db import SessionFactory
from storage.models import OutboxRow
from tests.factories import DRAFT

OPS = "C0OPERATORS"
BOB = "U0BOB"
PRIVATE, GLOBAL, POST = 0.05, 200, 0.01

# The bot's own limits, under the fakes' with a margin: at these tiny intervals a busy event
# loop can delay one request by tens of milliseconds and bunch it up with the next.
BOT_LIMITS: dict[str, Any] = {
    "telegram_private_interval": PRIVATE * 2,
    "telegram_global_per_second": int(GLOBAL * 0.7),
    "slack_channel_interval": POST * 2,
    "slack_tier3_per_minute": 6000,
}


def tg_user(index: int) -> TgUser:
    return TgUser(2000 + index, f"User{index}", "Test", language_code="en")


@asynccontextmanager
async def fakes(enforce: bool = True) -> AsyncIterator[tuple[FakeTelegramAPI, FakeSlackAPI]]:
    """Both platforms, limits enforced; Slack knows Bob (an operator) and the channel."""
    limits = {"private_interval": PRIVATE, "global_per_second": GLOBAL}
    async with (
        FakeTelegramAPI(enforce_limits=enforce, **limits) as tg,
        FakeSlackAPI(enforce_limits=enforce, post_interval=POST) as slack,
    ):
        slack.add_user(BOB, "bob", "Bob Example", display_name="Bob")
        slack.add_channel(OPS, "it-operators", members=[BOB, slack.bot_user_id])
        yield tg, slack


def settings_for(
    tg: FakeTelegramAPI,
    slack: FakeSlackAPI,
    database_url: str,
    redis_url: str,
    port: int,
    **extra: Any,
) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "telegram_bot_token": tg.token,
        "telegram_api_url": tg.url,
        "slack_bot_token": slack.token,
        "slack_signing_secret": sr.SIGNING_SECRET,
        "slack_mode": "http",
        "slack_api_url": slack.api_url,
        "slack_operators_channel": OPS,
        "http_host": "127.0.0.1",
        "http_port": port,
        "metrics_port": free_port(),
        **BOT_LIMITS,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment of a ``helpdesk run`` child process."""
    env = {}
    for name, value in settings.model_dump().items():
        shown = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[name.upper()] = str(shown)
    return env


async def file_tickets(desk: Desk, users: list[TgUser], each: int) -> list[int]:
    """``each`` tickets per Telegram user, filed as finished intakes do; their numbers."""
    numbers = []
    for round_ in range(each):
        for user in users:
            ref = UserRef("telegram", str(user.id), f"{user.first_name} {user.last_name}")
            cause = f"file:{user.id}:{round_}"
            ticket = await desk.requesters.file_ticket(ref, ref.id, DRAFT, cause)
            assert ticket.number is not None
            numbers.append(ticket.number)
    return numbers


async def outbox_settled(
    sessions: SessionFactory, expected: int | None = None, within: float = 30.0
) -> list[OutboxRow]:
    """The outbox once nothing is pending (and, if given, at least ``expected`` rows)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with sessions() as session:
            pending = (
                await session.execute(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.state == "pending")
                )
            ).scalar_one()
            rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars()
            rows = list(rows)
        if not pending and (expected is None or len(rows) >= expected):
            return rows
        if loop.time() > deadline:
            raise AssertionError(f"outbox not settled: {pending} pending of {len(rows)}")
        await asyncio.sleep(0.05)


def posts(slack: FakeSlackAPI, channel: str, thread_ts: str | None = None) -> list[Call]:
    """Accepted chat.postMessage calls to ``channel`` (top level unless ``thread_ts``)."""
    return [
        c
        for c in slack.calls_of("chat.postMessage")
        if c.ok and c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
    ]


def card_numbers(slack: FakeSlackAPI) -> list[int]:
    """The ticket number of each card posted to the operators' channel, in posting order."""
    numbers = []
    for call in posts(slack, OPS):
        blocks = call.params.get("blocks") or []
        if blocks and blocks[0].get("type") == "header":  # a card, not a text or a digest
            numbers.append(int(str(call.params["text"]).split("#", 1)[1].split(" ", 1)[0]))
    return numbers


def registered_numbers(tg: FakeTelegramAPI, user: TgUser) -> list[int]:
    """The ticket numbers in "Request #N is registered" messages to ``user``, in order."""
    found = []
    for text in tg.texts_to(user.id):
        if "is registered" in text:
            found.append(int(text.split("#", 1)[1].split(" ", 1)[0]))
    return found


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Wait for ``condition`` to hold; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
