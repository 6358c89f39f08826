"""``helpdesk check`` against the Slack workspace: every channel the desk posts to must exist,
not be archived, and have the bot in it."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.places import chats_on
from bot.slack_context import PLATFORM
from handlers.config import DeskConfig


async def slack_channel_problems(settings: Settings, config: DeskConfig) -> list[str]:
    """One line per channel the desk cannot use (empty when all is well)."""
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    problems = []
    for channel, user in chats_on(PLATFORM, settings, config).items():
        try:
            info = (await client.conversations_info(channel=channel))["channel"]
        except SlackApiError as error:
            problems.append(f"{user}: Slack channel {channel}: {error.response.get('error')}")
            continue
        except (aiohttp.ClientError, TimeoutError) as error:
            return [f"SLACK_API_URL: cannot reach Slack ({type(error).__name__})"]
        if info.get("is_archived"):
            problems.append(f"{user}: Slack channel {channel} is archived")
        elif info.get("is_member") is False:
            problems.append(f"{user}: the bot is not in Slack channel {channel}; invite it")
    return problems
