"""``helpdesk check`` against the Slack workspace: every channel the desk posts to must exist,
not be archived, and have the bot in it; an operators' channel anyone can join is worth a
warning when channel membership is what makes an operator."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.places import chats_on
from bot.slack_context import PLATFORM
from handlers.config import DeskConfig

OPERATORS = "SLACK_OPERATORS_CHANNEL"


@dataclass
class Findings:
    """One line per problem (the desk cannot use a channel) and per warning."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: int = 0


async def slack_channel_findings(settings: Settings, config: DeskConfig) -> Findings:
    """What is wrong, or risky, with the channels the desk posts to."""
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    found = Findings()
    for channel, user in chats_on(PLATFORM, settings, config).items():
        try:
            info = (await client.conversations_info(channel=channel))["channel"]
        except SlackApiError as error:
            found.problems.append(f"{user}: Slack channel {channel}: {error.response.get('error')}")
            continue
        except (aiohttp.ClientError, TimeoutError) as error:
            return Findings([f"SLACK_API_URL: cannot reach Slack ({type(error).__name__})"])
        found.checked += 1
        if info.get("is_archived"):
            found.problems.append(f"{user}: Slack channel {channel} is archived")
        elif info.get("is_member") is False:
            found.problems.append(f"{user}: the bot is not in Slack channel {channel}; invite it")
        if user == OPERATORS and not info.get("is_private") and not config.desk.operators:
            found.warnings.append(
                f"{OPERATORS}: channel {channel} is public: anyone in the workspace can join it"
                " and become an operator; make it private or list the operators in"
                " [desk] operators"
            )
    return found
