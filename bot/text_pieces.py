"""Cutting escaped text into pieces a platform accepts (Telegram's 4096 characters, Slack's
section limit) without ever cutting through an escape such as ``&amp;``."""

from __future__ import annotations

from collections.abc import Callable


def pieces_within(text: str, limit: int, escape: Callable[[str], str]) -> list[str]:
    """``text`` escaped and cut into pieces of at most ``limit`` characters each. ``escape``
    must work character by character (``escape(a + b) == escape(a) + escape(b)``)."""
    whole = escape(text)
    if len(whole) <= limit:  # nearly every message: no need to cut it character by character
        return [whole]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        escaped = escape(char)
        if size + len(escaped) > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    pieces.append("".join(current))
    return pieces
