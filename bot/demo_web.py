"""The page of ``helpdesk demo``: one HTML page, live state over server-sent events, and the
moves a person makes, posted where the platforms would post them: a requester's message or
button press becomes an update in the stand-in Telegram (the desk's poller picks it up), an
operator's click, modal submission, thread reply or ``/helpdesk`` command becomes a signed
request to the desk's Slack endpoint, exactly like Slack sends them.

Moves only name what a person did (who, which button on which message, what text); the page
cannot make the desk do anything a person in the chats could not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web

from bot.demo_view import snapshot
from bot.demo_world import World
from bot.slack import COMMAND, EVENTS_PATH
from bot.standins import slack_requests as sr
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI

log = logging.getLogger(__name__)

PAGE_FILES = {
    "index.html": "text/html",
    "demo.js": "text/javascript",
    "demo.css": "text/css",
}
MAX_IMAGE = 5 * 1024 * 1024
MAX_TEXT = 5000
KEEPALIVE = 15.0
SETTLE = 0.05  # seconds to gather a burst of changes into one snapshot

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadMove(Exception):
    """A move the page asked for that no person could make; answered 400 with the reason."""


class Changes:
    """Wakes the page's event streams whenever a stand-in saw a request or a person moved."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 - a keep-alive tick
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)

    async def follow(self, changed: Callable[[], Awaitable[None]]) -> None:
        """Notify on every change a stand-in reports, until cancelled."""
        while True:
            await changed()
            self.notify()


class DemoPage:
    """The page's HTTP server next to the running desk."""

    def __init__(
        self,
        world: World,
        telegram: FakeTelegramAPI,
        slack: FakeSlackAPI,
        desk_url: str,
    ) -> None:
        self.world = world
        self.telegram = telegram
        self.slack = slack
        self.desk_url = desk_url
        self.changes = Changes()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._followers: list[asyncio.Task[None]] = []

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_IMAGE * 2)
        app.router.add_get("/", self._page)
        app.router.add_get("/page/{name}", self._page_file)
        app.router.add_get("/state", self._state)
        app.router.add_get("/events", self._events)
        app.router.add_get("/files/telegram/{file_id}", self._telegram_file)
        app.router.add_get("/files/slack/{file_id}", self._slack_file)
        app.router.add_post("/telegram", _move(self._telegram_move))
        app.router.add_post("/slack/click", _move(self._slack_click))
        app.router.add_post("/slack/submit", _move(self._slack_submit))
        app.router.add_post("/slack/reply", _move(self._slack_reply))
        app.router.add_post("/slack/command", _move(self._slack_command))
        return app

    async def start(self, host: str, port: int) -> None:
        self._session = aiohttp.ClientSession()
        self._followers = [
            asyncio.create_task(self.changes.follow(self.telegram.changed), name="demo-telegram"),
            asyncio.create_task(self.changes.follow(self.slack.changed), name="demo-slack"),
        ]
        self._runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        for task in self._followers:
            task.cancel()
        for task in self._followers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # --- reading --------------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return _page_file("index.html")

    async def _page_file(self, request: web.Request) -> web.StreamResponse:
        return _page_file(request.match_info["name"])

    def _snapshot(self) -> str:
        return json.dumps(snapshot(self.world, self.telegram, self.slack), ensure_ascii=False)

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=self._snapshot(), content_type="application/json")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the whole state whenever it changed (it is small)."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        sent = ""
        try:
            while True:
                state = self._snapshot()
                if state != sent:
                    await response.write(f"data: {state}\n\n".encode())
                    sent = state
                else:
                    await response.write(b": still here\n\n")
                await self.changes.wait(KEEPALIVE)
                await asyncio.sleep(SETTLE)
        except ConnectionResetError:  # the page was closed
            pass
        return response

    async def _telegram_file(self, request: web.Request) -> web.StreamResponse:
        stored = self.telegram.files().get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        return web.Response(body=stored.content, content_type=_image_type(stored.content))

    async def _slack_file(self, request: web.Request) -> web.StreamResponse:
        stored = self.slack.files.get(request.match_info["file_id"])
        if stored is None or stored.content is None:
            raise web.HTTPNotFound()
        return web.Response(body=stored.content, content_type=_image_type(stored.content))

    # --- a requester in Telegram ----------------------------------------------------------------

    async def _telegram_move(self, move: dict[str, Any]) -> dict[str, Any]:
        """``kind``: text, press (a button under a message), contact (share own phone), photo."""
        requester = self.world.requester(_int(move.get("requester")))
        if requester is None:
            raise BadMove("unknown requester")
        user = requester.user
        kind = move.get("kind")
        if kind == "text":
            update = user.text(_text(move, "text"))
        elif kind == "press":
            message_id = _int(move.get("message_id"))
            if self.telegram.message(user.id, message_id) is None:
                raise BadMove("no such message in this chat")
            update = user.press(_text(move, "data"), message_id)
        elif kind == "contact":
            update = user.contact(requester.phone)
        elif kind == "photo":
            caption = str(move.get("caption") or "")[:1024] or None
            update = user.photo(caption=caption, content=_image(move.get("image")))
        else:
            raise BadMove("unknown kind of move")
        self.telegram.push_update(update)
        self.changes.notify()
        return {}

    # --- people in Slack ------------------------------------------------------------------------

    def _person(self, move: dict[str, Any]) -> str:
        person = self.world.person(str(move.get("user") or ""))
        if person is None:
            raise BadMove("unknown person")
        return person.id

    def _channel(self, move: dict[str, Any]) -> str:
        channel = self.world.channel(str(move.get("channel") or ""))
        if channel is None:
            raise BadMove("unknown channel")
        return channel.id

    async def _slack_click(self, move: dict[str, Any]) -> dict[str, Any]:
        """A button on a message, as the person saw it (their view may be stale, like a Slack
        client's: the desk decides). Answers the modal the desk opened, if it opened one."""
        user, channel = self._person(move), self._channel(move)
        ts = str(move.get("ts") or "")
        message = self.slack.message(channel, ts)
        if message is None:
            raise BadMove("no such message")
        trigger = sr.new_trigger_id()
        request = sr.block_actions(
            user,
            _text(move, "action_id"),
            str(move.get("value") or ""),
            channel=channel,
            message_ts=ts,
            message=message,
            label=str(move.get("label") or ""),
            trigger_id=trigger,
            response_url=self.slack.new_response_url(channel=channel, message_ts=ts, user=user),
        )
        await self._to_desk(request)
        return {"view": self._view_opened(trigger)}

    def _view_opened(self, trigger: str) -> dict[str, Any] | None:
        for call in reversed(self.slack.calls_of("views.open")):
            if call.params.get("trigger_id") == trigger and call.ok and call.response:
                return call.response["view"]
        return None

    async def _slack_submit(self, move: dict[str, Any]) -> dict[str, Any]:
        """A modal's Submit: the values the person entered, keyed like Slack's view state.
        Answers the errors the desk returned (the modal stays open), or none."""
        user = self._person(move)
        view = self.slack.views.get(str(move.get("view_id") or ""))
        if view is None:
            raise BadMove("no such dialog")
        values = move.get("values") if isinstance(move.get("values"), dict) else {}
        state = {
            block["block_id"]: {
                block["element"]["action_id"]: _state(
                    block["element"], values.get(block["block_id"])
                )
            }
            for block in view["blocks"]
            if block.get("type") == "input"
        }
        request = sr.view_submission(
            user,
            view["callback_id"],
            view["private_metadata"],
            state,
            view_id=view["id"],
            title=(view.get("title") or {}).get("text", ""),
            blocks=view["blocks"],
        )
        body = await self._to_desk(request)
        answer = json.loads(body) if body.strip().startswith("{") else {}
        return {"errors": answer.get("errors") or {}}

    async def _slack_reply(self, move: dict[str, Any]) -> dict[str, Any]:
        """A message in a card's thread: it appears in the channel, and Slack sends the event.
        Like Slack, only the channel's members can post in it."""
        user, channel = self._person(move), self._channel(move)
        thread = str(move.get("thread_ts") or "")
        if self.slack.message(channel, thread) is None:
            raise BadMove("no such thread")
        if user not in (self.slack.channels[channel].members or []):
            raise BadMove("only the channel's members can write in it")
        request = sr.message_event(channel, user, _text(move, "text"), thread_ts=thread)
        self.slack.add_message(**request.payload["event"])
        self.changes.notify()
        await self._to_desk(request)
        return {}

    async def _slack_command(self, move: dict[str, Any]) -> dict[str, Any]:
        """``/helpdesk <text>`` typed in the operators' channel; the answer is an ephemeral."""
        user, channel = self._person(move), self.world.operators.id
        request = sr.slash_command(
            COMMAND,
            _text(move, "text", allow_empty=True),
            user=user,
            channel=channel,
            response_url=self.slack.new_response_url(channel=channel, user=user),
        )
        await self._to_desk(request)
        return {}

    async def _to_desk(self, request: sr.SlackRequest) -> str:
        assert self._session is not None
        status, body = await sr.post(self._session, f"{self.desk_url}{EVENTS_PATH}", request)
        if status != 200:
            log.warning("the desk answered %s to a %s: %s", status, request.kind, body[:200])
        self.changes.notify()
        return body


def _move(handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
    """A JSON POST (a plain form from another site cannot make one) -> JSON answer."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return web.json_response({"error": "send JSON"}, status=415)
        try:
            move = await request.json()
            if not isinstance(move, dict):
                raise BadMove("send a JSON object")
            return web.json_response(await handle(move))
        except (BadMove, ValueError) as refusal:
            return web.json_response({"error": str(refusal)}, status=400)

    return endpoint


def _page_file(name: str) -> web.Response:
    if name not in PAGE_FILES:
        raise web.HTTPNotFound()
    body = resources.files("bot").joinpath("demo_page", name).read_bytes()
    return web.Response(
        body=body,
        content_type=PAGE_FILES[name],
        charset="utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadMove(f"not a number: {value!r}") from None


def _text(move: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    text = move.get(key)
    if not isinstance(text, str) or not (text.strip() or allow_empty):
        raise BadMove(f"{key} is empty")
    if len(text) > MAX_TEXT:
        raise BadMove(f"{key} is longer than {MAX_TEXT} characters")
    return text


def _image(data: Any) -> bytes:
    """A base64 image from the page, within the size limit."""
    try:
        content = base64.b64decode(str(data or ""), validate=True)
    except (binascii.Error, ValueError):
        raise BadMove("the image is not base64") from None
    if not content or len(content) > MAX_IMAGE:
        raise BadMove(f"the image must be between 1 byte and {MAX_IMAGE // 1024 // 1024} MB")
    if _image_type(content) == "application/octet-stream":
        raise BadMove("only PNG, JPEG, GIF or WebP images")
    return content


_IMAGE_MAGIC = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"RIFF": "image/webp",
}


def _image_type(content: bytes) -> str:
    return next(
        (kind for magic, kind in _IMAGE_MAGIC.items() if content.startswith(magic)),
        "application/octet-stream",
    )


def _state(element: dict[str, Any], given: Any) -> dict[str, Any]:
    """Slack's view state of one input element from what the person entered."""
    value = str(given) if given is not None else None
    if element.get("type") == "static_select":
        options = {o["value"]: o["text"]["text"] for o in element.get("options", [])}
        chosen = value if value in options else None
        return sr.static_select_value(chosen, options.get(chosen or ""))
    return sr.plain_text_value(value)
