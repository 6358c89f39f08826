"""The Slack side of the desk in tests: a running HelpdeskApp in HTTP mode, the fake Slack Web
API around it, and the moves a test makes (file, click, claim, say, press, resolve)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest

from bot.app import HelpdeskApp
from bot.config import Settings
from bot.standins import slack_requests as sr
from bot.standins.ports import free_port
from bot.standins.slack_api import Call, FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI
from handlers.config import DeskConfig
from handlers.messages import UserRef
from handlers.tickets import Status
from storage import links
from storage.db import SessionFactory
from tests.conftest import Clock
from tests.factories import DRAFT

OPS = "C0OPERATORS"
BOB, CAROL, MALLORY, DAVE, USER = "U0BOB", "U0CAROL", "U0MALLORY", "U0DAVE", "U0USER"
NAMES = {BOB: "Bob", CAROL: "Carol", MALLORY: "Mallory", DAVE: "Dave"}
APP_TOKEN = "xapp-1-test"
SPECIALIST, SUPERVISOR, ONCALL = "U0SAM", "U0SUPER", "S0ONCALL"
INJECTION = "<!channel> <@U0BOB> <#C0SECRET> <https://evil.example|click here> @here"


def button_values(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        element["value"]: element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    }


def posted(channel: str, contains: str = "", thread_ts: str | None = None) -> Callable[..., bool]:
    """A chat.postMessage to ``channel`` whose text contains ``contains``."""

    def check(call: Call) -> bool:
        params = call.params
        return (
            call.method == "chat.postMessage"
            and call.ok
            and params.get("channel") == channel
            and contains in str(params.get("text", ""))
            and (thread_ts is None or params.get("thread_ts") == thread_ts)
        )

    return check


async def recorded_card_ts(sessions: SessionFactory, number: int) -> str:
    """The card's ts once the sender has recorded it (just after chat.postMessage): a thread
    reply sent before that is not in a known card's thread yet."""
    for _ in range(250):
        async with sessions() as session:
            link = await links.get(session, number, links.OPERATOR_CARD)
        if link is not None:
            assert link.chat == OPS
            return link.message_id
        await asyncio.sleep(0.02)
    raise AssertionError(f"the card of #{number} was never recorded")


def card_edit(contains: str) -> Callable[[Call], bool]:
    def check(call: Call) -> bool:
        shown = json.dumps(call.params.get("blocks", []), ensure_ascii=False)
        return call.method == "chat.update" and call.ok and contains in shown

    return check


def reaction(name: str, ts: str) -> Callable[[Call], bool]:
    return lambda c: (
        c.method == "reactions.add"
        and c.params
        == {
            **c.params,
            "name": name,
            "timestamp": ts,
        }
    )


@dataclass
class Desk:
    """The running app and the fake Slack around it, with the moves a test makes."""

    app: HelpdeskApp
    fake: FakeSlackAPI
    url: str
    clock: Clock

    @property
    def dm(self) -> str:
        return self.fake.dm_channel_id(USER)

    async def send(self, request: sr.SlackRequest, **options: Any) -> tuple[int, str]:
        return await sr.post(self.url, "/slack/events", request, **options)

    async def ok(self, request: sr.SlackRequest, **options: Any) -> str:
        status, body = await self.send(request, **options)
        assert status == 200, body
        return body

    async def file(self, description: str = DRAFT.description) -> tuple[int, str]:
        """A ticket from the Slack requester; returns (number, ts of its card)."""
        mark = len(self.fake.calls)
        user = UserRef("slack", USER, "Ursula User")
        draft = replace(DRAFT, description=description, name="Ursula User")
        ticket = await self.app.desk.requesters.file_ticket(user, USER, draft, f"file:{mark}")
        assert ticket.number is not None
        await self.fake.wait_for(posted(OPS, f"#{ticket.number}"), since=mark)
        return ticket.number, await self.card_ts(ticket.number)

    async def card_ts(self, number: int) -> str:
        return await recorded_card_ts(self.app.sessions, number)

    def click_request(self, user: str, number: int, action: str, ts: str) -> sr.SlackRequest:
        """An operator's press of a card's move button (``action``: claim, resolve...)."""
        return self.press_request(user, f"ticket_{action}", number, OPS, ts)

    def press_request(
        self, user: str, action_id: str, number: int, channel: str, ts: str
    ) -> sr.SlackRequest:
        """A press of button ``action_id`` on the card at ``ts`` in ``channel`` (ephemeral
        answers come via response_url)."""
        return sr.block_actions(
            user,
            action_id,
            str(number),
            channel=channel,
            message_ts=ts,
            message=self.fake.message(channel, ts),
            response_url=self.fake.new_response_url(channel=channel, message_ts=ts, user=user),
        )

    async def click(self, user: str, number: int, action: str, ts: str) -> str:
        return await self.ok(self.click_request(user, number, action, ts))

    async def claim(self, number: int, ts: str, user: str = BOB) -> None:
        mark = len(self.fake.calls)
        await self.click(user, number, "claim", ts)
        await self.fake.wait_for(card_edit(f"Claimed* by {NAMES[user]}"), since=mark)

    async def answer(self, user: str, since: int) -> str:
        """The next ephemeral answer to ``user``."""
        await self.fake.wait_for(lambda c: c.method == "response_url", since=since)
        [ephemeral] = self.fake.ephemerals(user=user)
        return str(ephemeral["text"])

    async def say(self, text: str, **extra: Any) -> dict[str, Any]:
        """The requester writes to the app; returns the event."""
        request = sr.message_event(self.dm, USER, text, channel_type="im", **extra)
        await self.ok(request)
        return request.payload["event"]

    async def press(self, value: str, user: str = USER) -> None:
        """The requester presses the latest DM button with ``value``."""
        for message in reversed(self.fake.messages(self.dm)):
            button = button_values(message).get(value)
            if button is not None:
                request = sr.block_actions(
                    user,
                    button["action_id"],
                    value,
                    channel=self.dm,
                    message_ts=message["ts"],
                    message=message,
                    label=button["text"]["text"],
                )
                await self.ok(request)
                return
        raise AssertionError(f"no button {value!r} in the DM: {self.fake.messages(self.dm)}")

    async def resolve_via_modal(self, number: int, ts: str, note: str, user: str = BOB) -> None:
        """An operator presses Resolve on the card and submits the note."""
        mark = len(self.fake.calls)
        await self.click(user, number, "resolve", ts)
        await self.fake.wait_for("views.open", since=mark)
        await self.ok(sr.view_submission(user, "resolve", str(number), {"note": {"note": note}}))

    async def resolve(self, number: int, ts: str, note: str, user: str = BOB) -> None:
        """Resolve, and wait until the (Slack) requester is asked whether it is fixed."""
        mark = len(self.fake.calls)
        await self.resolve_via_modal(number, ts, note, user)
        await self.fake.wait_for(posted(USER, "is resolved"), since=mark)

    async def status(self, number: int) -> Status:
        ticket = await self.app.desk.ticket(number)
        assert ticket is not None
        return ticket.status


def desk_config() -> DeskConfig:
    """The default desk, with operators on an allow-list (Bob and Carol, in the operators'
    channel, and Dave, who is not), an on-call group on the sysadmins line and a supervisor
    for breaches elsewhere."""
    defaults = DeskConfig()
    lines = [
        line.model_dump() | ({"ping": [ONCALL]} if line.id == "sysadmins" else {})
        for line in defaults.lines
    ]
    return DeskConfig.model_validate(
        {"desk": {"operators": [BOB, CAROL, DAVE], "supervisor": SUPERVISOR}, "lines": lines}
    )


@asynccontextmanager
async def running_desk(
    database_url: str,
    redis_url: str,
    clock: Clock,
    config: DeskConfig | None = None,
    **settings: Any,
) -> AsyncIterator[Desk]:
    """A HelpdeskApp serving Slack over HTTP against a fake Slack with operators (Bob, Carol;
    Dave by allow-list), a requester (Ursula) and a specialist (Sam) in every line's channel.
    ``config``: the desk config (default :func:`desk_config`); ``settings`` add to or override
    the app's settings (e.g. a Telegram bot too)."""
    async with FakeSlackAPI() as fake:
        fake.tokens.add(APP_TOKEN)  # Socket Mode's app-level token opens connections
        for user_id, name in NAMES.items():
            fake.add_user(user_id, name.lower(), f"{name} Example", display_name=name)
        fake.add_user(USER, "ursula", "Ursula User")
        fake.add_user(SPECIALIST, "sam", "Sam Specialist", display_name="Sam")
        fake.add_channel(OPS, "it-operators", members=[BOB, CAROL, fake.bot_user_id])
        port = free_port()
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "telegram_bot_token": "",
            "slack_bot_token": fake.token,
            "slack_signing_secret": sr.SIGNING_SECRET,
            "slack_mode": "http",
            "slack_api_url": fake.api_url,
            "slack_operators_channel": OPS,
            "http_host": "127.0.0.1",
            "http_port": port,
            "metrics_port": free_port(),
        }
        config = config or desk_config()
        for line in config.lines:
            fake.add_channel(line.channel, line.id, members=[SPECIALIST, fake.bot_user_id])
        app = HelpdeskApp(
            Settings(_env_file=None, **(values | settings)),
            config,
            clock,
            telegram_spacing=0,
            slack_spacing=0,
            housekeeping_every=3600,
        )
        await app.start()
        try:
            yield Desk(app, fake, f"http://127.0.0.1:{port}", clock)
        finally:
            await app.stop()


@pytest.fixture
async def desk(database_url: str, redis_url: str, clock: Clock) -> AsyncIterator[Desk]:
    async with running_desk(database_url, redis_url, clock) as running:
        yield running


@asynccontextmanager
async def desk_with_telegram(
    database_url: str, redis_url: str, clock: Clock, config: DeskConfig | None = None
) -> AsyncIterator[tuple[Desk, FakeTelegramAPI]]:
    """The Slack desk with a Telegram bot too, against both fakes: the cross-platform loop."""
    async with (
        FakeTelegramAPI() as tg,
        running_desk(
            database_url,
            redis_url,
            clock,
            config,
            telegram_bot_token=tg.token,
            telegram_api_url=tg.url,
        ) as desk,
    ):
        yield desk, tg
