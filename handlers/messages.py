"""Platform-neutral messages: who, where, and what the core wants said.

The core returns :class:`Reply` (an answer in the chat the input came from) and records
:class:`Outbound` (a message to any chat, delivered later through the outbox). Buttons are data;
Telegram renders them as an inline keyboard, Slack as Block Kit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UserRef:
    platform: str
    id: str
    name: str
    language: str = "en"
    username: str = ""


@dataclass(frozen=True)
class Button:
    label: str
    data: str
    style: str = ""  # "primary" | "danger" | "" (Slack colours; Telegram ignores it)


@dataclass(frozen=True)
class Reply:
    """A text for the person we are talking to. ``text`` is plain: renderers escape it."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ask_contact: str = ""  # label of a "share my phone number" button, where the platform has one
    remove_keyboard: bool = False


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo | document
    file_id: str
    name: str = ""


@dataclass(frozen=True)
class Outbound:
    """One message for a platform, as stored in the outbox.

    ``kind`` says what the platform sender does with ``payload``: ``text`` to a chat or a ticket's
    thread, ``card`` (post or refresh a ticket's card), ``reaction``, ``ephemeral``.
    """

    platform: str
    destination: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None


def reply_payload(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "buttons": [[[b.label, b.data, b.style] for b in row] for row in reply.buttons],
        "ask_contact": reply.ask_contact,
        "remove_keyboard": reply.remove_keyboard,
    }


def reply_from_payload(payload: dict[str, Any]) -> Reply:
    return Reply(
        text=payload.get("text", ""),
        buttons=tuple(
            tuple(Button(label, data, style) for label, data, style in row)
            for row in payload.get("buttons", [])
        ),
        ask_contact=payload.get("ask_contact", ""),
        remove_keyboard=payload.get("remove_keyboard", False),
    )
