"""Where the desk's places are, from the settings and the desk config: the core gets
:class:`~handlers.outbound.Places` and never reads a channel id's platform itself.

A channel is written as a Slack id (``C…``/``G…``) or as ``<platform>:<chat id>``.
"""

from __future__ import annotations

from bot.config import Settings
from bot.slack_context import PLATFORM as SLACK
from bot.telegram import PLATFORM as TELEGRAM
from handlers.config import DeskConfig
from handlers.outbound import Place, Places

PLATFORMS = (SLACK, TELEGRAM)


def place_of(channel: str) -> Place:
    """``telegram:-100123`` -> a Telegram chat; ``C0123`` (or ``slack:C0123``) -> Slack."""
    platform, sep, chat = channel.partition(":")
    if sep and platform in PLATFORMS:
        return Place(platform, chat)
    return Place(SLACK, channel)


def places_of(settings: Settings, config: DeskConfig) -> Places:
    digest = config.desk.digest_channel
    return Places(
        operators=Place(SLACK, settings.slack_operators_channel),
        lines={line.id: place_of(line.channel) for line in config.lines},
        digest=place_of(digest) if digest else None,
    )
