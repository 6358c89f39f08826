"""Platform-neutral messages: who, where, and what the core wants said.

The core answers with :class:`Reply` (handlers/outbound.py says where it goes). Buttons are
data; Telegram renders them as an inline keyboard, Slack as Block Kit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TICKET_NUMBER = re.compile(r"[0-9]{1,18}")
_TICKET_BUTTON = re.compile(r"[a-z]{1,8}:(?P<number>[0-9]{1,18})(?::(?P<value>[a-z0-9]{1,16}))?")


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


def ticket_number(text: str) -> int | None:
    """A ticket number as a button or a form carries it: at most 18 digits, nothing else."""
    return int(text) if _TICKET_NUMBER.fullmatch(text) else None


def ticket_button(data: str) -> tuple[int, str] | None:
    """``x:<number>[:<value>]`` -> (number, value), parsed strictly (a number of at most 18
    digits, a short value of letters and digits); None for anything else: a forged or
    mangled button, which is answered as one that is no longer valid."""
    found = _TICKET_BUTTON.fullmatch(data)
    return (int(found["number"]), found["value"] or "") if found else None
