"""Where the desk's places are, from the settings and the desk config: the core gets
:class:`~handlers.outbound.Places` and never reads a channel id's platform itself.

A channel is written as a Slack id (``C…``/``G…``) or as ``<platform>:<chat id>``; the
operators are in ``TELEGRAM_OPERATORS_CHAT`` when it is set, else in ``SLACK_OPERATORS_CHANNEL``.
"""

from __future__ import annotations

from bot.config import Settings
from bot.slack_context import PLATFORM as SLACK
from bot.telegram import PLATFORM as TELEGRAM
from handlers.config import ConfigError, DeskConfig
from handlers.outbound import Place, Places

PLATFORMS = (SLACK, TELEGRAM)


def place_of(channel: str) -> Place:
    """``telegram:-100123`` -> a Telegram chat; ``C0123`` (or ``slack:C0123``) -> Slack;
    :class:`ConfigError` for a platform the desk does not serve."""
    platform, sep, chat = channel.partition(":")
    if not sep:
        return Place(SLACK, channel)
    if platform not in PLATFORMS:
        raise ConfigError(f"channel {channel!r}: unknown platform {platform!r}")
    return Place(platform, chat)


def operators_place(settings: Settings) -> Place:
    if settings.telegram_operators_chat:
        return Place(TELEGRAM, settings.telegram_operators_chat)
    return Place(SLACK, settings.slack_operators_channel)


def places_of(settings: Settings, config: DeskConfig) -> Places:
    digest = config.desk.digest_channel
    return Places(
        operators=operators_place(settings),
        lines={line.id: place_of(line.channel) for line in config.lines},
        digest=place_of(digest) if digest else None,
    )


def chats_on(platform: str, settings: Settings, config: DeskConfig) -> dict[str, str]:
    """chat -> the setting that puts the desk there, for every place on ``platform``."""
    places = places_of(settings, config)
    setting = (
        "TELEGRAM_OPERATORS_CHAT"
        if places.operators.platform == TELEGRAM
        else "SLACK_OPERATORS_CHANNEL"
    )
    named = [(places.operators, setting)]
    named += [(place, f"line {line_id!r}") for line_id, place in places.lines.items()]
    if places.digest is not None:
        named.append((places.digest, "desk.digest_channel"))
    chats: dict[str, str] = {}
    for place, user in named:
        if place.platform == platform:
            chats.setdefault(place.chat, user)
    return chats


def unserved(settings: Settings, config: DeskConfig) -> list[str]:
    """One line per place nobody would serve: no operators' place, or a place on a platform
    this process has no token for (its messages could never be delivered)."""
    if not operators_place(settings).chat:
        return [
            "the operators have no place, nobody would see the tickets: set "
            "TELEGRAM_OPERATORS_CHAT, or SLACK_BOT_TOKEN and SLACK_OPERATORS_CHANNEL"
        ]
    enabled = {SLACK: settings.slack_enabled, TELEGRAM: settings.telegram_enabled}
    token = {SLACK: "SLACK_BOT_TOKEN", TELEGRAM: "TELEGRAM_BOT_TOKEN"}
    return [
        f"{user}: {chat} is in {platform.capitalize()}, but {token[platform]} is empty"
        for platform in PLATFORMS
        if not enabled[platform]
        for chat, user in chats_on(platform, settings, config).items()
    ]
