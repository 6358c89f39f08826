"""A small but faithful fake of the Telegram Bot API, served over real HTTP.

The point is to drive the *real* python-telegram-bot stack (``Bot``, ``Application``,
``Updater``, webhooks, rate limiter) end to end without touching Telegram::

    async with FakeTelegramAPI() as tg:
        app = (
            ApplicationBuilder()
            .token(tg.token)
            .base_url(f"{tg.url}/bot")
            .base_file_url(f"{tg.url}/file/bot")
            .build()
        )
        ...
        alice = TgUser(1001, "Alice")
        tg.push_update(alice.text("/start"))
        await tg.wait_for_message(alice.id, contains="Welcome")

Behaviour follows the real Bot API where it matters for a bot author:

* every request is ``POST``/``GET`` ``/bot{token}/{method}``; method names are case-insensitive;
  a wrong token answers 401 ``Unauthorized``, an unknown method 404 ``Not Found``;
* ``getUpdates`` long-polls: ``offset`` confirms earlier updates, ``timeout`` waits for a push,
  a newer ``getUpdates`` terminates a pending one with 409, and it refuses with 409 while a
  webhook is set (pushed updates are then POSTed to the webhook instead);
* texts are parsed according to ``parse_mode`` (HTML, MarkdownV2, Markdown) exactly strictly
  enough to reject what Telegram rejects ("can't parse entities: ..."), the returned message
  carries the plain text plus ``entities``;
* ``editMessageText`` without ``reply_markup`` drops the inline keyboard, an edit that changes
  nothing is "message is not modified", answering an unknown/answered callback query fails;
* only inline keyboards are echoed in returned messages (as Telegram does); ``sent`` records
  keep whatever markup was requested, including reply keyboards.

Everything the fake saw is inspectable: ``calls`` (every request), ``sent`` (every sent or edited
message), ``messages_to(chat_id)``, ``wait_for(...)`` and ``wait_for_message(...)``. Faults are
injected with ``fail_next``, ``drop_next``, ``delay_next``, ``block_chat`` and ``during_next`` (the
world changes while a request is in flight); platform flood
limits are enforced with ``FakeTelegramAPI(enforce_limits=True)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import math
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import EllipsisType
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "BOT_ID",
    "BOT_USER",
    "BOT_USERNAME",
    "DEFAULT_TOKEN",
    "ApiError",
    "Call",
    "FakeTelegramAPI",
    "StoredFile",
    "TgUser",
    "UploadedFile",
    "channel_post",
]

DEFAULT_TOKEN = "123456:TEST"
BOT_ID = 123456
BOT_USERNAME = "helpdesk_test_bot"
BOT_FIRST_NAME = "Helpdesk"
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}

# Update types Telegram only delivers when explicitly listed in ``allowed_updates``.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")

# Parameters whose form-encoded string value is JSON (PTB json.dumps()es non-str values).
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "explanation_entities",
        "link_preview_options",
        "media",
        "menu_button",
        "options",
        "permissions",
        "question_entities",
        "reply_markup",
        "reply_parameters",
        "results",
        "rights",
        "scope",
    }
)
_INT_PARAMS = frozenset(
    {
        "cache_time",
        "chat_id",
        "duration",
        "from_chat_id",
        "height",
        "icon_color",
        "limit",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "reply_to_message_id",
        "until_date",
        "user_id",
        "width",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "has_spoiler",
        "is_anonymous",
        "protect_content",
        "show_alert",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INLINE_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "callback_game",
        "pay",
        "web_app",
        "copy_text",
    }
)

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Forum topic icon colours createForumTopic accepts (RGB), and the emoji a bot may react with
# (ReactionTypeEmoji in the Bot API documentation).
TOPIC_ICON_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
_REACTION_LIST = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 "
    "🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 "
    "💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 "
    "😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 "
    "😘 💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡"
)
REACTION_EMOJI = frozenset(_REACTION_LIST.split())
# The rights of an administrator (ChatMemberAdministrator); the optional ones last.
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_MAX_UPLOAD = 50 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A Bot API error reply: ``{"ok": false, "error_code": code, "description": ...}``.

    Raise it from a handler registered with :meth:`FakeTelegramAPI.set_handler` to answer
    with an error.
    """

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class UploadedFile:
    """A multipart file part of a request (e.g. ``photo`` of an uploading ``sendPhoto``)."""

    field: str
    filename: str
    content_type: str
    content: bytes

    def __repr__(self) -> str:
        return f"<upload {self.filename!r} {self.content_type} {len(self.content)} bytes>"


@dataclass
class StoredFile:
    """A file the fake can serve through ``getFile`` and ``/file/bot{token}/{file_path}``."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    kind: str = "document"


@dataclass
class Call:
    """One request the fake received.

    ``params`` are decoded (ints, bools, JSON objects; uploads appear as :class:`UploadedFile`).
    ``time`` is ``time.monotonic()`` at arrival. ``status`` (HTTP status, ``None`` while the
    request is still being processed or when the connection was dropped) and ``response``
    (``result`` on success, the error description otherwise) are filled in when it completes.
    """

    method: str
    params: dict[str, Any]
    time: float
    status: int | None = None
    response: Any = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class _Fault:
    kind: str  # "fail" | "drop" | "delay" | "during"
    method: str  # lower-cased method name or "*"
    times: int
    chat_id: int | str | None = None
    status: int = 429
    retry_after: int = 1
    description: str | None = None
    seconds: float = 0.0
    action: Callable[[], Awaitable[None]] | None = None

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.method not in ("*", method.lower()):
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


class _Drop(Exception):
    """Close the connection without answering."""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())


def _unique_id() -> str:
    return uuid.uuid4().hex[:16]


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _decode_param(key: str, value: Any) -> Any:
    """Decode one form value the way the Bot API does (PTB sends non-str values as JSON)."""
    if not isinstance(value, str):
        return value
    if key in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in _INT_PARAMS:
        try:
            return int(value)
        except ValueError:
            return value
    if key in _BOOL_PARAMS:
        return value.strip().lower() in ("true", "1")
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise _bad(f"invalid {name} specified") from None


def _entity(kind: str, offset: int, length: int, **extra: Any) -> dict[str, Any]:
    ent: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    ent.update({k: v for k, v in extra.items() if v is not None})
    return ent


def _sorted_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (e for e in entities if e["length"] > 0), key=lambda e: (e["offset"], -e["length"])
    )


def _command_entities(text: str) -> list[dict[str, Any]]:
    """A ``bot_command`` entity for a leading ``/command`` (with optional ``@botname``)."""
    if not text.startswith("/"):
        return []
    match = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?", text)
    if not match:
        return []
    return [_entity("bot_command", 0, _u16(match.group(0)))]


# --------------------------------------------------------------------------------------------
# parse_mode: HTML / MarkdownV2 / Markdown -> (plain text, entities)
# --------------------------------------------------------------------------------------------

_HTML_ENTITY_RE = re.compile(r"&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|(lt|gt|amp|quot));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def _parse_error(detail: str) -> ApiError:
    return _bad(f"can't parse entities: {detail}")


def _html_unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1)))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _HTML_NAMED[m.group(3)]

    return _HTML_ENTITY_RE.sub(repl, text)


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode())


def _parse_html_attrs(src: str, j: int, tag_at: int) -> tuple[dict[str, str], int]:
    attrs: dict[str, str] = {}
    n = len(src)

    def unclosed() -> ApiError:
        return _parse_error(f"Unclosed start tag at byte offset {_byte_offset(src, tag_at)}")

    while True:
        while j < n and src[j].isspace():
            j += 1
        if j >= n:
            raise unclosed()
        if src[j] == ">":
            return attrs, j + 1
        k = j
        while k < n and not src[k].isspace() and src[k] not in "=>":
            k += 1
        if k >= n:
            raise unclosed()
        name = src[j:k].lower()
        value = ""
        if src[k] == "=":
            k += 1
            if k < n and src[k] in "\"'":
                end = src.find(src[k], k + 1)
                if end == -1:
                    raise unclosed()
                value = _html_unescape(src[k + 1 : end])
                k = end + 1
            else:
                end = k
                while end < n and not src[end].isspace() and src[end] != ">":
                    end += 1
                value = _html_unescape(src[k:end])
                k = end
        attrs[name] = value
        j = k


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML like the Bot API does (modelled on tdlib's parser).

    Returns the plain text and its entities; raises :class:`ApiError` 400
    "can't parse entities: ..." for what Telegram rejects (unknown tags such as ``<br>`` or a
    stray ``<`` from unescaped user input, unbalanced tags).
    """
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    # (tag, utf16 start, attrs)
    stack: list[tuple[str, int, dict[str, str]]] = []
    pos = 0  # utf16 length of out
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "&":
            m = _HTML_ENTITY_RE.match(src, i)
            ch = _html_unescape(m.group(0)) if m else "&"
            out.append(ch)
            pos += _u16(ch)
            i = m.end() if m else i + 1
            continue
        if c != "<":
            out.append(c)
            pos += _u16(c)
            i += 1
            continue
        tag_at = i
        if i + 1 < n and src[i + 1] == "/":
            end = src.find(">", i)
            if end == -1:
                raise _parse_error(f"Unclosed end tag at byte offset {_byte_offset(src, i)}")
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
            open_tag, start, attrs = stack.pop()
            if name != open_tag:
                raise _parse_error(
                    f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                    f'expected "</{open_tag}>", found "</{name}>"'
                )
            length = pos - start
            kind = _HTML_TAGS[open_tag]
            if kind == "text_link":
                if attrs.get("href"):
                    entities.append(_entity(kind, start, length, url=attrs["href"]))
            elif kind == "code" and stack and stack[-1][0] == "pre":
                lang = attrs.get("class", "")
                if lang.startswith("language-"):
                    stack[-1][2]["language"] = lang.removeprefix("language-")
                else:
                    entities.append(_entity(kind, start, length))
            elif kind == "pre":
                entities.append(_entity(kind, start, length, language=attrs.get("language")))
            elif kind == "blockquote":
                kind = "expandable_blockquote" if "expandable" in attrs else kind
                entities.append(_entity(kind, start, length))
            elif kind == "custom_emoji":
                if attrs.get("emoji-id"):
                    entities.append(_entity(kind, start, length, custom_emoji_id=attrs["emoji-id"]))
            else:
                entities.append(_entity(kind, start, length))
            i = end + 1
            continue
        j = i + 1
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        name = src[i + 1 : j].lower()
        if j >= n:
            raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
        if name not in _HTML_TAGS:
            raise _parse_error(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
            )
        attrs, i = _parse_html_attrs(src, j, tag_at)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _parse_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(src, tag_at)}"
            )
        stack.append((name, pos, attrs))
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), _sorted_entities(entities)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 like the Bot API: unescaped reserved characters are errors.

    Blockquotes (``>`` at line start) are recognised; the rarely used expandable form is not.
    """
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[list[Any]] = []  # [kind, utf16 start, byte offset, extra]
    pos = 0
    quote_start: int | None = None
    i = 0
    n = len(src)

    def emit(text: str) -> None:
        nonlocal pos
        out.append(text)
        pos += _u16(text)

    def toggle(kind: str, at: int) -> None:
        if stack and stack[-1][0] == kind:
            _, start, _, extra = stack.pop()
            entities.append(_entity(kind, start, pos - start, **extra))
        else:
            stack.append([kind, pos, _byte_offset(src, at), {}])

    while i < n:
        c = src[i]
        at_line_start = i == 0 or src[i - 1] == "\n"
        if at_line_start and quote_start is not None and c != ">":
            # the quote ended with the previous line (its trailing newline excluded)
            end = pos - 1 if out and out[-1].endswith("\n") else pos
            entities.append(_entity("blockquote", quote_start, end - quote_start))
            quote_start = None
        if c == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            emit(src[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        if top == "pre":
            if src.startswith("```", i):
                toggle("pre", i)
                i += 3
            else:
                emit(c)
                i += 1
            continue
        if top == "code":
            if c == "`":
                toggle("code", i)
            else:
                emit(c)
            i += 1
            continue
        if c not in _MDV2_RESERVED:
            emit(c)
            i += 1
            continue
        if c == ">" and at_line_start and not stack:
            if quote_start is None:
                quote_start = pos
            i += 1
            continue
        if c == "*":
            toggle("bold", i)
            i += 1
        elif c == "~":
            toggle("strikethrough", i)
            i += 1
        elif c == "_":
            if src.startswith("__", i) and not (top == "italic" and not src.startswith("___", i)):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
        elif c == "|" and src.startswith("||", i):
            toggle("spoiler", i)
            i += 2
        elif c == "`":
            if src.startswith("```", i):
                j = i + 3
                nl = src.find("\n", j)
                language = src[j:nl] if nl != -1 and src[j:nl] and " " not in src[j:nl] else None
                stack.append(["pre", pos, _byte_offset(src, i), {"language": language}])
                i = nl + 1 if language is not None else j
            else:
                stack.append(["code", pos, _byte_offset(src, i), {}])
                i += 1
        elif c == "[":
            stack.append(["text_link", pos, _byte_offset(src, i), {}])
            i += 1
        elif c == "]" and top == "text_link":
            _, start, _, _ = stack.pop()
            i += 1
            url = ""
            if i < n and src[i] == "(":
                j = i + 1
                parts: list[str] = []
                while j < n and src[j] != ")":
                    if src[j] == "\\" and j + 1 < n:
                        parts.append(src[j + 1])
                        j += 2
                    else:
                        parts.append(src[j])
                        j += 1
                if j >= n:
                    raise _parse_error(
                        f"Can't find end of a URL at byte offset {_byte_offset(src, i)}"
                    )
                url = "".join(parts)
                i = j + 1
            if url:
                entities.append(_entity("text_link", start, pos - start, url=url))
        else:
            raise _parse_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        kind, _, offset, _ = stack[-1]
        raise _parse_error(f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {offset}")
    if quote_start is not None:
        entities.append(_entity("blockquote", quote_start, pos - quote_start))
    return "".join(out), _sorted_entities(entities)


def parse_markdown(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy ``Markdown``: ``*bold*``, ``_italic_``, ```code```, ``[text](url)``."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    pos = 0
    i = 0
    n = len(src)

    def emit(text: str) -> None:
        nonlocal pos
        out.append(text)
        pos += _u16(text)

    def unclosed(at: int) -> ApiError:
        return _parse_error(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, at)}"
        )

    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            emit(src[i + 1])
            i += 2
        elif c in "*_":
            end = src.find(c, i + 1)
            if end == -1:
                raise unclosed(i)
            start = pos
            emit(src[i + 1 : end])
            entities.append(_entity("bold" if c == "*" else "italic", start, pos - start))
            i = end + 1
        elif c == "`":
            if src.startswith("```", i):
                end = src.find("```", i + 3)
                if end == -1:
                    raise unclosed(i)
                body = src[i + 3 : end]
                language = None
                first, sep, rest = body.partition("\n")
                if sep and first and " " not in first:
                    language, body = first, rest
                start = pos
                emit(body)
                entities.append(_entity("pre", start, pos - start, language=language))
                i = end + 3
            else:
                end = src.find("`", i + 1)
                if end == -1:
                    raise unclosed(i)
                start = pos
                emit(src[i + 1 : end])
                entities.append(_entity("code", start, pos - start))
                i = end + 1
        elif c == "[":
            close = src.find("]", i + 1)
            if close == -1 or not src.startswith("(", close + 1):
                raise unclosed(i)
            url_end = src.find(")", close + 2)
            if url_end == -1:
                raise unclosed(i)
            start = pos
            emit(src[i + 1 : close])
            entities.append(_entity("text_link", start, pos - start, url=src[close + 2 : url_end]))
            i = url_end + 1
        else:
            emit(c)
            i += 1
    return "".join(out), _sorted_entities(entities)


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Apply ``parse_mode`` (or explicit ``entities``) the way the Bot API does."""
    if entities:
        return text, list(entities)
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return text, []
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise _bad(f"unsupported parse_mode {parse_mode!r}")


# --------------------------------------------------------------------------------------------
# Update builders
# --------------------------------------------------------------------------------------------


@dataclass
class TgUser:
    """A Telegram user whose private-chat activity can be turned into update dicts.

    Builders return plain ``dict`` updates without ``update_id`` and usually without
    ``message_id``: :meth:`FakeTelegramAPI.push_update` (and ``post_webhook``) fill both in,
    numbering message ids per chat like Telegram does (user and bot messages share a sequence).
    """

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The ``User`` object (the ``from`` of messages and callback queries)."""
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name is not None:
            user["last_name"] = self.last_name
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user

    def chat(self) -> dict[str, Any]:
        """The private ``Chat`` with this user."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        return chat

    def _message(
        self,
        key: str = "message",
        *,
        chat: dict[str, Any] | None = None,
        message_id: int | None = None,
        reply_to_message_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"date": _now(), "chat": chat or self.chat(), "from": self.to_dict()}
        if message_id is not None:
            msg["message_id"] = message_id
        if reply_to_message_id is not None:
            msg["reply_to_message"] = {"message_id": reply_to_message_id}
        msg.update(content)
        return {key: msg}

    def text(
        self, text: str, *, message_id: int | None = None, reply_to_message_id: int | None = None
    ) -> dict[str, Any]:
        """A text message; a leading ``/command`` gets its ``bot_command`` entity."""
        extra: dict[str, Any] = {}
        if entities := _command_entities(text):
            extra["entities"] = entities
        return self._message(
            message_id=message_id, reply_to_message_id=reply_to_message_id, text=text, **extra
        )

    def command(self, command: str, args: str = "") -> dict[str, Any]:
        """``/command args`` (``command`` with or without the slash)."""
        return self.text(f"/{command.lstrip('/')} {args}".rstrip())

    def press(
        self,
        data: str,
        message_id: int,
        *,
        chat_id: int | None = None,
        query_id: str | None = None,
    ) -> dict[str, Any]:
        """A callback query: the user pressed a button with ``data`` under ``message_id``.

        When the fake knows that message it substitutes its current state (text, keyboard),
        so handlers see what Telegram would send.
        """
        chat = self.chat() if chat_id is None else _chat_stub(chat_id)
        message = {
            "message_id": message_id,
            "date": _now(),
            "chat": chat,
            "from": dict(BOT_USER),
            "text": "",
        }
        return {
            "callback_query": {
                "id": query_id or str(uuid.uuid4().int >> 64),
                "from": self.to_dict(),
                "chat_instance": str(abs(hash(("chat", chat["id"]))) % 10**18),
                "data": data,
                "message": message,
            }
        }

    def contact(
        self,
        phone_number: str,
        *,
        user_id: int | EllipsisType | None = ...,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """A shared contact. By default the user's own (``user_id`` = the user's id, as sent by
        a ``request_contact`` button); pass ``user_id=None`` or another id for someone else's."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
        }
        last = last_name
        if last is None and first_name is None:
            last = self.last_name
        if last:
            contact["last_name"] = last
        uid = self.id if user_id is ... else user_id
        if uid is not None:
            contact["user_id"] = uid
        return self._message(contact=contact)

    def photo(
        self,
        *,
        caption: str | None = None,
        file_id: str | None = None,
        content: bytes | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> dict[str, Any]:
        """A photo message with two sizes; ``message["photo"][-1]`` is the largest.

        ``content`` becomes the bytes served for the largest size (the fake registers it on
        push); otherwise placeholder bytes are served.
        """
        base = file_id or f"AgAC{_unique_id()}"
        data = content if content is not None else b"\xff\xd8\xff\xe0fake-jpeg:" + base.encode()
        sizes = [
            {
                "file_id": f"{base}-s",
                "file_unique_id": f"{base}-us",
                "width": max(1, width * 90 // max(width, height)),
                "height": max(1, height * 90 // max(width, height)),
                "file_size": max(1, len(data) // 10),
            },
            {
                "file_id": base,
                "file_unique_id": f"{base}-u",
                "width": width,
                "height": height,
                "file_size": len(data),
            },
        ]
        extra: dict[str, Any] = {"caption": caption} if caption is not None else {}
        update = self._message(photo=sizes, **extra)
        if content is not None:
            update["_fake_files"] = {base: content}
        return update

    def document(
        self,
        file_name: str = "document.pdf",
        *,
        mime_type: str | None = None,
        content: bytes | None = None,
        caption: str | None = None,
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """A document message; ``content`` is served on download (registered on push)."""
        fid = file_id or f"BQAC{_unique_id()}"
        data = content if content is not None else b"fake-document:" + fid.encode()
        doc = {
            "file_id": fid,
            "file_unique_id": f"{fid}-u",
            "file_name": file_name,
            "mime_type": mime_type or _guess_mime(file_name),
            "file_size": len(data),
        }
        extra: dict[str, Any] = {"caption": caption} if caption is not None else {}
        update = self._message(document=doc, **extra)
        if content is not None:
            update["_fake_files"] = {fid: content}
        return update

    def sticker(self, emoji: str = "👍", *, file_id: str | None = None) -> dict[str, Any]:
        """A (static, regular) sticker message."""
        fid = file_id or f"CAAC{_unique_id()}"
        sticker = {
            "file_id": fid,
            "file_unique_id": f"{fid}-u",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 1024,
        }
        return self._message(sticker=sticker)

    def poll(
        self,
        question: str = "Is the VPN down?",
        options: Sequence[str] = ("Yes", "No"),
        *,
        allows_multiple_answers: bool = False,
    ) -> dict[str, Any]:
        """A message carrying a (regular, non-anonymous) poll the user created."""
        poll = {
            "id": str(uuid.uuid4().int >> 64),
            "question": question,
            "options": [
                {"text": text, "voter_count": 0, "persistent_id": str(index)}
                for index, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": False,
            "type": "regular",
            "allows_multiple_answers": allows_multiple_answers,
            "allows_revoting": True,  # required since Bot API 9.6
            "members_only": False,  # required since Bot API 10.0
        }
        return self._message(poll=poll)

    def location(self, latitude: float = 52.52, longitude: float = 13.405) -> dict[str, Any]:
        return self._message(location={"latitude": latitude, "longitude": longitude})

    def edited(self, message_id: int, text: str) -> dict[str, Any]:
        """``edited_message``: the user edited their message ``message_id`` to ``text``."""
        extra: dict[str, Any] = {}
        if entities := _command_entities(text):
            extra["entities"] = entities
        return self._message(
            "edited_message", message_id=message_id, text=text, edit_date=_now(), **extra
        )

    def group_text(
        self,
        text: str,
        *,
        chat_id: int = -987654321,
        title: str = "IT Support",
        chat_type: str = "group",
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A text message from this user in a group (``chat_type`` "group" or "supergroup");
        ``thread_id`` puts it in a forum topic (the fake fills in the topic's chat and the
        reply to the topic's first message, as Telegram does), ``reply_to_message_id`` makes it
        a reply."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = {"id": chat_id, "type": chat_type, "title": title}
        extra: dict[str, Any] = {}
        if entities := _command_entities(text):
            extra["entities"] = entities
        if thread_id is not None:
            extra |= {"message_thread_id": thread_id, "is_topic_message": True}
        return self._message(chat=chat, text=text, reply_to_message_id=reply_to_message_id, **extra)


def channel_post(
    text: str, *, chat_id: int = -1001234567890, title: str = "IT Announcements"
) -> dict[str, Any]:
    """A ``channel_post`` update (no ``from``; the channel is the ``sender_chat``)."""
    chat = {"id": chat_id, "type": "channel", "title": title}
    return {"channel_post": {"date": _now(), "chat": chat, "sender_chat": dict(chat), "text": text}}


def _chat_stub(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    if str(chat_id).startswith("-100"):
        return {"id": chat_id, "type": "supergroup", "title": f"Chat {chat_id}"}
    return {"id": chat_id, "type": "group", "title": f"Chat {chat_id}"}


_MIME_BY_EXT = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".zip": "application/zip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _guess_mime(file_name: str) -> str:
    ext = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return _MIME_BY_EXT.get(ext, "application/octet-stream")


_FILE_KINDS = {
    "photo": ("photos", ".jpg"),
    "document": ("documents", ""),
    "sticker": ("stickers", ".webp"),
    "video": ("videos", ".mp4"),
    "animation": ("animations", ".mp4"),
    "audio": ("music", ".mp3"),
    "voice": ("voice", ".oga"),
    "video_note": ("video_notes", ".mp4"),
}


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------

Handler = Callable[[Call], Awaitable[Any]]
CustomHandler = Callable[[Call], Any]


class FakeTelegramAPI:
    """An in-process Bot API server on ``127.0.0.1:<free port>``.

    Args:
        token: the only accepted bot token.
        enforce_limits: answer 429 when the bot exceeds Telegram's flood limits on sending
            methods (``send*`` except ``sendChatAction``, ``copyMessage``, ``forwardMessage``):
            one message per ``private_interval`` seconds per private chat on average, with short
            bursts of up to ``private_burst`` (Telegram: "avoid sending more than one message per
            second. We may allow short bursts that go over this limit"; the size is not
            published), ``group_per_minute`` per group/channel, ``global_per_second`` overall.
            ``limit_tolerance`` (5%) forgives timer jitter. Violations are counted in
            :attr:`rate_limited`.
        webhook_retry_delay: pause before re-delivering an update the webhook did not accept.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        enforce_limits: bool = False,
        private_interval: float = 1.0,
        private_burst: int = 3,
        group_per_minute: int = 20,
        global_per_second: int = 30,
        limit_tolerance: float = 0.05,
        webhook_retry_delay: float = 0.2,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.enforce_limits = enforce_limits
        self.private_interval = private_interval
        self.private_burst = private_burst
        self.group_per_minute = group_per_minute
        self.global_per_second = global_per_second
        self.limit_tolerance = limit_tolerance
        self.webhook_retry_delay = webhook_retry_delay

        # what happened
        self.calls: list[Call] = []
        self.sent: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []  # every update pushed or posted, in order
        self.deleted: list[tuple[int, int]] = []  # (chat_id, message_id)
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.reply_keyboards: dict[int, dict[str, Any] | None] = {}
        self.rate_limited = 0
        self.privacy_mode = True  # @BotFather's /setprivacy; getMe reports it

        # state
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self.blocked: set[int] = set()
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.descriptions: dict[str, dict[str, str]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._open_queries: set[str] = set()
        self._files: dict[str, StoredFile] = {}
        self._paths: dict[str, StoredFile] = {}
        self._photo_sizes: dict[str, list[dict[str, Any]]] = {}
        self._file_seq = itertools.count(1)
        self._faults: list[_Fault] = []
        self._custom: dict[str, tuple[str, CustomHandler]] = {}
        self._private_tokens: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._group_sends: dict[int, deque[float]] = {}
        self._global_sends: deque[float] = deque()
        # groups: members by chat (ChatMember dicts, the bot's own included) and forum topics
        self.members: dict[int, dict[int, dict[str, Any]]] = {}
        self.topics: dict[tuple[int, int], dict[str, Any]] = {}
        self.reactions: dict[tuple[int, int], list[dict[str, Any]]] = {}

        # plumbing
        self._updates_changed = asyncio.Event()
        self._activity = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._port: int | None = None
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._set_description,
                "getMyDescription": self._get_description,
                "setMyShortDescription": self._set_description,
                "getMyShortDescription": self._get_description,
                "setMyName": self._set_description,
                "getMyName": self._get_description,
                "setChatMenuButton": self._set_menu_button,
                "getChatMenuButton": self._get_menu_button,
                "getChat": self._get_chat,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendChatAction": self._send_chat_action,
                "copyMessage": self._copy_message,
                "forwardMessage": self._forward_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "getFile": self._get_file,
                "getChatMember": self._get_chat_member,
                "createForumTopic": self._create_forum_topic,
                "editForumTopic": self._edit_forum_topic,
                "closeForumTopic": self._close_forum_topic,
                "reopenForumTopic": self._reopen_forum_topic,
                "setMessageReaction": self._set_message_reaction,
            }.items()
        }

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only valid after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeTelegramAPI is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        self._closing.clear()
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._closing.set()
        self._wake_pollers()
        await self._stop_webhook_worker()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- injection

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for ``getUpdates`` (or the webhook, if one is set).

        Fills in ``update_id`` (an explicit one is kept, so duplicates can be tested),
        ``message_id``/``date`` of contained messages, registers files and callback query ids,
        and wakes long-polling ``getUpdates``. Returns the ``update_id``.
        """
        update = self._prepare_update(update)
        self._pending.append(update)
        self._wake_pollers()
        self._ensure_webhook_worker()
        return int(update["update_id"])

    async def post_webhook(
        self, url: str, update: dict[str, Any], secret: str | None = None
    ) -> int:
        """POST ``update`` (prepared like :meth:`push_update`) as Telegram would deliver it to a
        webhook, with ``X-Telegram-Bot-Api-Secret-Token`` when ``secret`` is given.
        Returns the HTTP status (0 when the connection failed)."""
        update = self._prepare_update(update)
        try:
            return await self._deliver(url, update, secret)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return 0

    def register_file(
        self,
        content: bytes,
        *,
        kind: str = "document",
        file_id: str | None = None,
        file_unique_id: str | None = None,
        file_name: str | None = None,
    ) -> StoredFile:
        """Make ``content`` downloadable under ``file_id`` (generated when omitted)."""
        fid = file_id or f"{kind[:2].upper()}AC{_unique_id()}"
        folder, ext = _FILE_KINDS.get(kind, ("documents", ""))
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[-1]
        path = f"{folder}/file_{next(self._file_seq)}{ext}"
        stored = StoredFile(fid, file_unique_id or f"{fid}-u", path, content, kind)
        old = self._files.get(fid)
        if old is not None:
            self._paths.pop(old.file_path, None)
        self._files[fid] = stored
        self._paths[path] = stored
        return stored

    def files(self) -> dict[str, StoredFile]:
        """Known files by ``file_id``."""
        return dict(self._files)

    # ---------------------------------------------------------------- faults & switches

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with an error.

        ``method`` is case-insensitive, ``"*"`` matches any method; ``chat_id`` restricts to
        requests for that chat. 429 carries ``parameters.retry_after``; the description
        defaults to what Telegram says for the status.
        """
        self._faults.append(
            _Fault(
                "fail",
                method.lower(),
                times,
                chat_id=chat_id,
                status=status,
                retry_after=retry_after,
                description=description,
            )
        )

    def drop_next(self, method: str, times: int = 1, *, chat_id: int | str | None = None) -> None:
        """Close the connection of the next ``times`` matching requests without answering
        (PTB sees ``NetworkError``). The request is *not* executed."""
        self._faults.append(_Fault("drop", method.lower(), times, chat_id=chat_id))

    def delay_next(
        self, method: str, seconds: float, times: int = 1, *, chat_id: int | str | None = None
    ) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before handling them."""
        self._faults.append(
            _Fault("delay", method.lower(), times, chat_id=chat_id, seconds=seconds)
        )

    def during_next(
        self,
        method: str,
        action: Callable[[], Awaitable[None]],
        times: int = 1,
        *,
        chat_id: int | str | None = None,
    ) -> None:
        """Await ``action`` while the next ``times`` matching requests are in flight, before
        they are handled and answered: e.g. a change a test makes while a message is sent."""
        self._faults.append(_Fault("during", method.lower(), times, chat_id=chat_id, action=action))

    def clear_faults(self) -> None:
        self._faults.clear()

    def block_chat(self, chat_id: int) -> None:
        """From now on every request for ``chat_id`` answers 403 ("bot was blocked by the user";
        for groups "bot was kicked from the group chat")."""
        self.blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    def add_group(
        self,
        chat_id: int,
        title: str = "IT Support",
        *,
        forum: bool = False,
        bot_status: str = "administrator",
        bot_rights: Iterable[str] = ADMIN_RIGHTS,
    ) -> None:
        """A supergroup the bot is in (``forum``: topics enabled), as ``bot_status``
        ("administrator" with ``bot_rights``, or "member")."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": title}
        if forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        self.set_member(chat_id, BOT_USER, bot_status, rights=bot_rights)

    def set_member(
        self,
        chat_id: int,
        user: TgUser | dict[str, Any],
        status: str = "member",
        *,
        rights: Iterable[str] = (),
    ) -> None:
        """``user``'s membership of a group: "creator", "administrator" (with ``rights``),
        "member", "left" or "kicked"."""
        user_dict = user.to_dict() if isinstance(user, TgUser) else dict(user)
        member: dict[str, Any] = {"status": status, "user": user_dict}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            granted = set(rights)
            member |= {"can_be_edited": False, "is_anonymous": False}
            member |= {right: right in granted for right in ADMIN_RIGHTS}
        elif status == "kicked":
            member["until_date"] = 0
        self.members.setdefault(chat_id, {})[int(user_dict["id"])] = member

    def topic(self, chat_id: int, thread_id: int) -> dict[str, Any] | None:
        """A forum topic as the fake keeps it: name, icon_color, is_closed."""
        found = self.topics.get((chat_id, thread_id))
        return copy.deepcopy(found) if found is not None else None

    def messages_in(self, chat_id: int, thread_id: int) -> list[dict[str, Any]]:
        """What the bot sent (or edited) into the forum topic ``thread_id``."""
        return [m for m in self.messages_to(chat_id) if m.get("message_thread_id") == thread_id]

    def set_handler(self, method: str, handler: CustomHandler) -> None:
        """Implement (or override) ``method``: ``handler(call)`` returns the ``result`` (may be
        a coroutine) or raises :class:`ApiError`."""
        self._custom[method.lower()] = (method, handler)

    # ---------------------------------------------------------------- inspection

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a ``getUpdates`` offset / accepted by the webhook."""
        return list(self._pending)

    def calls_of(self, method: str) -> list[Call]:
        low = method.lower()
        return [c for c in self.calls if c.method.lower() == low]

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Everything the bot sent to ``chat_id`` (texts, photos, documents) in order, edits
        included (those carry ``edit_date``). ``reply_markup`` is the markup as requested."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts/captions from :meth:`messages_to`."""
        return [_content_text(m) for m in self.messages_to(chat_id)]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Current state of a (not deleted) message, as Telegram would return it."""
        msg = self._messages.get((chat_id, message_id))
        return copy.deepcopy(msg) if msg is not None else None

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard (``ReplyKeyboardMarkup`` dict) the user currently sees."""
        return self.reply_keyboards.get(chat_id)

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return list(self.commands.get(_commands_key(scope, language_code), []))

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented API of this helper
        *,
        since: int = 0,
    ) -> Call:
        """Wait until a call (among ``calls[since:]``, past ones included) satisfies
        ``predicate``. Raises ``AssertionError`` with a dump of recent calls on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settled = since  # calls before this index were complete and did not match
        while True:
            event = self._activity
            for index in range(settled, len(self.calls)):
                call = self.calls[index]
                if predicate(call):
                    return call
                if index == settled and call.status is not None:
                    settled += 1
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching call within {timeout}s; recent calls:\n{self.dump_calls()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented API of this helper
        *,
        since: int = 0,
    ) -> dict[str, Any]:
        """Wait until a message (in ``sent[since:]``) to ``chat_id`` whose text/caption contains
        ``contains`` (any message if ``None``) was sent or edited; returns it.

        Pass ``since=len(api.sent)`` to ignore what was sent before."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = since
        while True:
            event = self._activity
            for msg in self.sent[checked:]:
                if msg["chat"]["id"] == chat_id and (
                    contains is None or contains in _content_text(msg)
                ):
                    return msg
            checked = max(checked, len(self.sent))
            remaining = deadline - loop.time()
            if remaining <= 0:
                texts = "\n".join(f"  {t!r}" for t in self.texts_to(chat_id)[-10:]) or "  (none)"
                raise AssertionError(
                    f"no message to {chat_id} containing {contains!r} within {timeout}s.\n"
                    f"messages to that chat:\n{texts}\nrecent calls:\n{self.dump_calls()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def changed(self) -> None:
        """Return when the fake next records or finishes a request (for live viewers)."""
        await self._activity.wait()

    def dump_calls(self, last: int = 20) -> str:
        """Readable one-line-per-call summary of the last ``last`` calls."""
        lines = []
        for call in self.calls[-last:]:
            params = {k: v for k, v in call.params.items() if k not in ("timeout", "offset")}
            text = json.dumps(params, ensure_ascii=False, default=repr)
            if len(text) > 160:
                text = text[:157] + "..."
            status = "pending" if call.status is None else call.status
            err = f" {call.response}" if call.status not in (None, 200) else ""
            lines.append(f"  {call.method} [{status}]{err} {text}")
        return "\n".join(lines) or "  (no calls)"

    # ---------------------------------------------------------------- HTTP plumbing

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in request.query.items():
            params[key] = _decode_param(key, value)
        if request.method not in ("POST", "PUT") or not request.can_read_body:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON object") from None
            if isinstance(body, dict):
                for key, value in body.items():
                    params[key] = _decode_param(key, value)
            return params
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = UploadedFile(
                    key,
                    value.filename,
                    value.content_type,
                    value.file.read(),
                )
            else:
                params[key] = _decode_param(key, value)
        return params

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify()

    def _notify(self) -> None:
        event, self._activity = self._activity, asyncio.Event()
        event.set()

    def _wake_pollers(self) -> None:
        event, self._updates_changed = self._updates_changed, asyncio.Event()
        event.set()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but return early when the server is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    @staticmethod
    def _error_response(exc: ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return web.json_response(body, status=exc.code)

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return self._error_response(ApiError(404, "Not Found"))

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        raw_method = request.match_info["method"]
        entry = self._methods.get(raw_method.lower())
        custom = self._custom.get(raw_method.lower())
        name = custom[0] if custom else entry[0] if entry else raw_method
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            params = {}
            call = Call(name, params, time.monotonic())
            self._record(call)
            return self._finish_error(call, exc)
        call = Call(name, params, time.monotonic())
        self._record(call)
        try:
            result = await self._process(call, request.match_info["token"], entry, custom)
        except _Drop:
            if request.transport is not None:
                request.transport.close()
            call.response = "<connection dropped>"
            self._notify()
            return web.Response()
        except ApiError as exc:
            return self._finish_error(call, exc)
        call.status = 200
        call.response = result
        self._notify()
        return web.json_response({"ok": True, "result": result})

    def _finish_error(self, call: Call, exc: ApiError) -> web.Response:
        call.status = exc.code
        call.response = exc.description
        self._notify()
        return self._error_response(exc)

    async def _process(
        self,
        call: Call,
        token: str,
        entry: tuple[str, Handler] | None,
        custom: tuple[str, CustomHandler] | None,
    ) -> Any:
        if token != self.token:
            if ":" not in token:
                raise ApiError(404, "Not Found")
            raise ApiError(401, "Unauthorized")
        delay = self._take_fault("delay", call)
        if delay is not None:
            await self._sleep(delay.seconds)
        during = self._take_fault("during", call)
        if during is not None and during.action is not None:
            await during.action()
        if self._take_fault("drop", call) is not None:
            raise _Drop
        fail = self._take_fault("fail", call)
        if fail is not None:
            raise _fault_error(fail)
        if custom is not None:
            result = custom[1](call)
            return await result if inspect.isawaitable(result) else result
        if entry is None:
            raise ApiError(404, "Not Found")
        chat_id = call.params.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self.blocked:
            raise ApiError(403, self._blocked_description(chat_id))
        limited = (
            self.enforce_limits and chat_id is not None and _is_rate_limited_method(call.method)
        )
        if limited:
            self._check_limits(self._chat_id(call))
        # No await happens between the limit check and the send handlers' bookkeeping, so
        # concurrent requests cannot slip through together.
        result = await entry[1](call)
        if limited:
            self._count_send(self._chat_id(call))
        return result

    def _take_fault(self, kind: str, call: Call) -> _Fault | None:
        for fault in self._faults:
            if fault.kind == kind and fault.matches(call.method, call.params):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _blocked_description(self, chat_id: int) -> str:
        kind = self._chat(chat_id)["type"]
        if kind == "private":
            return "Forbidden: bot was blocked by the user"
        if kind == "channel":
            return "Forbidden: bot is not a member of the channel chat"
        return f"Forbidden: bot was kicked from the {kind} chat"

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        call = Call("download", {"file_path": path}, time.monotonic())
        self._record(call)
        stored = self._paths.get(path)
        if request.match_info["token"] != self.token or stored is None:
            return self._finish_error(call, ApiError(404, "Not Found"))
        call.status = 200
        call.response = len(stored.content)
        self._notify()
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # ---------------------------------------------------------------- rate limits

    def _check_limits(self, chat_id: int) -> None:
        now = time.monotonic()
        slack = 1.0 - self.limit_tolerance
        window = 1.0 * slack
        while self._global_sends and now - self._global_sends[0] >= window:
            self._global_sends.popleft()
        if len(self._global_sends) >= self.global_per_second:
            self._limit(self._global_sends[0] + window - now)
        if self._chat(chat_id)["type"] == "private":
            tokens = self._private_bucket(chat_id, now)
            if tokens < 1.0:
                self._limit((1.0 - tokens) * self.private_interval * slack)
        else:
            window = 60.0 * slack
            sends = self._group_sends.get(chat_id)
            if sends is not None:
                while sends and now - sends[0] >= window:
                    sends.popleft()
                if len(sends) >= self.group_per_minute:
                    self._limit(sends[0] + window - now)

    def _private_bucket(self, chat_id: int, now: float) -> float:
        """Tokens in a private chat's bucket: ``private_burst`` at most, one more every
        ``private_interval`` (less the tolerance)."""
        spacing = max(1e-6, self.private_interval * (1.0 - self.limit_tolerance))
        full = float(self.private_burst)
        tokens, at = self._private_tokens.get(chat_id, (full, now))
        return min(full, tokens + (now - at) / spacing)

    def _limit(self, wait: float) -> None:
        self.rate_limited += 1
        retry_after = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    def _count_send(self, chat_id: int) -> None:
        now = time.monotonic()
        self._global_sends.append(now)
        if self._chat(chat_id)["type"] == "private":
            self._private_tokens[chat_id] = (self._private_bucket(chat_id, now) - 1.0, now)
        else:
            self._group_sends.setdefault(chat_id, deque()).append(now)

    # ---------------------------------------------------------------- updates bookkeeping

    def _prepare_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update = copy.deepcopy(update)
        contents: dict[str, bytes] = update.pop("_fake_files", None) or {}
        if "update_id" in update:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        for key in _MESSAGE_KEYS:
            msg = update.get(key)
            if isinstance(msg, dict):
                self._observe_message(msg, contents, new=not key.startswith("edited"))
        query = update.get("callback_query")
        if isinstance(query, dict):
            query.setdefault("id", str(uuid.uuid4().int >> 64))
            query.setdefault("chat_instance", "0")
            self._open_queries.add(str(query["id"]))
            msg = query.get("message")
            if isinstance(msg, dict) and "chat" in msg and "message_id" in msg:
                known = self._messages.get((msg["chat"]["id"], msg["message_id"]))
                if known is not None:
                    query["message"] = copy.deepcopy(known)
        self.updates.append(update)
        return copy.deepcopy(update)

    def _observe_message(
        self, msg: dict[str, Any], contents: dict[str, bytes], *, new: bool
    ) -> None:
        chat = msg.get("chat")
        if not isinstance(chat, dict) or "id" not in chat:
            raise ValueError(f"message without chat: {msg!r}")
        chat_id = int(chat["id"])
        # Telegram describes the chat as it is (a forum stays a forum, whatever the test wrote)
        self._chats[chat_id] = {**self._chats.get(chat_id, {}), **chat}
        msg["chat"] = dict(self._chats[chat_id])
        msg.setdefault("date", _now())
        if "message_id" not in msg:
            msg["message_id"] = self._new_message_id(chat_id)
        else:
            self._next_message_id[chat_id] = max(
                self._next_message_id.get(chat_id, 1), int(msg["message_id"]) + 1
            )
        thread = msg.get("message_thread_id")
        if thread is not None and "reply_to_message" not in msg:
            starter = self._messages.get((chat_id, int(thread)))
            if starter is not None:
                msg["reply_to_message"] = _without_reply(starter)
        reply = msg.get("reply_to_message")
        if isinstance(reply, dict) and set(reply) == {"message_id"}:
            known = self._messages.get((chat_id, reply["message_id"]))
            if known is not None:
                msg["reply_to_message"] = _without_reply(known)
            else:
                reply.update(date=_now(), chat=dict(chat))
        self._register_message_files(msg, contents)
        key = (chat_id, int(msg["message_id"]))
        if new or key in self._messages:
            self._messages[key] = copy.deepcopy(msg)

    def _register_message_files(self, msg: dict[str, Any], contents: dict[str, bytes]) -> None:
        for kind in _FILE_KINDS:
            obj = msg.get(kind)
            if obj is None:
                continue
            objs = obj if isinstance(obj, list) else [obj]
            for item in objs:
                fid = item.get("file_id")
                if not fid or (fid in self._files and fid not in contents):
                    continue
                content = contents.get(fid, b"fake-file:" + fid.encode())
                self.register_file(
                    content,
                    kind=kind,
                    file_id=fid,
                    file_unique_id=item.get("file_unique_id"),
                    file_name=item.get("file_name"),
                )
            if kind == "photo" and isinstance(obj, list):
                for item in obj:
                    self._photo_sizes[item["file_id"]] = copy.deepcopy(obj)

    def _new_message_id(self, chat_id: int) -> int:
        mid = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = mid + 1
        return mid

    def _chat(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _chat_stub(chat_id)
            self._chats[chat_id] = chat
        return chat

    def _chat_id(self, call: Call, key: str = "chat_id") -> int:
        value = call.params.get(key)
        if value is None or value == "":
            raise _bad(f"{key} is empty")
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            raise _bad("chat not found")
        return _as_int(value, key)

    # ---------------------------------------------------------------- webhook delivery

    async def _deliver(self, url: str, update: dict[str, Any], secret: str | None) -> int:
        if self._session is None:
            raise RuntimeError("FakeTelegramAPI is not started")
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with self._session.post(
            url, data=json.dumps(update), headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            await resp.read()
            return resp.status

    def _ensure_webhook_worker(self) -> None:
        if not self.webhook_url or self._closing.is_set():
            return
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(
                self._webhook_worker(), name="FakeTelegramAPI:webhook"
            )

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _webhook_worker(self) -> None:
        """Deliver pending updates to the webhook one at a time, in order; retry failures."""
        while self.webhook_url and not self._closing.is_set():
            if not self._pending:
                event = self._updates_changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), 1.0)
                continue
            update = self._pending[0]
            try:
                status = await self._deliver(self.webhook_url, update, self.webhook_secret)
                error = f"Wrong response from the webhook: {status} {_phrase(status)}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                status, error = 0, f"Connection failed: {exc!r}"
            if 200 <= status < 300:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
            else:
                self.webhook_last_error = (_now(), error)
                await self._sleep(self.webhook_retry_delay)

    # ---------------------------------------------------------------- methods: bot & updates

    async def _true(self, call: Call) -> bool:
        return True

    async def _get_me(self, call: Call) -> dict[str, Any]:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        params = call.params
        offset = _as_int(params.get("offset", 0), "offset")
        limit = min(100, max(1, _as_int(params.get("limit", 100), "limit")))
        try:
            timeout = max(0.0, float(params.get("timeout", 0)))
        except (TypeError, ValueError):
            raise _bad("invalid timeout specified") from None
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        # a newer getUpdates terminates an older one that is still waiting
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._available(offset, limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing.is_set():
                return copy.deepcopy(batch)
            event = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _available(self, offset: int, limit: int) -> list[dict[str, Any]]:
        allowed = set(self._allowed_updates)
        batch = []
        for update in self._pending:
            if offset > 0 and update["update_id"] < offset:
                continue
            kind = next((k for k in update if k != "update_id"), "")
            if (allowed and kind not in allowed) or (not allowed and kind in _OPT_IN_UPDATE_TYPES):
                continue
            batch.append(update)
            if len(batch) >= limit:
                break
        return batch

    async def _set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url", "") or "")
        if not url:
            return await self._delete_webhook(call)
        if not re.match(r"^https?://[^/\s]+", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = call.params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        if isinstance(call.params.get("allowed_updates"), list):
            self._allowed_updates = list(call.params["allowed_updates"])
        await self._stop_webhook_worker()
        self.webhook_url = url
        self.webhook_secret = str(secret) if secret is not None else None
        self.webhook_last_error = None
        self._wake_pollers()  # pending getUpdates now conflict
        self._ensure_webhook_worker()
        return True

    async def _delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        await self._stop_webhook_worker()
        self.webhook_url = ""
        self.webhook_secret = None
        self.webhook_last_error = None
        return True

    async def _get_webhook_info(self, call: Call) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
        if self.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    async def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _bad("commands must be an Array")
        cleaned = []
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_RE.match(str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            description = str(cmd.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise _bad("command description is empty")
            cleaned.append({"command": cmd["command"], "description": description})
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        self.commands[key] = cleaned
        return True

    async def _get_my_commands(self, call: Call) -> list[dict[str, Any]]:
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, call: Call) -> bool:
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        self.commands.pop(key, None)
        return True

    async def _set_description(self, call: Call) -> bool:
        field_name = _DESCRIPTION_FIELDS[call.method.lower().removeprefix("setmy")]
        lang = str(call.params.get("language_code", ""))
        self.descriptions.setdefault(field_name, {})[lang] = str(call.params.get(field_name, ""))
        return True

    async def _get_description(self, call: Call) -> dict[str, str]:
        field_name = _DESCRIPTION_FIELDS[call.method.lower().removeprefix("getmy")]
        lang = str(call.params.get("language_code", ""))
        return {field_name: self.descriptions.get(field_name, {}).get(lang, "")}

    async def _set_menu_button(self, call: Call) -> bool:
        chat_id = call.params.get("chat_id")
        button = call.params.get("menu_button") or {"type": "default"}
        self.menu_buttons[_as_int(chat_id, "chat_id") if chat_id is not None else None] = button
        return True

    async def _get_menu_button(self, call: Call) -> dict[str, Any]:
        chat_id = call.params.get("chat_id")
        key = _as_int(chat_id, "chat_id") if chat_id is not None else None
        return self.menu_buttons.get(key) or self.menu_buttons.get(None) or {"type": "commands"}

    async def _get_chat(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        if chat_id < 0 and chat_id not in self._chats:  # a group the bot was never in
            raise _bad("chat not found")
        return {
            **self._chat(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    # ---------------------------------------------------------------- methods: messages

    def _build_message(self, chat_id: int, content: dict[str, Any], call: Call) -> dict[str, Any]:
        """Create, store and record a bot message; returns the API result."""
        chat = self._chat(chat_id)
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "date": _now(),
            "chat": dict(chat),
        }
        if chat["type"] == "channel":
            msg["sender_chat"] = dict(chat)
        else:
            msg["from"] = dict(BOT_USER)
        thread = self._thread_of(chat_id, call.params)
        if thread is not None:
            msg |= {"message_thread_id": thread, "is_topic_message": True}
        reply = self._reply_target(chat_id, call.params)
        if reply is not None:
            msg["reply_to_message"] = reply
        msg.update(content)
        markup = call.params.get("reply_markup")
        _validate_markup(markup)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        self._track_reply_keyboard(chat_id, markup)
        self._messages[(chat_id, msg["message_id"])] = msg
        self._record_sent(msg, markup)
        return copy.deepcopy(msg)

    def _record_sent(self, msg: dict[str, Any], markup: Any) -> None:
        record = copy.deepcopy(msg)
        if isinstance(markup, dict):
            record["reply_markup"] = copy.deepcopy(markup)
        self.sent.append(record)
        self._notify()

    def _track_reply_keyboard(self, chat_id: int, markup: Any) -> None:
        if not isinstance(markup, dict):
            return
        if "keyboard" in markup:
            self.reply_keyboards[chat_id] = copy.deepcopy(markup)
        elif markup.get("remove_keyboard"):
            self.reply_keyboards[chat_id] = None

    def _reply_target(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply_params = params.get("reply_parameters")
        reply_id: Any = params.get("reply_to_message_id")
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply_params, dict):
            reply_id = reply_params.get("message_id")
            allow = allow or bool(reply_params.get("allow_sending_without_reply"))
            if reply_params.get("chat_id") not in (None, chat_id):
                return None  # replies to other chats are not modelled
        if reply_id is None:
            thread = self._thread_of(chat_id, params)
            starter = self._messages.get((chat_id, thread)) if thread is not None else None
            return _without_reply(starter) if starter is not None else None
        known = self._messages.get((chat_id, _as_int(reply_id, "message_id")))
        if known is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return _without_reply(known)

    def _formatted(
        self, call: Call, key: str, entities_key: str, limit: int, *, required: bool
    ) -> dict[str, Any]:
        raw = call.params.get(key)
        if raw is None or raw == "":
            if required:
                raise _bad("message text is empty")
            return {}
        text, entities = format_text(
            str(raw), call.params.get("parse_mode"), call.params.get(entities_key)
        )
        if required and not text.strip():
            raise _bad("message text is empty")
        if len(text) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        out: dict[str, Any] = {key: text}
        if entities:
            out[entities_key] = entities
        return out

    async def _send_message(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        content = self._formatted(call, "text", "entities", _MAX_TEXT, required=True)
        return self._build_message(chat_id, content, call)

    def _resolve_file(self, call: Call, key: str, kind: str) -> StoredFile:
        value = call.params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = call.params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            return self.register_file(value.content, kind=kind, file_name=value.filename)
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value]
            if re.match(r"^https?://", value):
                return self.register_file(b"fake-url:" + value.encode(), kind=kind)
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {key} in the request")

    async def _send_photo(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        stored = self._resolve_file(call, "photo", "photo")
        sizes = self._photo_sizes.get(stored.file_id)
        if sizes is None:
            small = self.register_file(stored.content[:1024], kind="photo")
            sizes = [
                {
                    "file_id": small.file_id,
                    "file_unique_id": small.file_unique_id,
                    "width": 90,
                    "height": 68,
                    "file_size": len(small.content),
                },
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": 1280,
                    "height": 960,
                    "file_size": len(stored.content),
                },
            ]
            for size in sizes:
                self._photo_sizes[size["file_id"]] = sizes
        content: dict[str, Any] = {"photo": copy.deepcopy(sizes)}
        content.update(
            self._formatted(call, "caption", "caption_entities", _MAX_CAPTION, required=False)
        )
        return self._build_message(chat_id, content, call)

    async def _send_document(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        upload = call.params.get("document")
        stored = self._resolve_file(call, "document", "document")
        file_name = (
            upload.filename
            if isinstance(upload, UploadedFile)
            else stored.file_path.rsplit("/", 1)[-1]
        )
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": (
                upload.content_type
                if isinstance(upload, UploadedFile)
                and upload.content_type != "application/octet-stream"
                else _guess_mime(file_name)
            ),
            "file_size": len(stored.content),
        }
        content: dict[str, Any] = {"document": document}
        content.update(
            self._formatted(call, "caption", "caption_entities", _MAX_CAPTION, required=False)
        )
        return self._build_message(chat_id, content, call)

    async def _send_chat_action(self, call: Call) -> bool:
        self._chat_id(call)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _source_message(self, call: Call) -> dict[str, Any]:
        from_chat = self._chat_id(call, "from_chat_id")
        message_id = _as_int(call.params.get("message_id"), "message_id")
        source = self._messages.get((from_chat, message_id))
        if source is None:
            raise _bad("message to copy not found")
        return source

    async def _copy_message(self, call: Call) -> dict[str, int]:
        chat_id = self._chat_id(call)
        source = self._source_message(call)
        content = {k: copy.deepcopy(v) for k, v in source.items() if k in _COPIED_KEYS}
        if "caption" in call.params:
            content.pop("caption_entities", None)
            content.update(
                self._formatted(call, "caption", "caption_entities", _MAX_CAPTION, required=False)
            )
        msg = self._build_message(chat_id, content, call)
        return {"message_id": msg["message_id"]}

    async def _forward_message(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        source = self._source_message(call)
        content = {k: copy.deepcopy(v) for k, v in source.items() if k in _COPIED_KEYS}
        if "from" in source:
            origin: dict[str, Any] = {"type": "user", "sender_user": source["from"]}
        else:
            origin = {"type": "chat", "sender_chat": source["chat"]}
        origin["date"] = source["date"]
        content["forward_origin"] = origin
        return self._build_message(chat_id, content, call)

    def _editable(self, call: Call) -> dict[str, Any] | None:
        """The stored message addressed by an edit call (``None`` for inline messages)."""
        if call.params.get("inline_message_id"):
            return None
        chat_id = self._chat_id(call)
        message_id = _as_int(call.params.get("message_id"), "message_id")
        msg = self._messages.get((chat_id, message_id))
        if msg is None:
            raise _bad("message to edit not found")
        if msg.get("from", {}).get("id") != BOT_ID and "sender_chat" not in msg:
            raise _bad("message can't be edited")
        return msg

    def _apply_edit(
        self, msg: dict[str, Any], changes: dict[str, Any], drop: Iterable[str], markup: Any
    ) -> dict[str, Any]:
        _validate_markup(markup)
        inline = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        updated = {k: v for k, v in msg.items() if k not in drop and k != "reply_markup"}
        updated.update(changes)
        if inline is not None:
            updated["reply_markup"] = inline
        if _edit_view(updated) == _edit_view(msg):
            raise _bad(_NOT_MODIFIED)
        updated["edit_date"] = _now()
        msg.clear()
        msg.update(updated)
        self._record_sent(msg, inline)
        return copy.deepcopy(msg)

    async def _edit_message_text(self, call: Call) -> dict[str, Any] | bool:
        content = self._formatted(call, "text", "entities", _MAX_TEXT, required=True)
        msg = self._editable(call)
        if msg is None:
            return True
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        return self._apply_edit(msg, content, ("entities",), call.params.get("reply_markup"))

    async def _edit_message_caption(self, call: Call) -> dict[str, Any] | bool:
        content = self._formatted(call, "caption", "caption_entities", _MAX_CAPTION, required=False)
        msg = self._editable(call)
        if msg is None:
            return True
        if "text" in msg:
            raise _bad("there is no caption in the message to edit")
        return self._apply_edit(
            msg, content, ("caption", "caption_entities"), call.params.get("reply_markup")
        )

    async def _edit_message_reply_markup(self, call: Call) -> dict[str, Any] | bool:
        msg = self._editable(call)
        if msg is None:
            return True
        return self._apply_edit(msg, {}, (), call.params.get("reply_markup"))

    async def _delete_message(self, call: Call) -> bool:
        chat_id = self._chat_id(call)
        message_id = _as_int(call.params.get("message_id"), "message_id")
        if self._messages.pop((chat_id, message_id), None) is None:
            raise _bad("message to delete not found")
        self.deleted.append((chat_id, message_id))
        return True

    async def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = {
            k: call.params[k]
            for k in ("text", "show_alert", "url", "cache_time")
            if k in call.params
        }
        return True

    async def _get_file(self, call: Call) -> dict[str, Any]:
        stored = self._files.get(str(call.params.get("file_id", "")))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    # ---------------------------------------------------------------- methods: groups

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """A ChatMember; a user the fake knows nothing about has "left"."""
        known = self.members.get(chat_id, {}).get(user_id)
        if known is not None:
            return known
        user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        return {"status": "left", "user": user}

    def _bot_may(self, chat_id: int, right: str) -> bool:
        member = self._member(chat_id, BOT_ID)
        return member["status"] == "creator" or bool(
            member["status"] == "administrator" and member.get(right)
        )

    def _thread_of(self, chat_id: int, params: dict[str, Any]) -> int | None:
        """The forum topic a send goes to; only forum supergroups have topics (elsewhere the
        parameter means nothing). An unknown topic is refused; a closed one too, unless the
        bot may manage topics."""
        value = params.get("message_thread_id")
        if value is None or not self._chat(chat_id).get("is_forum"):
            return None
        thread = _as_int(value, "message_thread_id")
        topic = self.topics.get((chat_id, thread))
        if topic is None:
            raise _bad("message thread not found")
        if topic["is_closed"] and not self._bot_may(chat_id, "can_manage_topics"):
            raise _bad("TOPIC_CLOSED")
        return thread

    def _forum_topic(self, call: Call, right: str = "can_manage_topics") -> dict[str, Any]:
        """The topic a topic method addresses; the bot must manage topics or have made it."""
        chat_id = self._chat_id(call)
        if not self._chat(chat_id).get("is_forum"):
            raise _bad("the chat is not a forum")
        thread = _as_int(call.params.get("message_thread_id"), "message_thread_id")
        topic = self.topics.get((chat_id, thread))
        if topic is None:
            raise _bad("TOPIC_ID_INVALID")
        if not (topic["created_by_bot"] or self._bot_may(chat_id, right)):
            raise _bad("not enough rights to manage the topic")
        return topic

    def _topic_service_message(
        self, chat_id: int, thread: int | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        """The service message a topic change leaves in the chat (not a send: no flood
        count, not in :attr:`sent`)."""
        msg_id = self._new_message_id(chat_id)
        msg: dict[str, Any] = {
            "message_id": msg_id,
            "date": _now(),
            "chat": dict(self._chat(chat_id)),
            "from": dict(BOT_USER),
            "message_thread_id": thread if thread is not None else msg_id,
            "is_topic_message": True,
            **content,
        }
        self._messages[(chat_id, msg_id)] = msg
        return msg

    async def _get_chat_member(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        user_id = _as_int(call.params.get("user_id"), "user_id")
        if self._chat(chat_id)["type"] == "private":
            if user_id != chat_id:
                raise _bad("PARTICIPANT_ID_INVALID")
            return {"status": "member", "user": self._chat(chat_id)}
        return copy.deepcopy(self._member(chat_id, user_id))

    async def _create_forum_topic(self, call: Call) -> dict[str, Any]:
        chat_id = self._chat_id(call)
        if not self._chat(chat_id).get("is_forum"):
            raise _bad("the chat is not a forum")
        if not self._bot_may(chat_id, "can_manage_topics"):
            raise _bad("not enough rights to create a topic")
        name = str(call.params.get("name") or "")
        if not name:
            raise _bad("TOPIC_TITLE_EMPTY")
        if len(name) > 128:
            raise _bad("TOPIC_TITLE_TOO_LONG")
        color = call.params.get("icon_color", TOPIC_ICON_COLORS[0])
        if color not in TOPIC_ICON_COLORS:
            raise _bad("TOPIC_ICON_COLOR_INVALID")  # the six colours the docs list
        created = {"name": name, "icon_color": color}
        emoji = call.params.get("icon_custom_emoji_id")
        if emoji:
            created["icon_custom_emoji_id"] = str(emoji)
        msg = self._topic_service_message(chat_id, None, {"forum_topic_created": created})
        thread = msg["message_id"]
        self.topics[(chat_id, thread)] = {**created, "is_closed": False, "created_by_bot": True}
        return {"message_thread_id": thread, **created}

    async def _edit_forum_topic(self, call: Call) -> bool:
        topic = self._forum_topic(call)
        changes: dict[str, Any] = {}
        if "name" in call.params:
            name = str(call.params["name"])
            if not name or len(name) > 128:
                raise _bad("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
            changes["name"] = name
        if "icon_custom_emoji_id" in call.params:
            changes["icon_custom_emoji_id"] = str(call.params["icon_custom_emoji_id"])
        if not changes or all(topic.get(k) == v for k, v in changes.items()):
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.update(changes)
        thread = _as_int(call.params["message_thread_id"], "message_thread_id")
        self._topic_service_message(self._chat_id(call), thread, {"forum_topic_edited": changes})
        return True

    async def _close_forum_topic(self, call: Call) -> bool:
        return self._set_topic_closed(call, True)

    async def _reopen_forum_topic(self, call: Call) -> bool:
        return self._set_topic_closed(call, False)

    def _set_topic_closed(self, call: Call, closed: bool) -> bool:
        topic = self._forum_topic(call)
        if topic["is_closed"] == closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic["is_closed"] = closed
        thread = _as_int(call.params["message_thread_id"], "message_thread_id")
        key = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._topic_service_message(self._chat_id(call), thread, {key: {}})
        return True

    async def _set_message_reaction(self, call: Call) -> bool:
        chat_id = self._chat_id(call)
        message_id = _as_int(call.params.get("message_id"), "message_id")
        if (chat_id, message_id) not in self._messages:
            raise _bad("MESSAGE_ID_INVALID")
        reaction = call.params.get("reaction") or []
        if not isinstance(reaction, list):
            raise _bad("can't parse reaction types JSON object")
        for item in reaction:
            if not isinstance(item, dict) or item.get("type") not in ("emoji", "custom_emoji"):
                raise _bad("REACTION_INVALID")
            if item["type"] == "emoji" and item.get("emoji") not in REACTION_EMOJI:
                raise _bad("REACTION_INVALID")
            if item["type"] == "custom_emoji" and not str(item.get("custom_emoji_id")).isdigit():
                raise _bad("REACTION_INVALID")  # custom emoji are known by numeric ids
        if len(reaction) > 1:  # bots are not Premium users: one reaction per message
            raise _bad("REACTIONS_TOO_MANY")
        self.reactions[(chat_id, message_id)] = copy.deepcopy(reaction)
        self._notify()
        return True


# --------------------------------------------------------------------------------------------
# Module helpers used by the server
# --------------------------------------------------------------------------------------------

_DESCRIPTION_FIELDS = {
    "description": "description",
    "shortdescription": "short_description",
    "name": "name",
}

_COPIED_KEYS = frozenset(
    {
        "text",
        "entities",
        "caption",
        "caption_entities",
        "photo",
        "document",
        "sticker",
        "video",
        "voice",
        "audio",
        "animation",
        "video_note",
        "contact",
        "location",
        "poll",
    }
)


def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(language_code or "")


def _content_text(msg: dict[str, Any]) -> str:
    return str(msg.get("text", msg.get("caption", "")))


def _without_reply(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in msg.items() if k != "reply_to_message"}


def _edit_view(msg: dict[str, Any]) -> tuple[Any, ...]:
    return (
        msg.get("text"),
        msg.get("entities") or [],
        msg.get("caption"),
        msg.get("caption_entities") or [],
        msg.get("reply_markup"),
    )


def _is_rate_limited_method(method: str) -> bool:
    low = method.lower()
    return (low.startswith("send") and low != "sendchataction") or low in (
        "copymessage",
        "forwardmessage",
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _fault_error(fault: _Fault) -> ApiError:
    status = fault.status
    if status == 429:
        return ApiError(
            429,
            fault.description or f"Too Many Requests: retry after {fault.retry_after}",
            {"retry_after": fault.retry_after},
        )
    defaults = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    }
    return ApiError(status, fault.description or defaults.get(status) or _phrase(status))


def _validate_markup(markup: Any) -> None:
    """Reject reply markups Telegram rejects (the errors bots actually run into)."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not str(button.get("text", "")):
                    raise _bad("can't parse inline keyboard button: Text must be non-empty")
                if not _INLINE_BUTTON_ACTIONS & button.keys():
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
        for row in rows:
            for button in row:
                text = button if isinstance(button, str) else (button or {}).get("text", "")
                if not str(text):
                    raise _bad("keyboard button text must be non-empty")
    elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
        raise _bad("can't parse reply keyboard markup JSON object")
