"""Delivery end to end: the real HelpdeskApp, python-telegram-bot and slack-bolt stacks against
fake platforms that enforce rate limits and inject faults (tests/delivery_world.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot.app import HelpdeskApp
from bot.standins import slack_requests as sr
from bot.standins.ports import free_port
from bot.standins.slack_api import Call, FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers import delivery
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.messages import Reply, UserRef
from handlers.tickets_service import Done
from storage.migrate import upgrade
from tests.conftest import Clock
from tests.delivery_world import (
    BOB,
    OPS,
    card_numbers,
    fakes,
    file_tickets,
    outbox_settled,
    posts,
    registered_numbers,
    settings_for,
    tg_user,
    until,
)
from tests.factories import DRAFT
from tests.slack_desk import recorded_card_ts


@asynccontextmanager
async def desk_app(
    tg: FakeTelegramAPI, slack: FakeSlackAPI, database_url: str, redis_url: str, **extra: object
) -> AsyncIterator[HelpdeskApp]:
    """A HelpdeskApp built but not started (the test may queue work first)."""
    settings = settings_for(tg, slack, database_url, redis_url, free_port(), **extra)
    app = HelpdeskApp(settings, DeskConfig(), housekeeping_every=3600)
    await upgrade(app.engine)
    try:
        yield app
    finally:
        await app.stop(grace=1)


async def test_a_burst_of_200_tickets_stays_under_every_limit(
    database_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """200 tickets from 50 Telegram users (4 each) wait when the desk starts: 200 answers to
    50 chats and 200 cards to one channel. Nothing is rate limited, every message arrives
    once and in order, and the channel gets one digest before the cards."""
    users = [tg_user(i) for i in range(50)]
    async with (
        fakes() as (tg, slack),
        desk_app(tg, slack, database_url, redis_url, outbox_digest_backlog=50) as app,
    ):
        numbers = await file_tickets(app.desk, users, each=4)
        started = time.monotonic()
        await app.start()
        await outbox_settled(app.sessions, expected=400, within=60)
        took = time.monotonic() - started
        assert (tg.rate_limited, slack.rate_limited) == (0, 0)
        assert card_numbers(slack) == numbers  # each card once, in ticket order
        for user in users:
            mine = [n for n in numbers if n in registered_numbers(tg, user)]
            assert registered_numbers(tg, user) == mine and len(mine) == 4
        [digest, *_] = posts(slack, OPS)
        assert str(digest.params["text"]).startswith("⏳ 200 tickets are waiting")
        assert len([c for c in posts(slack, OPS) if "tickets are waiting" in c.params["text"]]) == 1
    with capsys.disabled():
        print(
            f"\nburst: 400 messages in {took:.1f}s "
            f"({200 / took:.0f} Telegram msg/s, {201 / took:.0f} Slack posts/s), "
            f"429s: telegram {tg.rate_limited}, slack {slack.rate_limited}"
        )


async def test_cards_are_not_held_by_a_slow_chat(
    database_url: str, redis_url: str, clock: Clock
) -> None:
    """One chat whose messages keep failing does not delay anybody else's."""
    users = [tg_user(i) for i in range(5)]
    async with fakes() as (tg, slack), desk_app(tg, slack, database_url, redis_url) as app:
        tg.fail_next("sendMessage", status=500, times=100, chat_id=users[0].id)
        await file_tickets(app.desk, users, each=2)
        await app.start()
        for user in users[1:]:
            await tg.wait_for_message(user.id, "#", timeout=5)
        assert registered_numbers(tg, users[0]) == []


# --- faults on every send path ------------------------------------------------------------------

SAM = "U0SAM"  # a Slack user who is a requester
REPLY = "Please restart it"


def faults(tg: FakeTelegramAPI, slack: FakeSlackAPI, method: str, where: str) -> None:
    """The next four calls of ``method`` for chat/channel ``where`` fail, one of each kind:
    held past our timeout and then dropped unexecuted, dropped at once, 429 with a retry-after
    of one second, 500."""
    if method == "sendMessage":
        chat = int(where)
        tg.delay_next(method, 0.3, chat_id=chat)
        tg.drop_next(method, times=2, chat_id=chat)
        tg.fail_next(method, status=429, retry_after=1, chat_id=chat)
        tg.fail_next(method, status=500, chat_id=chat)
    else:
        slack.delay_next(method, 0.3, channel=where)
        slack.drop_next(method, times=2, channel=where)
        slack.fail_next(method, status=429, retry_after=1, channel=where)
        slack.fail_next(method, status=500, channel=where)


async def test_faults_on_every_send_path_deliver_each_message_once_and_in_order(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step of a ticket's life goes through one send path, and each path meets every
    kind of fault first: Telegram sendMessage, Slack chat.postMessage (card, thread relay, DM),
    chat.update (card refresh) and reactions.add (receipt)."""
    # Retry sooner than in production, but only after the held request was dropped.
    monkeypatch.setattr(delivery, "backoff", lambda attempts: 0.25)
    user = tg_user(1)
    chat = str(user.id)
    async with (
        fakes() as (tg, slack),
        desk_app(tg, slack, database_url, redis_url, platform_timeout=0.15) as app,
    ):
        slack.add_user(SAM, "sam", "Sam Slack")
        await app.start()
        url = f"http://127.0.0.1:{app.settings.http_port}"

        faults(tg, slack, "sendMessage", chat)
        faults(tg, slack, "chat.postMessage", OPS)
        faults(tg, slack, "chat.postMessage", SAM)
        first = await app.desk.requesters.file_ticket(_ref(user), chat, DRAFT, "file:1")
        sam = UserRef("slack", SAM, "Sam Slack")
        second = await app.desk.requesters.file_ticket(sam, SAM, DRAFT, "file:2")
        number = first.number
        await slack.wait_for(lambda c: c in posts(slack, OPS), 10)
        ts = str(posts(slack, OPS)[0].response["ts"])  # type: ignore[index]

        faults(tg, slack, "chat.update", OPS)
        faults(tg, slack, "sendMessage", chat)
        claim = sr.block_actions(BOB, "ticket_claim", str(number), channel=OPS, message_ts=ts)
        assert (await sr.post(url, "/slack/events", claim))[0] == 200
        await tg.wait_for_message(user.id, "was taken by Bob", 10)

        faults(tg, slack, "reactions.add", OPS)  # (sendMessage has its faults in the others)
        reply = sr.message_event(OPS, BOB, REPLY, thread_ts=ts)
        assert (await sr.post(url, "/slack/events", reply))[0] == 200
        reply_ts = reply.payload["event"]["ts"]
        await slack.wait_for(
            lambda c: c.method == "reactions.add" and c.ok and c.params["timestamp"] == reply_ts,
            10,
        )

        faults(tg, slack, "chat.postMessage", OPS)
        faults(tg, slack, "sendMessage", chat)
        tg.push_update(user.text("It still jams"))
        await slack.wait_for(lambda c: c.ok and c.params.get("thread_ts") == ts, 10)

        await outbox_settled(app.sessions, within=20)
        assert tg.texts_to(user.id) == [
            t("en", "ticket.created", number=number),
            t("en", "ticket.claimed", number=number, operator="Bob"),
            t("en", "ticket.operator_says", operator="Bob", number=number, text=REPLY),
            t("en", "ticket.added", number=number),
        ]
        assert card_numbers(slack) == [number, second.number]
        assert [m["text"] for m in slack.messages(OPS, thread_ts=ts)] == [
            "*User1 Test* (requester): It still jams"
        ]
        assert slack.reaction_names(OPS, reply_ts) == ["white_check_mark"]
        assert [m["text"] for m in slack.messages(slack.dm_channel_id(SAM))] == [
            t("en", "ticket.created", number=second.number)
        ]
        # every fault was met: 4 on each of 3 Telegram and 5 Slack sends
        assert len([c for c in tg.calls_of("sendMessage") if c.status != 200]) == 12
        assert len([c for c in slack.calls if c.fault]) == 20


def _ref(user: TgUser) -> UserRef:
    return UserRef("telegram", str(user.id), f"{user.first_name} {user.last_name}")


# --- a requester who blocked the bot ------------------------------------------------------------


def card_shows(text: str) -> Callable[[Call], bool]:
    def check(call: Call) -> bool:
        shown = json.dumps(call.params.get("blocks", []), ensure_ascii=False)
        return call.method == "chat.update" and call.ok and text in shown

    return check


async def test_a_user_who_blocked_the_bot_shows_on_the_card_without_a_retry_storm(
    database_url: str, redis_url: str
) -> None:
    user = tg_user(1)
    async with fakes() as (tg, slack), desk_app(tg, slack, database_url, redis_url) as app:
        await app.start()
        url = f"http://127.0.0.1:{app.settings.http_port}"
        ticket = await app.desk.requesters.file_ticket(_ref(user), str(user.id), DRAFT, "file:1")
        assert ticket.number is not None
        ts = await recorded_card_ts(app.sessions, ticket.number)
        tg.block_chat(user.id)

        claim = sr.block_actions(
            BOB, "ticket_claim", str(ticket.number), channel=OPS, message_ts=ts
        )
        await sr.post(url, "/slack/events", claim)
        await slack.wait_for(card_shows("Cannot reach the requester: user blocked the bot"), 5)
        replies = [sr.message_event(OPS, BOB, f"Try {i}", thread_ts=ts) for i in range(2)]
        for reply in replies:
            await sr.post(url, "/slack/events", reply)
        for reply in replies:
            reply_ts = reply.payload["event"]["ts"]
            await slack.wait_for(
                lambda c, ts_=reply_ts: (
                    c.method == "reactions.add"
                    and c.params == {**c.params, "timestamp": ts_, "name": "x"}
                ),
                5,
            )
        await asyncio.sleep(1.0)  # time for a retry storm to show, if there were one
        assert [c.status for c in tg.calls_of("sendMessage")] == [200, 403, 403, 403]
        stored = await app.desk.ticket(ticket.number)  # type: ignore[arg-type]
        assert stored is not None and stored.delivery_problem == "user blocked the bot"

        tg.unblock_chat(user.id)  # they are back: the next message reaches them
        mark = len(slack.calls)
        tg.push_update(user.text("Sorry, I had blocked you"))
        await tg.wait_for_message(user.id, t("en", "ticket.added", number=ticket.number), 5)
        refreshed = await slack.wait_for(
            lambda c: c.method == "chat.update" and c.ok, 5, since=mark
        )
        assert "Cannot reach" not in json.dumps(refreshed.params["blocks"], ensure_ascii=False)


# --- de-duplication across restarts -------------------------------------------------------------


async def test_repeated_updates_and_slack_retries_are_processed_once_even_after_a_restart(
    database_url: str, redis_url: str
) -> None:
    user = tg_user(1)
    async with fakes() as (tg, slack):
        settings = settings_for(tg, slack, database_url, redis_url, free_port())
        update = {**user.command("help"), "update_id": 900}

        async def run(step: Callable[[HelpdeskApp], Awaitable[None]]) -> None:
            app = HelpdeskApp(settings, DeskConfig(), housekeeping_every=3600)
            await app.start()
            try:
                await step(app)
            finally:
                await app.stop(grace=1)

        async def first(app: HelpdeskApp) -> None:
            tg.push_update(dict(update))
            await tg.wait_for_message(user.id, "/status", 10)
            requesters = app.desk.requesters
            ticket = await requesters.file_ticket(_ref(user), str(user.id), DRAFT, "file:1")
            assert ticket.number is not None
            ts = await recorded_card_ts(app.sessions, ticket.number)
            reply = sr.message_event(OPS, BOB, "Restart it", thread_ts=ts)
            await sr.post(f"http://127.0.0.1:{settings.http_port}", "/slack/events", reply)
            await tg.wait_for_message(user.id, "Restart it", 10)
            state["reply"], state["number"] = reply, ticket.number

        async def second(app: HelpdeskApp) -> None:
            url = f"http://127.0.0.1:{settings.http_port}"
            assert (await sr.post(url, "/slack/events", state["reply"], retry_num=1))[0] == 200
            tg.push_update(dict(update))  # Telegram hands out the same update again
            tg.push_update(user.command("status"))
            await tg.wait_for_message(user.id, f"#{state['number']}", 10)
            await outbox_settled(app.sessions)

        state: dict[str, Any] = {}
        await run(first)
        await run(second)
        texts = tg.texts_to(user.id)
        assert sum("/status" in text for text in texts) == 1  # the help text, once
        assert sum("Restart it" in text for text in texts) == 1


# --- /healthz and /metrics ----------------------------------------------------------------------


async def test_healthz_reports_each_dependency_and_metrics_count_what_happened(
    database_url: str, redis_url: str
) -> None:
    user = tg_user(1)
    async with fakes() as (tg, slack), desk_app(tg, slack, database_url, redis_url) as app:
        await app.start()
        url = f"http://127.0.0.1:{app.settings.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
                report = await response.json()
            names = {"database", "telegram", "slack"} | ({"redis"} if redis_url else set())
            assert report == {"ok": True, "checks": {name: {"ok": True} for name in names}}

            assert app.health is not None
            app.health.cache = 0.0
            tg.fail_next("getMe", status=502)
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 503
                report = await response.json()
            assert report["ok"] is False and report["checks"]["slack"] == {"ok": True}
            assert report["checks"]["telegram"]["ok"] is False

            tg.fail_next("sendMessage", status=429, retry_after=1, chat_id=user.id)
            ticket = await app.desk.requesters.file_ticket(
                _ref(user), str(user.id), DRAFT, "file:1"
            )
            assert ticket.number is not None
            tg.push_update(user.text("one more thing"))
            await tg.wait_for_message(user.id, "Added to your request", 5)
            operator = UserRef("slack", BOB, "Bob Example")
            assert isinstance(await app.desk.operators.claim(ticket.number, operator, "c1"), Done)
            await outbox_settled(app.sessions)
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 404  # not where the platforms reach us
            metrics_url = f"http://127.0.0.1:{app.settings.metrics_port}"
            async with http.get(f"{metrics_url}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                metrics = await response.text()
        for line in (
            'helpdesk_messages_total{outcome="sent",platform="telegram"} 3.0',  # filed+added+taken
            'helpdesk_messages_total{outcome="retry",platform="telegram"} 1.0',
            'helpdesk_rate_limited_total{platform="telegram"} 1.0',
            'helpdesk_updates_total{platform="telegram",result="new"} 1.0',
            'helpdesk_open_tickets{status="claimed"} 1.0',
            "helpdesk_outbox_depth 0.0",
            "helpdesk_outbox_oldest_age_seconds 0.0",
            "helpdesk_telegram_poller 1.0",
            'helpdesk_report_tickets_opened{category="printers"} 1.0',
            f'helpdesk_report_operator_tickets{{action="claimed",operator="slack:{BOB}"}} 1.0',
        ):
            assert line in metrics, line
        assert 'helpdesk_delivery_seconds_count{platform="slack"}' in metrics
        for name in ("Bob", "Example", user.first_name, DRAFT.phone):
            assert name not in metrics


async def test_metrics_with_a_token_are_served_only_to_its_bearer(
    database_url: str, redis_url: str
) -> None:
    async with (
        fakes() as (tg, slack),
        desk_app(tg, slack, database_url, redis_url, metrics_token="scrape-me") as app,
    ):
        await app.start()
        url = f"http://127.0.0.1:{app.settings.metrics_port}/metrics"
        async with aiohttp.ClientSession() as http:
            for given in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"}):
                async with http.get(url, headers=given) as response:
                    assert response.status == 401
                    assert "helpdesk_" not in await response.text()
            async with http.get(url, headers={"Authorization": "Bearer scrape-me"}) as response:
                assert response.status == 200
                assert "helpdesk_outbox_depth" in await response.text()


# --- stopping -----------------------------------------------------------------------------------


async def test_a_graceful_stop_delivers_what_it_can_in_the_grace_and_keeps_the_rest(
    database_url: str, redis_url: str
) -> None:
    user = tg_user(1)
    chat = str(user.id)
    async with fakes() as (tg, slack):
        settings = settings_for(
            tg, slack, database_url, redis_url, free_port(), telegram_private_interval=0.2
        )
        app = HelpdeskApp(settings, DeskConfig(), housekeeping_every=3600)
        await upgrade(app.engine)
        for i in range(10):
            await app.desk.requesters.say(_ref(user), chat, Reply(f"message {i}"), f"say:{i}")
        await app.start()
        await tg.wait_for_message(user.id, "message 1", 5)
        stopping = time.monotonic()
        await app.stop(grace=0.5)
        assert time.monotonic() - stopping < 1.5
        delivered = len(tg.texts_to(user.id))
        assert 2 <= delivered < 10

        app = HelpdeskApp(settings, DeskConfig(), housekeeping_every=3600)
        await app.start()
        try:
            await outbox_settled(app.sessions)
        finally:
            await app.stop(grace=1)
    assert tg.texts_to(user.id) == [f"message {i}" for i in range(10)]


async def test_only_one_process_polls_and_another_takes_over_when_it_stops(
    database_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two desks on one database (and Redis): one polls; when it stops, the other does. No
    poller is ever cut off by another's getUpdates (a 409 that reaches a poller is logged;
    the stopped one's abandoned long poll may get one that nobody reads)."""
    user = tg_user(1)
    async with fakes() as (tg, slack):
        apps = []
        for _ in range(2):
            settings = settings_for(tg, slack, database_url, redis_url, free_port())
            apps.append(HelpdeskApp(settings, DeskConfig(), housekeeping_every=3600))
        for app in apps:
            await app.start()
        try:
            await asyncio.sleep(0.3)
            leaders = [app for app in apps if app.poller and app.poller.leader]
            assert len(leaders) == 1
            tg.push_update(user.command("help"))
            await tg.wait_for_message(user.id, "/status", 5)

            await leaders[0].stop(grace=1)
            apps.remove(leaders[0])
            tg.push_update(user.command("status"))
            await tg.wait_for_message(user.id, t("en", "status.none"), 5)
            assert apps[0].poller is not None and apps[0].poller.leader
        finally:
            for app in apps:
                await app.stop(grace=1)
    assert not [r for r in caplog.records if "getUpdates failed" in r.getMessage()]
    texts = tg.texts_to(user.id)
    assert len(texts) == 2 and "/status" in texts[0] and texts[1] == t("en", "status.none")


# --- fairness -----------------------------------------------------------------------------------


async def test_one_chatty_requester_does_not_hold_back_another_users_card(
    database_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """150 messages at ~50/s from one requester into their ticket's thread, with the channel
    paced like Slack (1 post/s): another user's new card goes ahead of the waiting messages,
    which arrive merged into a few posts, in order; the chatty one is asked to slow down once."""
    chatty, other = tg_user(1), tg_user(2)
    async with (
        fakes() as (tg, slack),
        desk_app(tg, slack, database_url, redis_url, slack_channel_interval=1.0) as app,
    ):
        [first] = await file_tickets(app.desk, [chatty], each=1)
        await app.start()
        thread = await recorded_card_ts(app.sessions, first)
        for i in range(150):
            tg.push_update(chatty.text(f"flood message {i:03d}"))
            await asyncio.sleep(0.02)
            if i == 50:
                before_card = len(posts(slack, OPS, thread))
                filed = time.monotonic()
                requesters = app.desk.requesters
                ticket = await requesters.file_ticket(_ref(other), str(other.id), DRAFT, "f:2")
        await slack.wait_for(lambda c: card_numbers(slack)[-1:] == [ticket.number], 30)
        took = time.monotonic() - filed
        relays_before_card = len(posts(slack, OPS, thread)) - before_card

        def flood_arrived() -> bool:
            said = "\n".join(str(c.params["text"]) for c in posts(slack, OPS, thread))
            return "flood message 149" in said

        await until(flood_arrived, within=60)
        said = "\n".join(str(c.params["text"]) for c in posts(slack, OPS, thread))
        thread_posts = len(posts(slack, OPS, thread))
    assert relays_before_card <= 2  # at most what was in flight when the card was queued
    positions = [said.index(f"flood message {i:03d}") for i in range(150)]
    assert positions == sorted(positions)  # every message, in order
    assert thread_posts <= 20  # merged, not 150 posts at 1/s
    slow_down = t("en", "ticket.slow_down", number=first)
    assert tg.texts_to(chatty.id).count(slow_down) == 1
    assert (tg.rate_limited, slack.rate_limited) == (0, 0)
    with capsys.disabled():
        print(
            f"\nflood: another user's card posted {took:.1f}s after filing, "
            f"{relays_before_card} thread posts before it; 150 messages in {thread_posts} posts"
        )
