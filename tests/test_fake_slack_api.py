"""The fake Slack Web API and the signed request builders, proven against the real
slack_sdk AsyncWebClient and a real slack_bolt AsyncApp served by aiohttp."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.standins import slack_requests as sr
from bot.standins.slack_api import FakeSlackAPI

SECRET = sr.SIGNING_SECRET


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as api:
        api.add_user("U1", "alice", "Alice Admin", email="alice@example.com")
        api.add_user("U2", "bob")
        api.add_channel("C1", "it-help", members=["U1", "U2", "U3", "U4", "U5"])
        yield api


@pytest.fixture
def client(fake: FakeSlackAPI) -> AsyncWebClient:
    return AsyncWebClient(token=fake.token, base_url=fake.api_url)


async def _error(coro: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await coro
    return info.value


# ---------------------------------------------------------------------------- Web API


async def test_post_update_thread_and_reactions(fake: FakeSlackAPI, client: AsyncWebClient):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Ticket #1*"}}]
    first = await client.chat_postMessage(channel="C1", text="Ticket #1", blocks=blocks)
    assert first["channel"] == "C1"
    assert first["message"]["bot_id"] == fake.bot_id
    reply = await client.chat_postMessage(channel="C1", text="on it", thread_ts=first["ts"])
    assert float(reply["ts"]) > float(first["ts"])

    await client.chat_update(channel="C1", ts=first["ts"], text="Ticket #1 (claimed)")
    await client.reactions_add(channel="C1", name="eyes", timestamp=first["ts"])
    err = await _error(client.reactions_add(channel="C1", name="eyes", timestamp=first["ts"]))
    assert err.response["error"] == "already_reacted"

    [parent, child] = fake.messages("C1")
    assert parent["text"] == "Ticket #1 (claimed)"
    assert parent["blocks"] == blocks  # omitted blocks are kept by chat.update
    assert parent["edited"]["user"] == fake.bot_user_id
    assert parent["reply_count"] == 1 and parent["latest_reply"] == reply["ts"]
    assert parent["reactions"] == [{"name": "eyes", "users": ["UBOT"], "count": 1}]
    assert [m["text"] for m in fake.messages("C1", thread_ts=first["ts"])] == ["on it"]
    assert child["thread_ts"] == first["ts"]

    post = fake.calls_of("chat.postMessage")[0]
    assert post.params["blocks"] == blocks and post.ok and post.status == 200
    replies = await client.conversations_replies(channel="C1", ts=first["ts"])
    assert [m["ts"] for m in replies["messages"]] == [first["ts"], reply["ts"]]
    link = await client.chat_getPermalink(channel="C1", message_ts=reply["ts"])
    assert link["permalink"].endswith(f"?thread_ts={first['ts']}&cid=C1")

    await client.chat_delete(channel="C1", ts=reply["ts"])
    assert [m["ts"] for m in fake.messages("C1")] == [first["ts"]]
    err = await _error(client.chat_update(channel="C1", ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"


async def test_channel_errors(fake: FakeSlackAPI, client: AsyncWebClient):
    fake.add_channel("C2", "old", is_archived=True)
    fake.add_channel("C3", "private-ops", bot_is_member=False)
    for channel, error in [
        ("C2", "is_archived"),
        ("C404", "channel_not_found"),
        ("C3", "not_in_channel"),
    ]:
        err = await _error(client.chat_postMessage(channel=channel, text="hi"))
        assert err.response["error"] == error
        assert err.response.status_code == 200
    with pytest.warns(UserWarning, match="top-level `text`"):
        err = await _error(client.chat_postMessage(channel="C1"))
    assert err.response["error"] == "no_text"
    by_name = await client.chat_postMessage(channel="#it-help", text="by name")
    assert by_name["channel"] == "C1"
    seeded = fake.add_message("C1", "printer on fire", user="U1")
    err = await _error(client.chat_update(channel="C1", ts=seeded, text="edited"))
    assert err.response["error"] == "cant_update_message"


async def test_auth_and_unknown_method(fake: FakeSlackAPI):
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    err = await _error(bad.auth_test())
    assert err.response["error"] == "invalid_auth"
    good = AsyncWebClient(token=fake.token, base_url=fake.api_url)
    err = await _error(good.api_call("chat.teleport"))
    assert err.response["error"] == "unknown_method"
    auth = await good.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "B0001", "T0001")


async def test_form_encoded_json_string_fields_are_decoded(fake: FakeSlackAPI):
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "hi"}}]
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            fake.api_url + "chat.postMessage",
            data={"token": fake.token, "channel": "C1", "blocks": json.dumps(blocks)},
        )
        body = await resp.json()
    assert body["ok"] is True
    assert fake.messages("C1")[0]["blocks"] == blocks


async def test_views_and_home(fake: FakeSlackAPI, client: AsyncWebClient):
    view = {
        "type": "modal",
        "callback_id": "new_ticket",
        "title": {"type": "plain_text", "text": "New ticket"},
        "submit": {"type": "plain_text", "text": "Create"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "title_input"},
            }
        ],
        "private_metadata": "C1",
    }
    opened = await client.views_open(trigger_id="123.456.abc", view=view)
    assert fake.views_opened[0]["callback_id"] == "new_ticket"
    assert fake.views_opened[0]["id"] == opened["view"]["id"]
    err = await _error(client.views_open(trigger_id="123.456.abc", view=view))
    assert err.response["error"] == "exchanged_trigger_id"
    err = await _error(client.views_open(trigger_id="", view=view))
    assert err.response["error"] == "invalid_arguments"
    long_title = {**view, "title": {"type": "plain_text", "text": "x" * 25}}
    err = await _error(client.views_open(trigger_id="t-2", view=long_title))
    assert err.response["error"] == "invalid_arguments"

    updated = await client.views_update(
        view_id=opened["view"]["id"], hash=opened["view"]["hash"], view=view
    )
    assert updated["view"]["id"] == opened["view"]["id"]
    err = await _error(client.views_update(view_id=opened["view"]["id"], hash="stale", view=view))
    assert err.response["error"] == "hash_conflict"

    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    await client.views_publish(user_id="U1", view=home)
    assert fake.home_views["U1"]["blocks"] == home["blocks"]


async def test_members_pagination_and_directory(fake: FakeSlackAPI, client: AsyncWebClient):
    # slack_sdk mutates one response object while paging: read each page inside the loop
    response = await client.conversations_members(channel="C1", limit=2)
    pages = [page["members"] async for page in response]
    assert pages == [["U1", "U2"], ["U3", "U4"], ["U5"]]
    assert len(fake.calls_of("conversations.members")) == 3

    fake.add_usergroup("S1", "it-l2", ["U1", "U2"])
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    user = (await client.users_info(user="U1"))["user"]
    assert user["real_name"] == "Alice Admin" and user["profile"]["email"] == "alice@example.com"
    err = await _error(client.users_info(user="U999"))
    assert err.response["error"] == "user_not_found"

    dm1 = await client.conversations_open(users="U1")
    dm2 = await client.conversations_open(users=["U1"])
    assert dm1["channel"]["id"] == dm2["channel"]["id"] == fake.dm_channel_id("U1") == "D1"
    sent = await client.chat_postMessage(channel="U1", text="your ticket")
    assert sent["channel"] == "D1" and fake.messages("D1")[0]["text"] == "your ticket"
    info = await client.conversations_info(channel="C1")
    assert info["channel"]["name"] == "it-help" and info["channel"]["is_archived"] is False


async def test_ephemeral_response_url_and_upload(fake: FakeSlackAPI, client: AsyncWebClient):
    await client.chat_postEphemeral(channel="C1", user="U2", text="only you")
    assert [e["text"] for e in fake.ephemerals(user="U2")] == ["only you"]
    err = await _error(client.chat_postEphemeral(channel="C1", user="UBOT", text="x"))
    assert err.response["error"] == "user_not_in_channel"

    ts = (await client.chat_postMessage(channel="C1", text="Claim?"))["ts"]
    url = fake.new_response_url(channel="C1", message_ts=ts, user="U1")
    result = await AsyncWebhookClient(url).send(text="Claimed by Alice", replace_original=True)
    assert result.status_code == 200 and result.body == "ok"
    assert fake.responses[0].body["text"] == "Claimed by Alice"
    assert fake.message("C1", ts)["text"] == "Claimed by Alice"

    upload = await client.files_upload_v2(
        channel="C1", content="log line", filename="log.txt", initial_comment="logs"
    )
    assert upload["file"]["name"] == "log.txt"
    assert fake.files[upload["file"]["id"]].content == b"log line"
    assert fake.messages("C1")[-1]["files"][0]["id"] == upload["file"]["id"]


async def test_rate_limit_fault_surfaces_as_429(fake: FakeSlackAPI, client: AsyncWebClient):
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    err = await _error(client.chat_postMessage(channel="C1", text="hi"))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "7"
    assert fake.calls_of("chat.postMessage")[0].fault == "fail"
    # consumed: the next call goes through
    await client.chat_postMessage(channel="C1", text="hi")

    fake.fail_next("chat.postMessage", error="is_archived", channel="C9")
    await client.chat_postMessage(channel="C1", text="other channel unaffected")
    fake.fail_next("users.info", status=500)
    err = await _error(client.users_info(user="U1"))
    assert err.response.status_code == 500


async def test_enforced_post_limit_per_channel():
    async with FakeSlackAPI(enforce_limits=True, post_interval=0.4) as fake:
        fake.add_channel("C1", "a")
        fake.add_channel("C2", "b")
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C2", text="other channel is fine")
        err = await _error(client.chat_postMessage(channel="C1", text="2"))
        assert err.response.status_code == 429
        assert err.response.headers["Retry-After"] == "1"
        assert fake.rate_limited == 1
        await asyncio.sleep(0.4)
        await client.chat_postMessage(channel="C1", text="3")
        assert [m["text"] for m in fake.messages("C1")] == ["1", "3"]


async def test_drop_and_delay(fake: FakeSlackAPI):
    no_retry = AsyncWebClient(token=fake.token, base_url=fake.api_url, retry_handlers=[])
    fake.drop_next("auth.test")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await no_retry.auth_test()
    # slack_sdk's default connection-error handler retries a dropped connection once
    # (here with a short interval to keep the test fast)
    fake.drop_next("auth.test")
    fast_retry = AsyncConnectionErrorRetryHandler(
        interval_calculator=FixedValueRetryIntervalCalculator(0.01)
    )
    retried = AsyncWebClient(token=fake.token, base_url=fake.api_url, retry_handlers=[fast_retry])
    assert (await retried.auth_test())["ok"]
    assert [c.fault for c in fake.calls_of("auth.test")] == ["drop", "drop", None]

    fake.delay_next("auth.test", 0.2)
    started = time.monotonic()
    await retried.auth_test()
    assert time.monotonic() - started >= 0.2
    assert fake.calls_of("auth.test")[-1].delayed == 0.2


async def test_during_next_changes_the_world_before_the_call_is_answered(
    fake: FakeSlackAPI, client: AsyncWebClient
):
    async def meanwhile() -> None:
        await client.chat_postMessage(channel="C1", text="meanwhile")

    fake.during_next("chat.postMessage", meanwhile, channel="C1")
    first = await client.chat_postMessage(channel="C1", text="first")
    assert [m["text"] for m in fake.messages("C1")] == ["meanwhile", "first"]
    assert fake.message("C1", first["ts"]) is not None


async def test_wait_for_times_out_with_readable_dump(fake: FakeSlackAPI, client: AsyncWebClient):
    await client.chat_postMessage(channel="C1", text="hello")
    found = await fake.wait_for(lambda c: c.method == "chat.postMessage", timeout=0.5)
    assert found.params["text"] == "hello"
    with pytest.raises(AssertionError) as info:
        await fake.wait_for("views.open", timeout=0.1)
    assert "chat.postMessage" in str(info.value) and "timed out" in str(info.value)


# ---------------------------------------------------------------------------- signed requests


def test_signature_matches_slack_sdk_verifier():
    req = sr.event_callback({"type": "app_mention", "text": "<@UBOT> help"})
    verifier = SignatureVerifier(SECRET)
    headers = req.headers(SECRET)
    assert verifier.is_valid_request(req.body, headers)
    assert not verifier.is_valid_request(req.body, req.headers(SECRET, forged=True))
    assert not verifier.is_valid_request(req.body, req.headers(SECRET, stale=True))
    assert headers["Content-Type"] == "application/json"
    with_retry = req.headers(SECRET, retry_num=1)
    assert with_retry["X-Slack-Retry-Num"] == "1"
    assert with_retry["X-Slack-Retry-Reason"] == "http_timeout"
    assert req.payload["event_id"] != sr.event_callback({"type": "x"}).payload["event_id"]


@dataclass
class BoltHarness:
    url: str
    app: AsyncApp
    seen: list[dict[str, Any]]


@pytest.fixture
async def bolt(fake: FakeSlackAPI) -> AsyncIterator[BoltHarness]:
    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=fake.token, base_url=fake.api_url),
    )
    seen: list[dict[str, Any]] = []

    @app.action("ticket_claim")
    async def claim(ack, body, client):  # type: ignore[no-untyped-def]
        await ack()
        seen.append(body)
        await client.chat_postEphemeral(
            channel=body["channel"]["id"],
            user=body["user"]["id"],
            text=f"You claimed ticket {body['actions'][0]['value']}",
        )

    @app.command("/ticket")
    async def ticket(ack, respond, command):  # type: ignore[no-untyped-def]
        await ack()
        await respond(f"Created ticket: {command['text']}")

    @app.view("new_ticket")
    async def submitted(ack, view):  # type: ignore[no-untyped-def]
        seen.append(view)
        await ack()

    @app.event("app_home_opened")
    async def home(event, client):  # type: ignore[no-untyped-def]
        view = {
            "type": "home",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "My tickets"}}],
        }
        await client.views_publish(user_id=event["user"], view=view)

    @app.event("message")
    async def on_message(event, say):  # type: ignore[no-untyped-def]
        await say(text=f"echo: {event['text']}", thread_ts=event["ts"])

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield BoltHarness(f"http://{host}:{port}", app, seen)
    finally:
        await runner.cleanup()


async def test_bolt_block_actions_roundtrip(fake: FakeSlackAPI, bolt: BoltHarness):
    req = sr.block_actions("U1", "ticket_claim", "42", channel="C1", message_ts="1700000000.000100")
    status, _ = await sr.post(bolt.url, "/slack/events", req, SECRET)
    assert status == 200
    call = await fake.wait_for("chat.postEphemeral", timeout=2)
    assert call.params["user"] == "U1" and call.params["channel"] == "C1"
    assert fake.ephemerals("U1")[0]["text"] == "You claimed ticket 42"
    assert bolt.seen[0]["container"]["message_ts"] == "1700000000.000100"

    # bolt resolved the bot identity lazily through the fake's auth.test, once
    since = len(fake.calls)
    await sr.post(bolt.url, "/slack/events", req, SECRET, retry_num=1)
    await fake.wait_for(lambda c: c.method == "chat.postEphemeral", since=since)
    assert len(fake.calls_of("auth.test")) == 1


async def test_bolt_rejects_forged_and_stale(fake: FakeSlackAPI, bolt: BoltHarness):
    req = sr.block_actions("U1", "ticket_claim", "42", channel="C1", message_ts="1.2")
    assert (await sr.post(bolt.url, "/slack/events", req, SECRET, forged=True))[0] == 401
    assert (await sr.post(bolt.url, "/slack/events", req, SECRET, stale=True))[0] == 401
    assert (await sr.post(bolt.url, "/slack/events", req, "wrong-secret"))[0] == 401
    assert fake.calls == []


async def test_bolt_command_view_event_and_handshake(fake: FakeSlackAPI, bolt: BoltHarness):
    async with aiohttp.ClientSession() as session:
        challenge = sr.url_verification("abc123")
        status, text = await sr.post(session, bolt.url + "/slack/events", challenge, SECRET)
        assert (status, json.loads(text)) == (200, {"challenge": "abc123"})

        url = fake.new_response_url(channel="C1", user="U1")
        cmd = sr.slash_command("/ticket", "VPN down", "U1", "C1", response_url=url)
        assert (await sr.post(session, bolt.url + "/slack/events", cmd, SECRET))[0] == 200
        await fake.wait_for("response_url", timeout=2)
        assert fake.responses[0].body["text"] == "Created ticket: VPN down"
        assert fake.ephemerals("U1")[0]["via"] == "response_url"

        sub = sr.view_submission("U1", "new_ticket", "C1", {"title": {"title_input": "Printer"}})
        assert (await sr.post(session, bolt.url + "/slack/events", sub, SECRET))[0] == 200
        assert bolt.seen[-1]["state"]["values"]["title"]["title_input"]["value"] == "Printer"

        msg = sr.message_event("C1", "U1", "help me", ts="1700000500.000100")
        assert (await sr.post(session, bolt.url + "/slack/events", msg, SECRET))[0] == 200
        await fake.wait_for("chat.postMessage", timeout=2)
        [reply] = fake.messages("C1", thread_ts="1700000500.000100")
        assert reply["text"] == "echo: help me"

        fake.add_message(**msg.payload["event"])  # the fake now knows the user's message too
        [parent] = (
            await bolt.app.client.conversations_replies(channel="C1", ts=reply["thread_ts"])
        )["messages"][:1]
        assert parent["user"] == "U1" and parent["reply_count"] == 1

        home = sr.app_home_opened("U2")
        assert (await sr.post(session, bolt.url + "/slack/events", home, SECRET))[0] == 200
        await fake.wait_for("views.publish", timeout=2)
        assert fake.home_views["U2"]["blocks"][0]["text"]["text"] == "My tickets"


def _section(**content: Any) -> dict[str, Any]:
    return {"type": "section", **content}


def _button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, **extra}


OVER_THE_LIMIT = {
    "section text": _section(text={"type": "mrkdwn", "text": "x" * 3001}),
    "section field": _section(fields=[{"type": "mrkdwn", "text": "x" * 2001}]),
    "eleven fields": _section(fields=[{"type": "mrkdwn", "text": "x"}] * 11),
    "header": {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}},
    "button text": {"type": "actions", "elements": [_button("x" * 76)]},
    "button value": {"type": "actions", "elements": [_button(value="x" * 2001)]},
    "action id": {"type": "actions", "elements": [_button(action_id="x" * 256)]},
    "26 buttons": {"type": "actions", "elements": [_button()] * 26},
    "context text": {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]},
    "11 context elements": {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11},
    "accessory button": _section(text={"type": "mrkdwn", "text": "x"}, accessory=_button("x" * 76)),
}


@pytest.mark.parametrize("block", list(OVER_THE_LIMIT.values()), ids=list(OVER_THE_LIMIT))
async def test_blocks_over_slacks_documented_limits_are_invalid(
    client: AsyncWebClient, block: dict[str, Any]
) -> None:
    err = await _error(client.chat_postMessage(channel="C1", text="t", blocks=[block]))
    assert err.response["error"] == "invalid_blocks"
    assert "json-pointer:/blocks/0" in str(err.response["response_metadata"])


async def test_blocks_at_slacks_documented_limits_are_accepted(client: AsyncWebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 150}},
        _section(fields=[{"type": "mrkdwn", "text": "x" * 2000}] * 10),
        _section(text={"type": "mrkdwn", "text": "x" * 3000}),
        {"type": "actions", "elements": [_button("x" * 75, value="v" * 2000)] * 25},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3000}] * 10},
    ]
    assert (await client.chat_postMessage(channel="C1", text="t", blocks=blocks))["ok"]
