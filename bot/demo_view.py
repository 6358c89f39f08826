"""What each person of ``helpdesk demo`` sees, read from the stand-ins: the requesters' Telegram
chats and the desk's Slack channels, as plain JSON for the page.

Only what the stand-ins received is shown: the messages the desk's senders delivered (current
state, edits applied), the people's own messages, ephemerals and reactions. Nothing is read
from the desk's database.
"""

from __future__ import annotations

from typing import Any

from bot.demo_world import World
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import BOT_ID, FakeTelegramAPI, TgUser

JSON = dict[str, Any]


def snapshot(world: World, telegram: FakeTelegramAPI, slack: FakeSlackAPI) -> JSON:
    """Everything the page shows, as of now."""
    return {
        "requesters": [
            {
                "id": requester.user.id,
                "name": requester.user.first_name,
                "language": requester.user.language_code,
                "phone": requester.phone,
                "chat": telegram_chat(telegram, requester.user),
            }
            for requester in world.requesters
        ],
        "people": [{"id": p.id, "name": p.name, "role": p.role} for p in world.people],
        "names": {user.id: user.display_name or user.name for user in slack.users.values()},
        "operators": slack_channel(slack, world.operators.id, world.operators.name),
        "lines": [slack_channel(slack, line.id, line.name) for line in world.lines],
        "ephemerals": [_ephemeral(e) for e in slack.ephemerals()],
    }


# --- Telegram -----------------------------------------------------------------------------------


def telegram_chat(api: FakeTelegramAPI, user: TgUser) -> JSON:
    """The private chat as the user sees it: messages both ways (current state, deletions
    gone) and the reply keyboard under the input field."""
    ids = {m["message_id"] for m in api.messages_to(user.id)}
    ids |= {
        update["message"]["message_id"]
        for update in api.updates
        if update.get("message", {}).get("chat", {}).get("id") == user.id
    }
    messages = [api.message(user.id, message_id) for message_id in sorted(ids)]
    return {
        "messages": [_telegram_message(m) for m in messages if m is not None],
        "keyboard": _reply_keyboard(api.reply_keyboard(user.id)),
    }


def _telegram_message(message: JSON) -> JSON:
    markup = message.get("reply_markup") or {}
    photo = message.get("photo") or []
    contact = message.get("contact") or {}
    document = message.get("document") or {}
    return {
        "id": message["message_id"],
        "mine": (message.get("from") or {}).get("id") != BOT_ID,
        "date": message.get("date", 0),
        "text": message.get("text") or message.get("caption") or "",
        "entities": message.get("entities") or message.get("caption_entities") or [],
        "photo": photo[-1]["file_id"] if photo else "",
        "contact": contact.get("phone_number", ""),
        "document": document.get("file_name", ""),
        "buttons": [
            [{"text": b.get("text", ""), "data": b.get("callback_data", "")} for b in row]
            for row in markup.get("inline_keyboard", [])
        ],
    }


def _reply_keyboard(markup: JSON | None) -> list[JSON]:
    rows = (markup or {}).get("keyboard") or []
    return [
        {"text": b if isinstance(b, str) else b.get("text", ""), "contact": _asks_contact(b)}
        for row in rows
        for b in row
    ]


def _asks_contact(button: str | JSON) -> bool:
    return isinstance(button, dict) and bool(button.get("request_contact"))


# --- Slack --------------------------------------------------------------------------------------


def slack_channel(fake: FakeSlackAPI, channel: str, name: str) -> JSON:
    """A channel's messages, oldest first, each with its thread's replies."""
    messages = fake.messages(channel)
    replies: dict[str, list[JSON]] = {}
    top = []
    for message in messages:
        parent = message.get("thread_ts")
        if parent and parent != message["ts"]:
            replies.setdefault(parent, []).append(_slack_message(message))
        else:
            top.append(message)
    return {
        "id": channel,
        "name": name,
        "messages": [
            _slack_message(message) | {"replies": replies.get(message["ts"], [])} for message in top
        ],
    }


def _slack_message(message: JSON) -> JSON:
    return {
        "ts": message["ts"],
        "user": message.get("user", ""),
        "bot": bool(message.get("bot_id")),
        "text": message.get("text") or "",
        "blocks": message.get("blocks") or [],
        "files": [
            {"id": f.get("id", ""), "name": f.get("name", "")} for f in message.get("files") or []
        ],
        "reactions": [r["name"] for r in message.get("reactions") or []],
        "edited": "edited" in message,
    }


def _ephemeral(ephemeral: JSON) -> JSON:
    return {
        "channel": ephemeral.get("channel") or "",
        "user": ephemeral.get("user") or "",
        "text": ephemeral.get("text") or "",
        "blocks": ephemeral.get("blocks") or [],
        "thread_ts": ephemeral.get("thread_ts") or "",
        "ts": ephemeral.get("ts") or "",
    }
