"""A small but faithful fake of the Slack Web API, served over real HTTP by aiohttp.

Point a real ``slack_sdk.web.async_client.AsyncWebClient`` at it with
``AsyncWebClient(token=fake.token, base_url=fake.api_url)`` (and hand that client to a real
``slack_bolt.async_app.AsyncApp``).  The fake keeps a small world model (users, channels,
user groups, DMs, messages, reactions, views, ephemerals, response_url posts, file uploads),
records every call, and supports fault injection (``fail_next``/``drop_next``/``delay_next``,
and ``during_next``: the world changes while a call is in flight) and optional
chat.postMessage rate-limit enforcement.

Wire facts this fake relies on (slack_sdk 3.x):

* Most methods arrive as ``POST`` with the arguments in the *query string* (``params=``) and
  an empty form body; ``chat.postMessage``/``chat.update``/``chat.postEphemeral``/``views.*``
  arrive as JSON bodies; read methods (``users.info``, ``conversations.members``,
  ``conversations.replies``, ``chat.getPermalink``, ``usergroups.users.list``...) arrive as
  ``GET`` with a query string.  Query string, form body and JSON body are therefore merged.
* The token travels in ``Authorization: Bearer ...``; a ``token`` argument is also accepted.
* Clients built by slack_bolt add ``team_id`` to every call's arguments.
* slack_sdk's default retry handler transparently retries *once* after a dropped connection,
  so ``drop_next(method)`` with ``times=1`` is normally invisible to the caller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import math
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

JSONDict = dict[str, Any]

#: Arguments that slack_sdk (or form-encoded callers) may send as JSON-encoded strings.
_JSON_STRING_FIELDS = frozenset(
    {"blocks", "attachments", "view", "metadata", "files", "unfurls", "outputs", "state"}
)

_TS_BASE = 1_700_000_000


@dataclass
class Call:
    """One request received by the fake (API method call or response_url post).

    ``time`` is ``time.monotonic()`` at arrival.  ``response``/``status`` are filled in when the
    request completes; ``fault`` names the injected fault that handled it, if any
    (``"fail"``, ``"drop"``, ``"ratelimited"``), and ``delayed`` is the injected delay in seconds.
    """

    method: str
    params: JSONDict
    time: float
    http_method: str = "POST"
    token: str | None = None
    status: int | None = None
    response: JSONDict | None = None
    fault: str | None = None
    delayed: float = 0.0
    done: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")

    def summary(self, width: int = 240) -> str:
        params = json.dumps(self.params, default=str, ensure_ascii=False)
        if len(params) > width:
            params = params[: width - 3] + "..."
        outcome = "pending"
        if self.done:
            outcome = f"status={self.status} " + ("ok" if self.ok else f"error={self.error!r}")
        extra = f" fault={self.fault}" if self.fault else ""
        extra += f" delayed={self.delayed}s" if self.delayed else ""
        return f"{self.http_method} {self.method} {outcome}{extra} params={params}"


@dataclass
class FakeUser:
    id: str
    name: str
    real_name: str | None = None
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None
    display_name: str = ""
    tz: str = "Europe/London"
    is_admin: bool = False
    bot_id: str | None = None
    extra: JSONDict = field(default_factory=dict)

    def to_api(self, team_id: str) -> JSONDict:
        real_name = self.real_name if self.real_name is not None else self.name
        profile: JSONDict = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "team": team_id,
            "image_72": f"https://avatars.example/{self.id}_72.png",
        }
        if self.email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        data: JSONDict = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": real_name,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": 0,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": _TS_BASE,
        }
        data.update(self.extra)
        return data


@dataclass
class FakeChannel:
    """A conversation.  ``members=None`` means membership is not modelled (anyone may be
    addressed with chat.postEphemeral); ``bot_is_member=False`` makes bot posts fail with
    ``not_in_channel``."""

    id: str
    name: str
    members: list[str] | None = None
    is_archived: bool = False
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    user: str | None = None
    bot_is_member: bool = True
    topic: str = ""
    purpose: str = ""
    created: int = _TS_BASE

    def to_api(self) -> JSONDict:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_mpim,
            "is_group": self.is_private and not self.is_mpim,
            "is_im": False,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private or self.is_mpim,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_is_member,
            "created": self.created,
            "creator": "",
            "unlinked": 0,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
            "num_members": len(self.members or []),
        }


@dataclass
class FakeUsergroup:
    id: str
    handle: str
    users: list[str]
    name: str = ""
    disabled: bool = False


@dataclass
class ResponsePost:
    """A JSON body POSTed to a URL minted by :meth:`FakeSlackAPI.new_response_url`."""

    id: str
    url: str
    body: JSONDict
    time: float
    channel: str | None = None
    user: str | None = None
    message_ts: str | None = None


@dataclass
class FakeFile:
    id: str
    filename: str
    length: int
    title: str | None = None
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    thread_ts: str | None = None
    initial_comment: str | None = None


@dataclass
class _ResponseTarget:
    channel: str | None
    user: str | None
    message_ts: str | None


@dataclass
class _Fault:
    kind: str  # "fail" | "drop" | "delay" | "during"
    method: str  # exact method name, or "*"
    times: int
    channel: str | None = None
    error: str | None = None
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0
    action: Callable[[], Awaitable[None]] | None = None

    def matches(self, method: str, params: JSONDict) -> bool:
        if self.times <= 0 or self.method not in (method, "*"):
            return False
        if self.channel is None:
            return True
        return self.channel in (params.get("channel"), params.get("channel_id"))


class SlackApiFailure(Exception):
    """Raised by method implementations to produce ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


def _invalid_arguments(*messages: str) -> SlackApiFailure:
    return SlackApiFailure(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] {m}" for m in messages]},
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, raw = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if kind != "offset":
            raise ValueError(cursor)
        return int(raw)
    except ValueError as exc:
        raise SlackApiFailure("invalid_cursor") from exc


def _paginate(
    items: list[Any], params: JSONDict, *, default_limit: int = 100, max_limit: int = 1000
) -> tuple[list[Any], str]:
    """Cursor pagination like Slack's: returns (page, next_cursor) where "" means done."""
    cursor = str(params.get("cursor") or "")
    offset = _decode_cursor(cursor) if cursor else 0
    try:
        limit = int(params.get("limit") or default_limit)
    except (TypeError, ValueError) as exc:
        raise _invalid_arguments("limit must be an integer") from exc
    limit = max(1, min(limit, max_limit))
    page = items[offset : offset + limit]
    next_offset = offset + limit
    return page, (_encode_cursor(next_offset) if next_offset < len(items) else "")


def _text_len(obj: Any) -> int:
    if isinstance(obj, dict):
        return len(str(obj.get("text", "")))
    return 0


# Block Kit's documented limits (docs.slack.dev/reference/block-kit): characters of a block's or
# element's text, and how many items a list may hold.
_TEXT_LIMITS = {"section": 3000, "header": 150, "context": 3000}
_ELEMENT_LIMITS = {"actions": 25, "context": 10}
_BUTTON_LIMITS = {"action_id": 255, "value": 2000, "url": 3000}


def _validate_element(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{where}]"]
    problems = []
    if element.get("type") == "button" and _text_len(element.get("text")) > 75:
        problems.append(f"must be less than 76 characters [json-pointer:{where}/text/text]")
    elif element.get("type") in ("mrkdwn", "plain_text") and _text_len(element) > 3000:
        problems.append(f"must be less than 3001 characters [json-pointer:{where}/text]")
    for key, limit in _BUTTON_LIMITS.items():
        if len(str(element.get(key, ""))) > limit:
            problems.append(
                f"must be less than {limit + 1} characters [json-pointer:{where}/{key}]"
            )
    return problems


def _validate_block(block: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if len(str(block.get("block_id", ""))) > 255:
        problems.append(f"must be less than 256 characters [json-pointer:{where}/block_id]")
    btype = block["type"]
    limit = _TEXT_LIMITS.get(btype)
    if limit is not None and _text_len(block.get("text")) > limit:
        problems.append(
            f"must be less than {limit + 1} characters [json-pointer:{where}/text/text]"
        )
    fields = block.get("fields") or []
    if len(fields) > 10:
        problems.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
    for j, text in enumerate(fields):
        if _text_len(text) > 2000:
            problems.append(
                f"must be less than 2001 characters [json-pointer:{where}/fields/{j}/text]"
            )
    elements = block.get("elements") or []
    most = _ELEMENT_LIMITS.get(btype)
    if most is not None and len(elements) > most:
        problems.append(f"no more than {most} items allowed [json-pointer:{where}/elements]")
    if most is not None:
        for j, element in enumerate(elements):
            problems += _validate_element(element, f"{where}/elements/{j}")
    if isinstance(block.get("accessory"), dict):
        problems += _validate_element(block["accessory"], f"{where}/accessory")
    return problems


def _validate_blocks(blocks: Any, *, max_blocks: int) -> list[str]:
    """Slack's Block Kit limits that real apps trip over (text lengths, list sizes).  Returns
    the problems found, worded like Slack's ``invalid_blocks`` messages."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"no more than {max_blocks} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"missing required field: type [json-pointer:{where}]")
            continue
        problems += _validate_block(block, where)
    return problems


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    return int(sec), int((frac or "0").ljust(6, "0")[:6])


Handler = Callable[[JSONDict], Awaitable[JSONDict]]


class FakeSlackAPI:
    """Fake Slack Web API server.  See the module docstring for the big picture.

    Usage::

        async with FakeSlackAPI() as fake:
            fake.add_channel("C1", "it-help", members=["U1"])
            client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
            await client.chat_postMessage(channel="C1", text="hi")
            assert fake.messages("C1")[0]["text"] == "hi"

    ``strict_messages=False`` (default) lets reactions.add/remove and chat.getPermalink target
    messages the fake never saw (e.g. user messages that arrived as inbound events); set it to
    True to get ``message_not_found`` like Slack, and seed messages with :meth:`add_message`.
    ``auto_create_channels=True`` makes unknown channel ids spring into existence instead of
    failing with ``channel_not_found``.
    """

    def __init__(
        self,
        token: str = "xoxb-test",
        *,
        team_id: str = "T0001",
        team_name: str = "Fake Team",
        team_domain: str = "fake-team",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0001",
        bot_name: str = "helpdesk",
        app_id: str = "A0001",
        enforce_limits: bool = False,
        post_interval: float = 1.0,
        rate_tolerance: float = 0.05,
        rate_burst: int = 1,
        strict_messages: bool = False,
        auto_create_channels: bool = False,
    ) -> None:
        self.token = token
        self.tokens: set[str] = {token}
        self._sockets: list[web.WebSocketResponse] = []
        self.sockets_opened = 0
        self._socket_acks: dict[str, asyncio.Future[JSONDict]] = {}
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.enforce_limits = enforce_limits
        self.post_interval = post_interval
        self.rate_tolerance = rate_tolerance
        self.rate_burst = rate_burst
        self.strict_messages = strict_messages
        self.auto_create_channels = auto_create_channels

        # world
        self.users: dict[str, FakeUser] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.usergroups: dict[str, FakeUsergroup] = {}
        self._dms: dict[str, str] = {}  # user id -> D channel id
        self._messages: dict[str, list[JSONDict]] = {}
        self._reactions: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._ephemerals: list[JSONDict] = []
        self.views: dict[str, JSONDict] = {}
        self.views_opened: list[JSONDict] = []
        self.views_pushed: list[JSONDict] = []
        self.views_updated: list[JSONDict] = []
        self.home_views: dict[str, JSONDict] = {}
        self._used_trigger_ids: set[str] = set()
        self.files: dict[str, FakeFile] = {}
        self.responses: list[ResponsePost] = []
        self._response_targets: dict[str, _ResponseTarget] = {}

        # records / faults / limits
        self.calls: list[Call] = []
        self.rate_limited = 0
        self._faults: list[_Fault] = []
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, last time)
        self._ts_counter = 0
        self._id_counter = 0
        self._changed: asyncio.Event | None = None

        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._handlers: dict[str, Handler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "reactions.get": self._reactions_get,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.list": self._conversations_list,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True, bot_id=bot_id)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeSlackAPI:
        """Bind 127.0.0.1 on a free port and start serving."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/socket", self._handle_socket)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{host}:{port}"
        self._changed = asyncio.Event()
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeSlackAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. ``http://127.0.0.1:41234``."""
        if self._url is None:
            raise RuntimeError("FakeSlackAPI is not started")
        return self._url

    @property
    def api_url(self) -> str:
        """Pass as ``AsyncWebClient(base_url=...)``; ends with ``/api/``."""
        return self.url + "/api/"

    # ------------------------------------------------------------------ world setup

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str | None = None,
        is_bot: bool = False,
        *,
        email: str | None = None,
        display_name: str = "",
        deleted: bool = False,
        is_admin: bool = False,
        tz: str = "Europe/London",
        bot_id: str | None = None,
        **extra: Any,
    ) -> FakeUser:
        user = FakeUser(
            id=user_id,
            name=name,
            real_name=real_name,
            is_bot=is_bot,
            deleted=deleted,
            email=email,
            display_name=display_name,
            tz=tz,
            is_admin=is_admin,
            bot_id=bot_id,
            extra=extra,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: list[str] | None = None,
        *,
        is_archived: bool = False,
        is_private: bool = False,
        bot_is_member: bool = True,
        topic: str = "",
        purpose: str = "",
    ) -> FakeChannel:
        channel = FakeChannel(
            id=channel_id,
            name=name,
            members=list(members) if members is not None else None,
            is_archived=is_archived,
            is_private=is_private,
            bot_is_member=bot_is_member,
            topic=topic,
            purpose=purpose,
        )
        self.channels[channel_id] = channel
        return channel

    def archive_channel(self, channel_id: str, archived: bool = True) -> None:
        self.channels[channel_id].is_archived = archived

    def add_usergroup(
        self, usergroup_id: str, handle: str, users: list[str], *, name: str = ""
    ) -> FakeUsergroup:
        group = FakeUsergroup(
            id=usergroup_id, handle=handle, users=list(users), name=name or handle
        )
        self.usergroups[usergroup_id] = group
        return group

    def dm_channel_id(self, user_id: str) -> str:
        """The stable DM channel for a user (``U123`` -> ``D123``), creating it if needed.

        This is what conversations.open returns, and where chat.postMessage(channel=<user id>)
        lands."""
        if user_id not in self._dms:
            suffix = user_id[1:] if user_id[:1] in ("U", "W") else user_id
            self.add_dm(user_id, f"D{suffix}")
        return self._dms[user_id]

    def add_dm(self, user_id: str, channel_id: str | None = None) -> str:
        """Register the DM channel between the bot and ``user_id``; returns its id."""
        if channel_id is None:
            return self.dm_channel_id(user_id)
        self.channels[channel_id] = FakeChannel(
            id=channel_id,
            name=channel_id,
            is_im=True,
            user=user_id,
            members=[user_id, self.bot_user_id],
        )
        self._dms[user_id] = channel_id
        return channel_id

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        **fields: Any,
    ) -> str:
        """Seed a message (e.g. a user's message that reached the app as an event).

        Accepts a message event's keys directly: ``fake.add_message(**event)``."""
        fields.pop("event_ts", None)
        fields.pop("channel_type", None)
        fields.pop("type", None)
        if channel not in self.channels:
            self._auto_channel(channel)
        for seen in (ts, thread_ts):
            if seen:
                self._observe_ts(seen)
        msg: JSONDict = {"type": "message", "text": text, "ts": ts or self._next_ts()}
        if user is not None:
            msg["user"] = user
        msg["team"] = fields.pop("team", self.team_id)
        msg.update(fields)
        self._store_message(channel, msg, thread_ts=thread_ts)
        return msg["ts"]

    def new_response_url(
        self, channel: str | None = None, message_ts: str | None = None, user: str | None = None
    ) -> str:
        """Mint a response_url (``{url}/response/{id}``).  POSTs to it are recorded in
        :attr:`responses` (and in :attr:`calls` as method ``"response_url"``) and applied:
        ``delete_original``/``replace_original`` act on ``(channel, message_ts)``,
        ``response_type="in_channel"`` posts to ``channel``, anything else becomes an
        ephemeral for ``user``."""
        rid = f"R{self._next_id()}{secrets.token_hex(4)}"
        self._response_targets[rid] = _ResponseTarget(channel, user, message_ts)
        return f"{self.url}/response/{rid}"

    def new_trigger_id(self) -> str:
        return f"{self._next_id()}.{self.team_id}.{secrets.token_hex(8)}"

    # ------------------------------------------------------------------ records

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear_calls(self) -> None:
        self.calls.clear()

    def messages(self, channel: str, thread_ts: str | None = None) -> list[JSONDict]:
        """Current state (edits applied, deletions removed, reactions and reply counts filled
        in) of all a channel's messages including thread replies, oldest first.  With
        ``thread_ts`` only that thread's replies (not the parent)."""
        msgs = sorted(self._messages.get(channel, []), key=lambda m: _ts_key(m["ts"]))
        if thread_ts is not None:
            msgs = [m for m in msgs if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]
        return [self._render_message(channel, m) for m in msgs]

    def message(self, channel: str, ts: str) -> JSONDict | None:
        found = self._find_message(channel, ts)
        return None if found is None else self._render_message(channel, found)

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[JSONDict]:
        return [
            copy.deepcopy(e)
            for e in self._ephemerals
            if (user is None or e["user"] == user) and (channel is None or e["channel"] == channel)
        ]

    def reactions(self, channel: str, ts: str) -> list[JSONDict]:
        """Slack-shaped reactions: ``[{"name": "eyes", "users": ["UBOT"], "count": 1}]``."""
        table = self._reactions.get((channel, ts), {})
        return [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in table.items()
            if users
        ]

    def reaction_names(self, channel: str, ts: str) -> list[str]:
        return [r["name"] for r in self.reactions(channel, ts)]

    async def wait_for(
        self,
        predicate: Callable[[Call], bool] | str,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the documented fake API
        *,
        since: int = 0,
    ) -> Call:
        """Wait until a *completed* call in ``calls[since:]`` satisfies ``predicate`` (a
        callable, or a method name) and return it.  Already-recorded calls count, so pass
        ``since=len(fake.calls)`` to wait for a new one.  On timeout raises AssertionError with
        a dump of recent calls."""
        if isinstance(predicate, str):
            method = predicate

            def predicate(call: Call) -> bool:
                return call.method == method

        check: Callable[[Call], bool] = predicate
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for call in self.calls[since:]:
                if call.done and check(call):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"FakeSlackAPI.wait_for timed out after {timeout}s; " + self.dump_calls()
                )
            event = self._event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def changed(self) -> None:
        """Return when the fake next finishes a request (for live viewers)."""
        await self._event().wait()

    def dump_calls(self, last: int = 25) -> str:
        recent = self.calls[-last:]
        if not recent:
            return "no calls were recorded"
        start = len(self.calls) - len(recent)
        lines = [f"last {len(recent)} of {len(self.calls)} calls:"]
        lines += [f"  #{start + i} {c.summary()}" for i, c in enumerate(recent)]
        return "\n".join(lines)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"`` = any, ``"response_url"`` for
        response_url posts) fail.  ``status=429`` adds ``Retry-After`` (default 1) and the error
        defaults to ``ratelimited``; other statuses default to ``internal_error`` (500) or
        ``fatal_error``.  With ``channel`` only calls for that channel match."""
        if error is None:
            error = {200: "fatal_error", 429: "ratelimited"}.get(status, "internal_error")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(
            _Fault(
                "fail", method, times, channel, error=error, status=status, retry_after=retry_after
            )
        )

    def drop_next(self, method: str, times: int = 1, *, channel: str | None = None) -> None:
        """Close the connection without answering the next ``times`` calls of ``method``.
        Note slack_sdk retries a dropped connection once by default."""
        self._faults.append(_Fault("drop", method, times, channel))

    def delay_next(
        self, method: str, seconds: float, times: int = 1, *, channel: str | None = None
    ) -> None:
        """Sleep ``seconds`` before handling the next ``times`` calls of ``method``."""
        self._faults.append(_Fault("delay", method, times, channel, seconds=seconds))

    def during_next(
        self,
        method: str,
        action: Callable[[], Awaitable[None]],
        times: int = 1,
        *,
        channel: str | None = None,
    ) -> None:
        """Await ``action`` while the next ``times`` calls of ``method`` are in flight, before
        they are handled and answered: e.g. a change a test makes while a message is posted."""
        self._faults.append(_Fault("during", method, times, channel, action=action))

    def clear_faults(self) -> None:
        self._faults.clear()

    # ------------------------------------------------------------------ HTTP plumbing

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _notify(self) -> None:
        old = self._event()
        self._changed = asyncio.Event()
        old.set()

    def _take_fault(self, kind: str, method: str, params: JSONDict) -> _Fault | None:
        for fault in self._faults:
            if fault.kind == kind and fault.matches(method, params):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _apply_pre_faults(
        self, request: web.Request, call: Call
    ) -> web.StreamResponse | None:
        """Delay / drop / fail faults shared by API calls and response_url posts."""
        delay = self._take_fault("delay", call.method, call.params)
        if delay is not None:
            call.delayed = delay.seconds
            await asyncio.sleep(delay.seconds)
        during = self._take_fault("during", call.method, call.params)
        if during is not None and during.action is not None:
            await during.action()
        if self._take_fault("drop", call.method, call.params) is not None:
            call.fault = "drop"
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        fail = self._take_fault("fail", call.method, call.params)
        if fail is not None:
            call.fault = "fail"
            headers = {}
            if fail.retry_after is not None:
                headers["Retry-After"] = str(max(0, math.ceil(fail.retry_after)))
            return self._json(call, {"ok": False, "error": fail.error}, fail.status, headers)
        return None

    def _json(
        self,
        call: Call,
        body: JSONDict,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        call.status = status
        call.response = body
        return web.json_response(body, status=status, headers=headers)

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = dict(request.query)
        raw = await request.read()
        ctype = request.content_type
        if raw:
            if ctype == "application/json":
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise SlackApiFailure("invalid_json") from exc
                if not isinstance(body, dict):
                    raise SlackApiFailure("invalid_json")
                params.update(body)
            elif ctype == "application/x-www-form-urlencoded":
                params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            elif ctype.startswith("multipart/"):
                form = await request.post()
                for key, value in form.items():
                    params[key] = value if isinstance(value, str) else f"<file {value.filename}>"
        for key in _JSON_STRING_FIELDS & params.keys():
            value = params[key]
            if isinstance(value, str) and value[:1] in ("[", "{"):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        now = time.monotonic()
        try:
            params = await self._read_params(request)
        except SlackApiFailure as failure:
            call = Call(method, {}, now, request.method)
            self.calls.append(call)
            resp = self._json(call, {"ok": False, "error": failure.error})
            self._finish(call)
            return resp
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        body_token = params.pop("token", None)
        token = token or body_token
        call = Call(method, params, now, request.method, token=token)
        for key in ("ts", "thread_ts", "message_ts", "timestamp"):
            if key in params:
                self._observe_ts(params[key])
        self.calls.append(call)
        try:
            return await self._dispatch(request, call, token)
        finally:
            self._finish(call)

    def _finish(self, call: Call) -> None:
        call.done = True
        self._notify()

    async def _dispatch(
        self, request: web.Request, call: Call, token: str | None
    ) -> web.StreamResponse:
        if not token:
            return self._json(call, {"ok": False, "error": "not_authed"})
        if token not in self.tokens:
            return self._json(call, {"ok": False, "error": "invalid_auth"})
        handler = self._handlers.get(call.method)
        if handler is None:
            return self._json(call, {"ok": False, "error": "unknown_method"})
        faulted = await self._apply_pre_faults(request, call)
        if faulted is not None:
            return faulted
        if self.enforce_limits and call.method == "chat.postMessage":
            retry_after = self._consume_rate_token(str(call.params.get("channel", "")))
            if retry_after is not None:
                self.rate_limited += 1
                call.fault = "ratelimited"
                headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
                return self._json(call, {"ok": False, "error": "ratelimited"}, 429, headers)
        try:
            result = await handler(call.params)
        except SlackApiFailure as failure:
            return self._json(
                call, {"ok": False, "error": failure.error, **failure.extra}, failure.status
            )
        return self._json(call, {"ok": True, **result})

    def _consume_rate_token(self, channel: str) -> float | None:
        """Token bucket per channel: capacity ``rate_burst``, one token per
        ``post_interval * (1 - rate_tolerance)`` seconds.  Returns seconds to wait if empty."""
        if channel[:1] in ("U", "W") and channel in self._dms:
            channel = self._dms[channel]
        spacing = max(1e-6, self.post_interval * (1.0 - self.rate_tolerance))
        now = time.monotonic()
        tokens, last = self._buckets.get(channel, (float(self.rate_burst), now))
        tokens = min(float(self.rate_burst), tokens + (now - last) / spacing)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return None
        self._buckets[channel] = (tokens, now)
        return (1.0 - tokens) * spacing

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        rid = request.match_info["rid"]
        raw = await request.read()
        body: JSONDict = {}
        if raw:
            try:
                if request.content_type == "application/x-www-form-urlencoded":
                    form = dict(parse_qsl(raw.decode("utf-8")))
                    body = json.loads(form.get("payload", "{}"))
                else:
                    body = json.loads(raw)
            except ValueError:
                return web.Response(status=400, text="invalid_payload")
        for key in ("blocks", "attachments"):
            if isinstance(body.get(key), str):
                with contextlib.suppress(ValueError):
                    body[key] = json.loads(body[key])
        call = Call("response_url", {"response_url_id": rid, **body}, time.monotonic())
        self.calls.append(call)
        try:
            faulted = await self._apply_pre_faults(request, call)
            if faulted is not None:
                return faulted
            target = self._response_targets.get(rid)
            if target is None:
                call.status, call.response = 404, {"ok": False, "error": "no_service"}
                return web.Response(status=404, text="no_service")
            self.responses.append(
                ResponsePost(
                    rid,
                    str(request.url),
                    body,
                    call.time,
                    target.channel,
                    target.user,
                    target.message_ts,
                )
            )
            self._apply_response(target, body)
            call.status, call.response = 200, {"ok": True}
            return web.Response(text="ok")
        finally:
            self._finish(call)

    def _apply_response(self, target: _ResponseTarget, body: JSONDict) -> None:
        channel, ts = target.channel, target.message_ts
        original = self._find_message(channel, ts) if channel and ts else None
        if _truthy(body.get("delete_original")):
            if original is not None and channel is not None:
                self._messages[channel].remove(original)
            return
        content = {k: body[k] for k in ("text", "blocks", "attachments") if k in body}
        if _truthy(body.get("replace_original")) and original is not None:
            original.update(content)
            original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            return
        thread_ts = body.get("thread_ts")
        if body.get("response_type") == "in_channel" and channel is not None:
            self._store_message(channel, self._bot_message(content), thread_ts=thread_ts)
        elif target.user is not None:
            self._ephemerals.append(
                {
                    "channel": channel,
                    "user": target.user,
                    "text": body.get("text"),
                    "blocks": body.get("blocks"),
                    "thread_ts": thread_ts,
                    "ts": self._next_ts(),
                    "via": "response_url",
                }
            )

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        data = await request.read()
        info = self.files.get(file_id)
        if info is None:
            return web.Response(status=404, text="file_not_found")
        info.content = data
        return web.Response(text=f"OK - {len(data)}")

    # ------------------------------------------------------------------ helpers

    def _next_ts(self) -> str:
        self._ts_counter += 100
        sec, micro = divmod(self._ts_counter, 1_000_000)
        return f"{_TS_BASE + sec}.{micro:06d}"

    def _observe_ts(self, value: Any) -> None:
        """Advance the ts clock past a timestamp seen elsewhere (an inbound event's ts used
        as thread_ts, a seeded message) so that new messages always sort after it."""
        try:
            sec, micro = _ts_key(str(value))
        except ValueError:
            return
        seen = (sec - _TS_BASE) * 1_000_000 + micro
        if seen > self._ts_counter:
            self._ts_counter = seen

    def _next_id(self) -> str:
        self._id_counter += 1
        return f"{self._id_counter:07d}"

    def _auto_channel(self, channel_id: str) -> FakeChannel:
        if channel_id[:1] == "D":
            channel = FakeChannel(id=channel_id, name=channel_id, is_im=True)
            self.channels[channel_id] = channel
            return channel
        return self.add_channel(channel_id, channel_id.lower())

    def _channel(self, channel_id: Any, *, allow_user: bool = False) -> FakeChannel:
        """Resolve a channel argument (an id, or a ``#name`` as chat.postMessage allows);
        user ids map to their DM when ``allow_user``."""
        if not channel_id or not isinstance(channel_id, str):
            raise SlackApiFailure("channel_not_found")
        if (
            allow_user
            and channel_id[:1] in ("U", "W")
            and (channel_id in self.users or channel_id in self._dms)
        ):
            return self.channels[self.dm_channel_id(channel_id)]
        channel = self.channels.get(channel_id)
        if channel is None and allow_user:
            name = channel_id.removeprefix("#")
            channel = next(
                (c for c in self.channels.values() if not c.is_im and c.name == name), None
            )
        if channel is None:
            if not self.auto_create_channels:
                raise SlackApiFailure("channel_not_found")
            channel = self._auto_channel(channel_id)
        return channel

    def _find_message(self, channel: str | None, ts: str | None) -> JSONDict | None:
        if channel is None or ts is None:
            return None
        for msg in self._messages.get(channel, []):
            if msg["ts"] == ts:
                return msg
        return None

    def _render_message(self, channel: str, msg: JSONDict) -> JSONDict:
        """A copy of a stored message with reactions and thread bookkeeping filled in the way
        Slack reports them (computed on read, so seeding order does not matter)."""
        out = copy.deepcopy(msg)
        reactions = self.reactions(channel, msg["ts"])
        if reactions:
            out["reactions"] = reactions
        siblings = self._messages.get(channel, [])
        replies = sorted(
            (m for m in siblings if m.get("thread_ts") == msg["ts"] and m["ts"] != msg["ts"]),
            key=lambda m: _ts_key(m["ts"]),
        )
        if replies:
            users = list(dict.fromkeys(m["user"] for m in replies if m.get("user")))
            out.update(
                thread_ts=msg["ts"],
                reply_count=len(replies),
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=replies[-1]["ts"],
            )
        elif out.get("thread_ts") and out["thread_ts"] != msg["ts"]:
            parent = self._find_message(channel, out["thread_ts"])
            if parent is not None and parent.get("user"):
                out["parent_user_id"] = parent["user"]
        return out

    def _bot_message(self, content: JSONDict) -> JSONDict:
        msg: JSONDict = {
            "type": "message",
            "text": content.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": self._next_ts(),
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        for key in ("blocks", "attachments", "metadata", "files", "upload"):
            if key in content:
                msg[key] = content[key]
        return msg

    def _store_message(self, channel: str, msg: JSONDict, *, thread_ts: str | None) -> None:
        if thread_ts and thread_ts != msg["ts"]:
            msg["thread_ts"] = thread_ts
        self._messages.setdefault(channel, []).append(msg)

    @staticmethod
    def _require(params: JSONDict, *names: str) -> None:
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise _invalid_arguments(*(f"missing required field: {n}" for n in missing))

    def _message_content(self, params: JSONDict, *, require: bool) -> JSONDict:
        content = {
            k: params[k]
            for k in ("text", "blocks", "attachments", "metadata")
            if params.get(k) is not None
        }
        if "markdown_text" in params:
            content["text"] = params["markdown_text"]
        if require and not any(content.get(k) for k in ("text", "blocks", "attachments")):
            raise SlackApiFailure("no_text")
        if len(str(content.get("text", ""))) > 40_000:
            raise SlackApiFailure("msg_too_long")
        if "blocks" in content:
            problems = _validate_blocks(content["blocks"], max_blocks=50)
            if problems:
                raise SlackApiFailure(
                    "invalid_blocks",
                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
                )
        if "attachments" in content and not isinstance(content["attachments"], list):
            raise SlackApiFailure("invalid_attachments")
        return content

    def _writable(self, channel: FakeChannel) -> None:
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        if not channel.is_im and not channel.bot_is_member:
            raise SlackApiFailure("not_in_channel")

    # ------------------------------------------------------------------ methods: auth / chat

    async def _api_test(self, params: JSONDict) -> JSONDict:
        return {"args": {k: v for k, v in params.items() if k != "team_id"}}

    # ------------------------------------------------------------------ socket mode

    async def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        """Socket Mode: the WebSocket URL an app connects to (only app-level tokens reach here
        when ``app_token`` is added to ``tokens``)."""
        return {"url": self.url.replace("http://", "ws://") + "/socket"}

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        """A Socket Mode connection: says hello, then reads the app's acknowledgements."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self.sockets_opened += 1
        self._notify()
        await ws.send_json({"type": "hello", "num_connections": len(self._sockets)})
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                waiter = self._socket_acks.pop(str(ack.get("envelope_id", "")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(ack)
        finally:
            self._sockets.remove(ws)
        return ws

    async def end_sockets(self, *, warn: bool) -> int:
        """End every Socket Mode connection, as Slack does now and then: after a ``disconnect``
        message (``warn``: it refreshes connections every few hours) or with a bare close (a
        restart on its side, a network failure). Returns how many were open."""
        sockets = list(self._sockets)
        for ws in sockets:
            if warn:
                await ws.send_json({"type": "disconnect", "reason": "refresh_requested"})
            else:
                await ws.close()
        return len(sockets)

    async def wait_for_socket(self, opened_before: int, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Wait until a connection newer than the first ``opened_before`` is open."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.sockets_opened <= opened_before or not self._sockets:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no new Socket Mode connection within {timeout}s")
            await asyncio.sleep(0.02)

    async def socket_send(
        self,
        envelope_type: str,
        payload: JSONDict,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSONDict:
        """Deliver ``payload`` (an ``events_api``, ``interactive`` or ``slash_commands``
        envelope) to the connected app and return its acknowledgement."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._sockets:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("no Socket Mode connection")
            await asyncio.sleep(0.02)
        envelope_id = uuid.uuid4().hex
        waiter: asyncio.Future[JSONDict] = asyncio.get_running_loop().create_future()
        self._socket_acks[envelope_id] = waiter
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": envelope_type != "events_api",
            }
        )
        return await asyncio.wait_for(waiter, timeout)

    async def _auth_test(self, params: JSONDict) -> JSONDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _chat_post_message(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params.get("channel"), allow_user=True)
        self._writable(channel)
        content = self._message_content(params, require=True)
        msg = self._bot_message(content)
        thread_ts = params.get("thread_ts") or None
        self._store_message(channel.id, msg, thread_ts=thread_ts)
        if thread_ts and _truthy(params.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        return {
            "channel": channel.id,
            "ts": msg["ts"],
            "message": self._render_message(channel.id, msg),
        }

    def _own_message(self, params: JSONDict, forbidden: str) -> tuple[FakeChannel, JSONDict]:
        self._require(params, "ts")
        channel = self._channel(params.get("channel"))
        msg = self._find_message(channel.id, str(params["ts"]))
        if msg is None:
            raise SlackApiFailure("message_not_found")
        if msg.get("bot_id") != self.bot_id and msg.get("user") != self.bot_user_id:
            raise SlackApiFailure(forbidden)
        return channel, msg

    async def _chat_update(self, params: JSONDict) -> JSONDict:
        channel, msg = self._own_message(params, "cant_update_message")
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        content = self._message_content(params, require=False)
        if not content:
            raise SlackApiFailure("no_text")
        # Slack keeps previous blocks/attachments when the field is omitted; [] removes them.
        for key, value in content.items():
            if key in ("blocks", "attachments") and value == []:
                msg.pop(key, None)
            else:
                msg[key] = value
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": msg["ts"],
            "text": msg.get("text", ""),
            "message": self._render_message(channel.id, msg),
        }

    async def _chat_delete(self, params: JSONDict) -> JSONDict:
        channel, msg = self._own_message(params, "cant_delete_message")
        self._messages[channel.id].remove(msg)
        return {"channel": channel.id, "ts": msg["ts"]}

    async def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        self._require(params, "user")
        channel = self._channel(params.get("channel"), allow_user=True)
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        user = str(params["user"])
        if user not in self.users and not self.auto_create_channels:
            raise SlackApiFailure("user_not_found")
        if channel.members is not None and not channel.is_im and user not in channel.members:
            raise SlackApiFailure("user_not_in_channel")
        content = self._message_content(params, require=True)
        ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel.id,
                "user": user,
                "text": content.get("text"),
                "blocks": content.get("blocks"),
                "attachments": content.get("attachments"),
                "thread_ts": params.get("thread_ts"),
                "ts": ts,
                "via": "chat.postEphemeral",
            }
        )
        return {"message_ts": ts}

    async def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        self._require(params, "message_ts")
        channel = self._channel(params.get("channel"))
        ts = str(params["message_ts"])
        msg = self._find_message(channel.id, ts)
        if msg is None and self.strict_messages:
            raise SlackApiFailure("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        if msg is not None and msg.get("thread_ts") and msg["thread_ts"] != ts:
            link += f"?thread_ts={msg['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    # ------------------------------------------------------------------ methods: reactions

    def _reaction_target(self, params: JSONDict) -> tuple[FakeChannel, str, str]:
        self._require(params, "name", "timestamp")
        channel = self._channel(params.get("channel"))
        ts = str(params["timestamp"])
        name = str(params["name"]).strip(":")
        if not name:
            raise SlackApiFailure("invalid_name")
        if self.strict_messages and self._find_message(channel.id, ts) is None:
            raise SlackApiFailure("message_not_found")
        return channel, ts, name

    async def _reactions_add(self, params: JSONDict) -> JSONDict:
        channel, ts, name = self._reaction_target(params)
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        users = self._reactions.setdefault((channel.id, ts), {}).setdefault(name, [])
        if self.bot_user_id in users:
            raise SlackApiFailure("already_reacted")
        users.append(self.bot_user_id)
        return {}

    async def _reactions_remove(self, params: JSONDict) -> JSONDict:
        channel, ts, name = self._reaction_target(params)
        users = self._reactions.get((channel.id, ts), {}).get(name, [])
        if self.bot_user_id not in users:
            raise SlackApiFailure("no_reaction")
        users.remove(self.bot_user_id)
        return {}

    async def _reactions_get(self, params: JSONDict) -> JSONDict:
        self._require(params, "timestamp")
        channel = self._channel(params.get("channel"))
        ts = str(params["timestamp"])
        msg = self.message(channel.id, ts)
        if msg is None:
            raise SlackApiFailure("message_not_found")
        return {"type": "message", "channel": channel.id, "message": msg}

    # ------------------------------------------------------------------ methods: views

    def _check_view(self, view: Any, *, home: bool = False) -> JSONDict:
        if not isinstance(view, dict):
            raise _invalid_arguments("missing required field: view")
        problems: list[str] = []
        vtype = view.get("type")
        if vtype != ("home" if home else "modal"):
            problems.append(f"unsupported type: {vtype!r} [json-pointer:/view/type]")
        if not home:
            title = view.get("title")
            if not isinstance(title, dict):
                problems.append("missing required field: title [json-pointer:/view/title]")
            elif _text_len(title) > 24:
                problems.append("must be less than 25 characters [json-pointer:/view/title/text]")
            for key in ("submit", "close"):
                if _text_len(view.get(key)) > 24:
                    problems.append(
                        f"must be less than 25 characters [json-pointer:/view/{key}/text]"
                    )
            blocks = view.get("blocks")
            if (
                isinstance(blocks, list)
                and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
                and not view.get("submit")
            ):
                problems.append("submit is required when an input block is present")
        problems += [
            p.replace("/blocks", "/view/blocks")
            for p in _validate_blocks(view.get("blocks", []), max_blocks=100)
        ]
        if len(str(view.get("private_metadata", ""))) > 3000:
            problems.append(
                "must be less than 3001 characters [json-pointer:/view/private_metadata]"
            )
        if len(str(view.get("callback_id", ""))) > 255:
            problems.append("must be less than 256 characters [json-pointer:/view/callback_id]")
        if problems:
            raise _invalid_arguments(*problems)
        return view

    def _use_trigger(self, params: JSONDict) -> None:
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger_id:
            raise _invalid_arguments("missing required field: trigger_id")
        if trigger_id in self._used_trigger_ids:
            raise SlackApiFailure("exchanged_trigger_id")
        self._used_trigger_ids.add(str(trigger_id))

    def _make_view(
        self,
        spec: JSONDict,
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> JSONDict:
        vid = view_id or f"V{self._next_id()}"
        view = {
            "id": vid,
            "team_id": self.team_id,
            "type": spec.get("type", "modal"),
            "blocks": copy.deepcopy(spec.get("blocks", [])),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": spec.get("title"),
            "clear_on_close": _truthy(spec.get("clear_on_close", False)),
            "notify_on_close": _truthy(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or vid,
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[vid] = view
        return view

    async def _views_open(self, params: JSONDict) -> JSONDict:
        self._use_trigger(params)
        spec = self._check_view(params.get("view"))
        view = self._make_view(spec)
        self.views_opened.append(copy.deepcopy(view))
        return {"view": copy.deepcopy(view)}

    async def _views_push(self, params: JSONDict) -> JSONDict:
        self._use_trigger(params)
        spec = self._check_view(params.get("view"))
        view = self._make_view(spec)
        self.views_pushed.append(copy.deepcopy(view))
        return {"view": copy.deepcopy(view)}

    async def _views_update(self, params: JSONDict) -> JSONDict:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and not external_id:
            raise _invalid_arguments("missing required field: view_id or external_id")
        current = (
            self.views.get(str(view_id))
            if view_id
            else next(
                (v for v in self.views.values() if external_id and v["external_id"] == external_id),
                None,
            )
        )
        if current is None:
            raise SlackApiFailure("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        spec = self._check_view(params.get("view"), home=current["type"] == "home")
        view = self._make_view(
            spec,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        self.views_updated.append(copy.deepcopy(view))
        return {"view": copy.deepcopy(view)}

    async def _views_publish(self, params: JSONDict) -> JSONDict:
        self._require(params, "user_id")
        user_id = str(params["user_id"])
        spec = self._check_view(params.get("view"), home=True)
        current = self.home_views.get(user_id)
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        view = self._make_view(spec, view_id=current["id"] if current else None)
        self.home_views[user_id] = copy.deepcopy(view)
        return {"view": copy.deepcopy(view)}

    # ------------------------------------------------------------------ methods: conversations

    async def _conversations_info(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params.get("channel"))
        return {"channel": channel.to_api()}

    async def _conversations_members(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params.get("channel"))
        page, next_cursor = _paginate(list(channel.members or []), params)
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    async def _conversations_open(self, params: JSONDict) -> JSONDict:
        if params.get("channel"):
            return {"channel": self._channel(params["channel"]).to_api()}
        users = params.get("users")
        if isinstance(users, str):
            users = [u for u in users.split(",") if u]
        if not users:
            raise SlackApiFailure("users_list_not_supplied")
        for user in users:
            if user not in self.users:
                raise SlackApiFailure("user_not_found")
        if len(users) == 1:
            already = users[0] in self._dms
            channel = self.channels[self.dm_channel_id(users[0])]
        else:
            members = sorted({*users, self.bot_user_id})
            cid = "G" + hashlib.sha1("-".join(members).encode()).hexdigest()[:10].upper()
            already = cid in self.channels
            if not already:
                self.channels[cid] = FakeChannel(
                    id=cid,
                    name="mpdm-" + "--".join(members) + "-1",
                    members=members,
                    is_mpim=True,
                    is_private=True,
                )
            channel = self.channels[cid]
        info = channel.to_api() if _truthy(params.get("return_im")) else {"id": channel.id}
        return {"no_op": already, "already_open": already, "channel": info}

    def _thread(self, channel_id: str, ts: str) -> list[JSONDict]:
        msgs = [
            self._render_message(channel_id, m)
            for m in self._messages.get(channel_id, [])
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        return sorted(msgs, key=lambda m: _ts_key(m["ts"]))

    async def _conversations_replies(self, params: JSONDict) -> JSONDict:
        self._require(params, "ts")
        channel = self._channel(params.get("channel"))
        msgs = self._thread(channel.id, str(params["ts"]))
        if not msgs:
            raise SlackApiFailure("thread_not_found")
        page, next_cursor = _paginate(msgs, params, default_limit=1000)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    async def _conversations_history(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params.get("channel"))
        msgs = [
            self._render_message(channel.id, m)
            for m in self._messages.get(channel.id, [])
            if not m.get("thread_ts")
            or m["thread_ts"] == m["ts"]
            or m.get("subtype") == "thread_broadcast"
        ]
        msgs.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
        page, next_cursor = _paginate(msgs, params)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    async def _conversations_list(self, params: JSONDict) -> JSONDict:
        exclude_archived = _truthy(params.get("exclude_archived", False))
        types = str(params.get("types") or "public_channel").split(",")

        def kind(c: FakeChannel) -> str:
            if c.is_im:
                return "im"
            if c.is_mpim:
                return "mpim"
            return "private_channel" if c.is_private else "public_channel"

        chans = [
            c.to_api()
            for c in self.channels.values()
            if kind(c) in types and not (exclude_archived and c.is_archived)
        ]
        page, next_cursor = _paginate(chans, params)
        return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}

    # ------------------------------------------------------------------ methods: users

    async def _users_info(self, params: JSONDict) -> JSONDict:
        self._require(params, "user")
        user = self.users.get(str(params["user"]))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return {"user": user.to_api(self.team_id)}

    async def _users_list(self, params: JSONDict) -> JSONDict:
        members = [u.to_api(self.team_id) for u in self.users.values()]
        page, next_cursor = _paginate(members, params, default_limit=1000)
        return {
            "members": page,
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    async def _users_lookup_by_email(self, params: JSONDict) -> JSONDict:
        self._require(params, "email")
        email = str(params["email"]).lower()
        for user in self.users.values():
            if user.email and user.email.lower() == email:
                return {"user": user.to_api(self.team_id)}
        raise SlackApiFailure("users_not_found")

    async def _usergroups_list(self, params: JSONDict) -> JSONDict:
        include_users = _truthy(params.get("include_users", False))
        include_disabled = _truthy(params.get("include_disabled", False))
        groups = []
        for g in self.usergroups.values():
            if g.disabled and not include_disabled:
                continue
            data: JSONDict = {
                "id": g.id,
                "team_id": self.team_id,
                "is_usergroup": True,
                "name": g.name,
                "handle": g.handle,
                "date_delete": 1 if g.disabled else 0,
                "user_count": len(g.users),
            }
            if include_users:
                data["users"] = list(g.users)
            groups.append(data)
        return {"usergroups": groups}

    async def _usergroups_users_list(self, params: JSONDict) -> JSONDict:
        self._require(params, "usergroup")
        group = self.usergroups.get(str(params["usergroup"]))
        if group is None:
            raise SlackApiFailure("no_such_subteam")
        if group.disabled and not _truthy(params.get("include_disabled", False)):
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(group.users)}

    # ------------------------------------------------------------------ methods: files

    async def _files_get_upload_url_external(self, params: JSONDict) -> JSONDict:
        self._require(params, "filename", "length")
        try:
            length = int(params["length"])
        except (TypeError, ValueError) as exc:
            raise _invalid_arguments("length must be an integer") from exc
        file_id = f"F{self._next_id()}"
        self.files[file_id] = FakeFile(
            id=file_id,
            filename=str(params["filename"]),
            length=length,
            alt_txt=params.get("alt_txt"),
            snippet_type=params.get("snippet_type"),
        )
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _files_complete_upload_external(self, params: JSONDict) -> JSONDict:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise _invalid_arguments("missing required field: files")
        infos: list[FakeFile] = []
        for entry in entries:
            info = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if info is None or info.content is None:
                raise SlackApiFailure("file_not_found")
            info.title = entry.get("title") or info.filename
            infos.append(info)
        channel_ids: list[str] = []
        if params.get("channel_id"):
            channel_ids.append(str(params["channel_id"]))
        if params.get("channels"):
            channel_ids += [c for c in str(params["channels"]).split(",") if c]
        channels = [self._channel(cid) for cid in channel_ids]
        for channel in channels:
            self._writable(channel)
        thread_ts = params.get("thread_ts") or None
        api_files = []
        for info in infos:
            info.completed = True
            info.channels = [c.id for c in channels]
            info.thread_ts = thread_ts
            info.initial_comment = params.get("initial_comment")
            api_files.append(
                {
                    "id": info.id,
                    "created": _TS_BASE,
                    "timestamp": _TS_BASE,
                    "name": info.filename,
                    "title": info.title,
                    "mimetype": "",
                    "filetype": "",
                    "user": self.bot_user_id,
                    "size": len(info.content or b""),
                    "is_external": False,
                }
            )
        for channel in channels:
            content = {
                "text": params.get("initial_comment") or "",
                "files": copy.deepcopy(api_files),
                "upload": True,
            }
            self._store_message(channel.id, self._bot_message(content), thread_ts=thread_ts)
        return {"files": api_files}
