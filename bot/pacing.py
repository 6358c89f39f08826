"""The platforms' rate limits, applied to every request the senders make, before it is made.

Telegram: one message per ``telegram_private_interval`` to a private chat on average, with
bursts of up to ``telegram_private_burst`` (Telegram tolerates short bursts: an answer of two
messages arrives at once), ``per minute`` to a group, ``per second`` for the whole bot; applied
to every sending method (``send*``, copies, forwards) through python-telegram-bot's own
rate-limiter hook, so chunked texts and any future send path are paced too. Slack:
``chat.postMessage`` once per ``slack_channel_interval`` per channel, and the tier-3 methods we
call (``chat.update``, ``reactions.add``, ...) at ``slack_tier3_per_minute`` each, through a Web
API client that waits before each call.

The budget is shared by every process when Redis is configured (storage/ratelimit.py). Sends to
one chat or channel are also spaced from the answer to the previous one, so network delays
cannot bunch two of them up at the platform.
429s that still happen are counted (``on_429``) and left to the outbox to retry.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.config import Settings
from storage.ratelimit import RateLimiter, Rule

SLACK_TIER3 = frozenset(
    {"chat.update", "chat.delete", "reactions.add", "reactions.remove", "chat.getPermalink"}
)
_TELEGRAM_COPIES = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})


def _per(count: float, seconds: float) -> float:
    """The interval that gives ``count`` requests per ``seconds``; 0 (no limit) for 0."""
    return seconds / count if count > 0 else 0.0


@dataclass(frozen=True)
class Limits:
    """Seconds between two requests under each rule, and the messages a private chat may take
    at once."""

    telegram_private: float = 1.0
    telegram_private_burst: int = 3
    telegram_group: float = 3.0
    telegram_bot: float = 1 / 28
    slack_channel: float = 1.0
    slack_tier3: float = 1.2

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            telegram_private=settings.telegram_private_interval,
            telegram_private_burst=settings.telegram_private_burst,
            telegram_group=_per(settings.telegram_group_per_minute, 60),
            telegram_bot=_per(settings.telegram_global_per_second, 1),
            slack_channel=settings.slack_channel_interval,
            slack_tier3=_per(settings.slack_tier3_per_minute, 60),
        )

    def telegram(self, endpoint: str, chat_id: object) -> list[Rule]:
        """The rules for one Bot API request (none for methods that send nothing)."""
        sends = endpoint.startswith("send") and endpoint != "sendChatAction"
        if chat_id is None or not (sends or endpoint in _TELEGRAM_COPIES):
            return []
        chat = str(chat_id)
        group = chat.startswith(("-", "@"))  # groups, supergroups and channels
        if group:
            rule = Rule(f"tg:chat:{chat}", self.telegram_group, serial=True)
        else:
            burst = self.telegram_private_burst
            rule = Rule(f"tg:chat:{chat}", self.telegram_private, serial=True, burst=burst)
        return [rule, Rule("tg:bot", self.telegram_bot)]

    def slack(self, method: str, args: dict[str, Any]) -> list[Rule]:
        """The rules for one Web API call."""
        if method == "chat.postMessage":
            channel = args.get("channel", "")
            return [Rule(f"slack:post:{channel}", self.slack_channel, serial=True)]
        if method in SLACK_TIER3:
            return [Rule(f"slack:{method}", self.slack_tier3)]
        return []


class TelegramPacer(BaseRateLimiter[None]):
    """python-telegram-bot's rate-limiter hook: wait for the slot, then make the request."""

    def __init__(self, limiter: RateLimiter, limits: Limits, on_429: Callable[[], None]) -> None:
        self._limiter = limiter
        self._limits = limits
        self._on_429 = on_429

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        rules = self._limits.telegram(endpoint, data.get("chat_id"))
        reservation = await self._limiter.acquire(rules)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter:
            self._on_429()
            raise
        finally:
            await self._limiter.settle(rules, reservation)


class PacedWebClient(AsyncWebClient):
    """A Slack Web API client that waits for its slot before each call and makes no retries
    of its own (the outbox owns retries and honours Retry-After)."""

    def __init__(
        self,
        token: str,
        base_url: str,
        limiter: RateLimiter,
        limits: Limits,
        on_429: Callable[[], None],
        timeout: float,
    ) -> None:
        super().__init__(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])  # type: ignore[arg-type]
        self._limiter = limiter
        self._limits = limits
        self._on_429 = on_429

    async def api_call(  # type: ignore[override]
        self, api_method: str, *, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> AsyncSlackResponse:
        args = dict(params or {})
        for body in (kwargs.get("json"), kwargs.get("data")):
            if isinstance(body, dict):
                args.update(body)
        rules = self._limits.slack(api_method, args)
        reservation = await self._limiter.acquire(rules)
        try:
            return await super().api_call(api_method, params=params, **kwargs)
        except SlackApiError as error:
            if error.response.status_code == 429:
                self._on_429()
            raise
        finally:
            await self._limiter.settle(rules, reservation)
