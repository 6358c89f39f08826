"""Signed inbound requests: what Slack POSTs to the app's Request URL.

Builders return a :class:`SlackRequest` (raw body + content type + the decoded payload); sign
it with :meth:`SlackRequest.headers` and send it with :func:`post`::

    req = block_actions("U1", "ticket_claim", "42", channel="C1", message_ts=ts,
                        response_url=fake.new_response_url(channel="C1", message_ts=ts, user="U1"))
    status, text = await post(app_url, "/slack/events", req, SIGNING_SECRET)

Shapes follow Slack's documented payloads:

* Events API: JSON ``event_callback`` envelope (``token``, ``team_id``, ``api_app_id``,
  ``event``, ``type``, ``event_id``, ``event_time``, ``authorizations``...).
* Interactivity (``block_actions``, ``view_submission``, ``view_closed``): form-encoded
  ``payload=<json>``.
* Slash commands: plain form fields (``command``, ``text``, ``user_id``, ``channel_id``,
  ``response_url``, ``trigger_id``...).
* Signature: ``X-Slack-Signature: v0=hex(HMAC-SHA256(secret, f"v0:{ts}:{body}"))`` with
  ``X-Slack-Request-Timestamp: ts``; bolt rejects timestamps more than 5 minutes off.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

JSONDict = dict[str, Any]

SIGNING_SECRET = "test-signing-secret"
VERIFICATION_TOKEN = "fake-verification-token"
TEAM_ID = "T0001"
TEAM_DOMAIN = "fake-team"
API_APP_ID = "A0001"
BOT_USER_ID = "UBOT"
BOT_ID = "B0001"

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

#: Older than bolt's 5-minute tolerance.
STALE_SECONDS = 6 * 60

_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


_last_ts_us = 0


def _now_ts() -> str:
    """A message-style timestamp ("1712345678.123456"), strictly increasing in this process."""
    global _last_ts_us
    _last_ts_us = max(int(time.time() * 1_000_000), _last_ts_us + 1)
    sec, micro = divmod(_last_ts_us, 1_000_000)
    return f"{sec}.{micro:06d}"


# ---------------------------------------------------------------------------- signing


def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack v0 request signature headers for ``body``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def forged_signature(body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Well-formed headers signed with a secret nobody configured."""
    return sign(body, "forged-" + secrets.token_hex(8), timestamp)


def stale_timestamp(age_seconds: int = STALE_SECONDS) -> int:
    """A timestamp old enough that signature verification must reject it."""
    return int(time.time()) - age_seconds


@dataclass(frozen=True)
class SlackRequest:
    """An unsigned inbound request: raw ``body``, its ``content_type`` and the decoded
    ``payload`` (the JSON envelope, the interaction payload, or the slash-command fields)."""

    body: bytes
    content_type: str
    payload: JSONDict = field(compare=False)
    kind: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def headers(
        self,
        secret: str = SIGNING_SECRET,
        *,
        timestamp: int | None = None,
        forged: bool = False,
        stale: bool = False,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> dict[str, str]:
        """Content-Type + signature headers (+ ``X-Slack-Retry-Num``/``-Reason`` if asked)."""
        if stale and timestamp is None:
            timestamp = stale_timestamp()
        signed = (
            forged_signature(self.body, timestamp) if forged else sign(self.body, secret, timestamp)
        )
        headers = {"Content-Type": self.content_type, **signed}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return headers


def _json_request(payload: JSONDict, kind: str) -> SlackRequest:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return SlackRequest(body, JSON_CONTENT_TYPE, payload, kind)


def _payload_request(payload: JSONDict, kind: str) -> SlackRequest:
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode("utf-8")
    return SlackRequest(body, FORM_CONTENT_TYPE, payload, kind)


def _user(user: str, user_name: str | None, team_id: str) -> JSONDict:
    name = user_name or user.lower()
    return {"id": user, "username": name, "name": name, "team_id": team_id}


def new_trigger_id() -> str:
    return f"{_next()}{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def new_event_id() -> str:
    return f"Ev{_next():04d}{secrets.token_hex(4).upper()}"


# ---------------------------------------------------------------------------- Events API


def event_callback(
    event: JSONDict,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    *,
    api_app_id: str = API_APP_ID,
    event_time: int | None = None,
    bot_user_id: str = BOT_USER_ID,
    token: str = VERIFICATION_TOKEN,
) -> SlackRequest:
    """Wrap an event in the Events API ``event_callback`` envelope (JSON)."""
    payload = {
        "token": token,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_urlsafe(24)}",
    }
    return _json_request(payload, "event_callback")


def _rich_text(text: str) -> list[JSONDict]:
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def message_payload(
    channel: str,
    user: str | None,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    subtype: str | None = None,
    bot_id: str | None = None,
    files: list[JSONDict] | None = None,
    *,
    team_id: str = TEAM_ID,
    parent_user_id: str | None = None,
    **extra: Any,
) -> JSONDict:
    """The inner ``message`` event dict (see :func:`message_event`)."""
    ts = ts or _now_ts()
    event: JSONDict = {"type": "message"}
    if subtype is None and files:
        subtype = "file_share"
    if subtype is not None:
        event["subtype"] = subtype
    event["text"] = text
    if user is not None:
        event["user"] = user
    if bot_id is not None:
        event["bot_id"] = bot_id
    if subtype in (None, "file_share", "thread_broadcast") and bot_id is None:
        event["client_msg_id"] = str(uuid.uuid4())
        event["blocks"] = _rich_text(text)
    if files is not None:
        event["files"] = files
        event["upload"] = False
    event.update({"ts": ts, "team": team_id, "channel": channel, "event_ts": ts})
    event["channel_type"] = channel_type
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        if parent_user_id is not None:
            event["parent_user_id"] = parent_user_id
    event.update(extra)
    return event


def message_event(
    channel: str,
    user: str | None,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    subtype: str | None = None,
    bot_id: str | None = None,
    files: list[JSONDict] | None = None,
    *,
    team_id: str = TEAM_ID,
    event_id: str | None = None,
    parent_user_id: str | None = None,
    **extra: Any,
) -> SlackRequest:
    """A ``message`` event (``channel_type`` "channel" | "group" | "im" | "mpim").

    User messages get ``client_msg_id`` and a ``rich_text`` block like real ones; ``files``
    without a ``subtype`` means ``subtype="file_share"``.  ``extra`` keys are merged into the
    event.  ``req.payload["event"]`` is the event, e.g. for ``fake.add_message(**event)``."""
    event = message_payload(
        channel,
        user,
        text,
        ts,
        thread_ts,
        channel_type,
        subtype,
        bot_id,
        files,
        team_id=team_id,
        parent_user_id=parent_user_id,
        **extra,
    )
    return event_callback(event, event_id, team_id)


def app_mention(
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    *,
    team_id: str = TEAM_ID,
    event_id: str | None = None,
) -> SlackRequest:
    """An ``app_mention`` event; ``text`` should contain ``<@UBOT>`` like Slack's does."""
    ts = ts or _now_ts()
    event: JSONDict = {
        "type": "app_mention",
        "client_msg_id": str(uuid.uuid4()),
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": _rich_text(text),
        "team": team_id,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event, event_id, team_id)


def app_home_opened(
    user: str,
    channel: str | None = None,
    tab: str = "home",
    view: JSONDict | None = None,
    *,
    team_id: str = TEAM_ID,
    event_id: str | None = None,
) -> SlackRequest:
    """An ``app_home_opened`` event.  ``channel`` defaults to the fake's DM id scheme
    (``U123`` -> ``D123``)."""
    if channel is None:
        channel = "D" + (user[1:] if user[:1] in ("U", "W") else user)
    event: JSONDict = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": _now_ts(),
    }
    if view is not None:
        event["view"] = view
    return event_callback(event, event_id, team_id)


def url_verification(challenge: str | None = None, token: str = VERIFICATION_TOKEN) -> SlackRequest:
    """The Events API handshake; the app must answer with the challenge."""
    payload = {
        "token": token,
        "challenge": challenge or secrets.token_urlsafe(24),
        "type": "url_verification",
    }
    return _json_request(payload, "url_verification")


# ---------------------------------------------------------------------------- interactivity


def _action_dict(
    action_type: str, action_id: str, block_id: str, value: Any, label: str | None
) -> JSONDict:
    """An element action as it appears in ``actions[]`` of a block_actions payload."""
    action: JSONDict = {"type": action_type, "action_id": action_id, "block_id": block_id}

    def option(v: Any) -> JSONDict:
        return {"text": {"type": "plain_text", "text": str(v), "emoji": True}, "value": str(v)}

    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": label or str(value), "emoji": True}
        if value is not None:
            action["value"] = str(value)
    elif action_type in ("static_select", "external_select", "overflow", "radio_buttons"):
        action["selected_option"] = option(value) if value is not None else None
    elif action_type in ("multi_static_select", "multi_external_select", "checkboxes"):
        action["selected_options"] = [option(v) for v in (value or [])]
    elif action_type == "users_select":
        action["selected_user"] = value
    elif action_type == "multi_users_select":
        action["selected_users"] = list(value or [])
    elif action_type == "conversations_select":
        action["selected_conversation"] = value
    elif action_type == "channels_select":
        action["selected_channel"] = value
    elif action_type == "datepicker":
        action["selected_date"] = value
    else:  # plain_text_input and friends
        action["value"] = value
    action["action_ts"] = f"{time.time():.6f}"
    return action


def block_actions(
    user: str,
    action_id: str,
    value: Any = None,
    channel: str | None = None,
    message_ts: str | None = None,
    *,
    trigger_id: str | None = None,
    response_url: str | None = None,
    block_id: str = "actions",
    action_type: str = "button",
    label: str | None = None,
    action: JSONDict | None = None,
    blocks: list[JSONDict] | None = None,
    message_text: str = "",
    message: JSONDict | None = None,
    thread_ts: str | None = None,
    is_ephemeral: bool = False,
    view: JSONDict | None = None,
    state_values: JSONDict | None = None,
    channel_name: str | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    bot_user_id: str = BOT_USER_ID,
    bot_id: str = BOT_ID,
) -> SlackRequest:
    """A ``block_actions`` interaction (form-encoded ``payload=<json>``).

    Clicked in a message when ``channel``/``message_ts`` are given (``container.type ==
    "message"``, with ``channel``, ``message`` and ``response_url``); clicked in a modal or the
    Home tab when ``view`` is given (``container.type == "view"``, no response_url).
    ``action_type`` picks how ``value`` is expressed (``button`` -> ``value``,
    ``static_select`` -> ``selected_option``, ``users_select`` -> ``selected_user``...);
    ``action`` overrides/extends the generated action dict.  Without ``blocks`` the message
    holds one actions block containing the clicked element."""
    act = _action_dict(action_type, action_id, block_id, value, label)
    if action:
        act.update(action)
    payload: JSONDict = {
        "type": "block_actions",
        "user": _user(user, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
    else:
        container: JSONDict = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        }
        if thread_ts is not None:
            container["thread_ts"] = thread_ts
        payload["container"] = container
    payload["trigger_id"] = trigger_id or new_trigger_id()
    payload["team"] = {"id": team_id, "domain": TEAM_DOMAIN}
    payload["enterprise"] = None
    payload["is_enterprise_install"] = False
    if view is not None:
        payload["view"] = view
    else:
        payload["channel"] = {"id": channel, "name": channel_name or str(channel).lower()}
        if not is_ephemeral:
            if message is None:
                element = {k: v for k, v in act.items() if k not in ("block_id", "action_ts")}
                message = {
                    "type": "message",
                    "user": bot_user_id,
                    "bot_id": bot_id,
                    "app_id": api_app_id,
                    "text": message_text,
                    "ts": message_ts,
                    "team": team_id,
                    "blocks": blocks
                    if blocks is not None
                    else [{"type": "actions", "block_id": block_id, "elements": [element]}],
                }
                if thread_ts is not None:
                    message["thread_ts"] = thread_ts
            payload["message"] = message
    payload["state"] = {"values": _state_values(state_values)}
    if view is None:
        payload["response_url"] = response_url or (
            f"https://hooks.slack.com/actions/{team_id}/{_next()}/{secrets.token_urlsafe(18)}"
        )
    payload["actions"] = [act]
    return _payload_request(payload, "block_actions")


def _state_values(values: JSONDict | None) -> JSONDict:
    """Expand shorthand ``{block: {action: "text"}}`` into Slack's state value objects."""
    out: JSONDict = {}
    for block_id, actions in (values or {}).items():
        out[block_id] = {}
        for action_id, state in actions.items():
            if state is None or isinstance(state, str):
                state = {"type": "plain_text_input", "value": state}
            out[block_id][action_id] = state
    return out


def plain_text_value(value: str | None) -> JSONDict:
    return {"type": "plain_text_input", "value": value}


def static_select_value(value: str | None, text: str | None = None) -> JSONDict:
    selected = (
        None
        if value is None
        else {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}
    )
    return {"type": "static_select", "selected_option": selected}


def users_select_value(user: str | None) -> JSONDict:
    return {"type": "users_select", "selected_user": user}


def _view_object(
    callback_id: str,
    private_metadata: str,
    state_values: JSONDict | None,
    *,
    view_id: str | None,
    view_hash: str | None,
    title: str,
    blocks: list[JSONDict] | None,
    external_id: str,
    team_id: str,
    api_app_id: str,
    bot_id: str,
    root_view_id: str | None,
    previous_view_id: str | None,
) -> JSONDict:
    vid = view_id or f"V{_next():08d}"
    return {
        "id": vid,
        "team_id": team_id,
        "type": "modal",
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": _state_values(state_values)},
        "hash": view_hash or f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": {"type": "plain_text", "text": title, "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id or vid,
        "app_id": api_app_id,
        "external_id": external_id,
        "app_installed_team_id": team_id,
        "bot_id": bot_id,
    }


def view_submission(
    user: str,
    callback_id: str,
    private_metadata: str = "",
    state_values: JSONDict | None = None,
    *,
    view_id: str | None = None,
    view_hash: str | None = None,
    trigger_id: str | None = None,
    title: str = "Form",
    blocks: list[JSONDict] | None = None,
    external_id: str = "",
    response_urls: list[JSONDict] | None = None,
    root_view_id: str | None = None,
    previous_view_id: str | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    bot_id: str = BOT_ID,
) -> SlackRequest:
    """A ``view_submission`` interaction (form-encoded ``payload=<json>``).

    ``state_values`` is ``{block_id: {action_id: state}}`` where ``state`` is a Slack state
    object (see :func:`plain_text_value`, :func:`static_select_value`) or a plain string
    shorthand for a ``plain_text_input`` value."""
    view = _view_object(
        callback_id,
        private_metadata,
        state_values,
        view_id=view_id,
        view_hash=view_hash,
        title=title,
        blocks=blocks,
        external_id=external_id,
        team_id=team_id,
        api_app_id=api_app_id,
        bot_id=bot_id,
        root_view_id=root_view_id,
        previous_view_id=previous_view_id,
    )
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": view,
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_request(payload, "view_submission")


def view_closed(
    user: str,
    callback_id: str,
    private_metadata: str = "",
    *,
    is_cleared: bool = False,
    view_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    bot_id: str = BOT_ID,
) -> SlackRequest:
    """A ``view_closed`` interaction (only sent for views with ``notify_on_close``)."""
    view = _view_object(
        callback_id,
        private_metadata,
        None,
        view_id=view_id,
        view_hash=None,
        title="Form",
        blocks=None,
        external_id="",
        team_id=team_id,
        api_app_id=api_app_id,
        bot_id=bot_id,
        root_view_id=None,
        previous_view_id=None,
    )
    view["notify_on_close"] = True
    payload = {
        "type": "view_closed",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user, None, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "view": view,
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_request(payload, "view_closed")


def slash_command(
    command: str,
    text: str = "",
    user: str = "U0USER",
    channel: str = "C0CHAN",
    response_url: str | None = None,
    trigger_id: str | None = None,
    *,
    channel_name: str | None = None,
    user_name: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
) -> SlackRequest:
    """A slash command invocation (plain form fields, not a ``payload`` JSON)."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": channel_name
        or ("directmessage" if channel.startswith("D") else channel.lower()),
        "user_id": user,
        "user_name": user_name or user.lower(),
        "command": command if command.startswith("/") else "/" + command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url
        or f"https://hooks.slack.com/commands/{team_id}/{_next()}/{secrets.token_urlsafe(18)}",
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return SlackRequest(
        urlencode(fields).encode("utf-8"), FORM_CONTENT_TYPE, fields, "slash_command"
    )


# ---------------------------------------------------------------------------- sending


async def post(
    session_or_url: aiohttp.ClientSession | str,
    path_url: str,
    request: SlackRequest,
    secret: str = SIGNING_SECRET,
    *,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    timestamp: int | None = None,
    forged: bool = False,
    stale: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Sign and POST ``request``; returns ``(status, body text)``.

    ``session_or_url`` is either an open ``aiohttp.ClientSession`` (``path_url`` is then an
    absolute URL, or relative to the session's ``base_url``) or a base URL string such as
    ``"http://127.0.0.1:8080"`` that ``path_url`` (e.g. ``"/slack/events"``) is joined to, in
    which case a throwaway session is used."""
    all_headers = request.headers(
        secret,
        timestamp=timestamp,
        forged=forged,
        stale=stale,
        retry_num=retry_num,
        retry_reason=retry_reason,
    )
    if headers:
        all_headers.update(headers)
    if isinstance(session_or_url, aiohttp.ClientSession):
        async with session_or_url.post(path_url, data=request.body, headers=all_headers) as resp:
            return resp.status, await resp.text()
    if path_url.startswith(("http://", "https://")):
        url = path_url
    else:
        url = session_or_url.rstrip("/") + "/" + path_url.lstrip("/")
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=request.body, headers=all_headers) as resp,
    ):
        return resp.status, await resp.text()
