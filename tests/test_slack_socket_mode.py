"""Socket Mode for real: the app opens a connection (apps.connections.open), the fake Slack
pushes envelopes over the WebSocket, the app acknowledges them and acts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.preflight import StartupError
from bot.standins import slack_requests as sr
from tests.conftest import Clock
from tests.slack_desk import APP_TOKEN, BOB, OPS, USER, Desk, card_edit, posted, running_desk


@asynccontextmanager
async def socket_desk(database_url: str, redis_url: str, clock: Clock) -> AsyncIterator[Desk]:
    """The desk on Socket Mode (no signing secret), once its first connection is open."""
    async with running_desk(
        database_url,
        redis_url,
        clock,
        slack_mode="socket",
        slack_app_token=APP_TOKEN,
        slack_signing_secret="",
    ) as desk:
        await desk.fake.wait_for_socket(0)
        yield desk


async def test_socket_mode_takes_clicks_and_thread_replies(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    async with socket_desk(database_url, redis_url, clock) as desk:
        number, ts = await desk.file()
        mark = len(desk.fake.calls)
        click = desk.click_request(BOB, number, "claim", ts)
        ack = await desk.fake.socket_send("interactive", click.payload)
        assert ack["envelope_id"]
        await desk.fake.wait_for(card_edit("Claimed* by Bob"), since=mark)
        reply = sr.message_event(OPS, BOB, "On my way with a new cable", thread_ts=ts)
        await desk.fake.socket_send("events_api", reply.payload)
        await desk.fake.wait_for(posted(USER, "On my way with a new cable"), since=mark)


async def test_socket_mode_reconnects_when_slack_ends_the_connection(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    """Slack refreshes Socket Mode connections (a ``disconnect`` message) and may drop them
    (a bare close); the app opens a new one each time and events keep arriving."""
    async with socket_desk(database_url, redis_url, clock) as desk:
        _, ts = await desk.file()
        for i, warn in enumerate((True, False)):
            opened = desk.fake.sockets_opened
            assert await desk.fake.end_sockets(warn=warn) >= 1
            await desk.fake.wait_for_socket(opened)
            mark = len(desk.fake.calls)
            text = f"Reply {i} after the connection was renewed"
            reply = sr.message_event(OPS, BOB, text, thread_ts=ts)
            assert (await desk.fake.socket_send("events_api", reply.payload, 15))["envelope_id"]
            await desk.fake.wait_for(posted(USER, text), since=mark)
        # the start-up check of the app token, the first connection and two new ones
        assert len(desk.fake.calls_of("apps.connections.open")) == 4


async def test_a_rejected_app_token_stops_the_start_instead_of_retrying(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    rejected = r"^SLACK_APP_TOKEN was rejected by Slack \(invalid_auth\)$"
    async with asyncio.timeout(60):  # Socket Mode alone would retry for ever
        with pytest.raises(StartupError, match=rejected):
            async with running_desk(
                database_url,
                redis_url,
                clock,
                slack_mode="socket",
                slack_app_token="xapp-1-rejected",
                slack_signing_secret="",
            ):
                raise AssertionError("the desk started with a rejected app token")
