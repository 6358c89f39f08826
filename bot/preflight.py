"""Can this configuration work? Connects to what the settings name, before anything starts.

Every answer is one line that names the setting to fix, never a traceback and never a secret:
``helpdesk run`` stops on the first problem (exit code 2), ``helpdesk check`` lists them all.
Each probe gets ``PLATFORM_TIMEOUT`` seconds, so an unreachable service costs seconds, not a
hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.config import Settings
from bot.telegram_request import AiohttpRequest
from storage.db import make_engine

_HTTP_STATUS = {"Unauthorized": "401 Unauthorized", "Not Found": "404 Not Found"}


class StartupError(Exception):
    """What stops the desk from starting: one line naming the setting."""


@dataclass(frozen=True)
class Probe:
    """One connection to make (``name``) for ``setting``: ``run`` raises
    :class:`StartupError` if it cannot work."""

    name: str
    setting: str
    service: str
    run: Callable[[], Awaitable[None]]


def probes(settings: Settings) -> list[Probe]:
    """What ``settings`` configure: the database, Redis, Telegram's bot token, Slack's bot
    token and, for Socket Mode, its app token."""
    found = [Probe("database", "DATABASE_URL", "the database", lambda: database(settings))]
    if settings.redis_url:
        found.append(Probe("redis", "REDIS_URL", "Redis", lambda: redis(settings)))
    if settings.telegram_enabled:
        found.append(Probe("telegram", "TELEGRAM_API_URL", "Telegram", lambda: telegram(settings)))
    if settings.slack_enabled:
        found.append(Probe("slack", "SLACK_API_URL", "Slack", lambda: slack(settings)))
        if settings.slack_mode == "socket":
            app = Probe("slack app token", "SLACK_API_URL", "Slack", lambda: slack_app(settings))
            found.append(app)
    return found


async def attempt(probe: Probe, seconds: float) -> str:
    """The probe's problem as one line, or "" if all is well."""
    try:
        await asyncio.wait_for(probe.run(), seconds)
    except StartupError as error:
        return str(error)
    except TimeoutError:
        return f"{probe.setting}: no answer from {probe.service} within {seconds:g}s"
    return ""


async def results(settings: Settings) -> dict[str, str]:
    """Every probe at once: its name -> its problem ("" when it works), in the order of
    :func:`probes`."""
    found = probes(settings)
    lines = await asyncio.gather(*(attempt(p, settings.platform_timeout) for p in found))
    return {probe.name: line for probe, line in zip(found, lines, strict=True)}


async def verify(settings: Settings) -> None:
    """Raise :class:`StartupError` with the first problem, if any."""
    problems = [line for line in (await results(settings)).values() if line]
    if problems:
        raise StartupError(problems[0])


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


async def database(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError) as error:
        cause = getattr(error, "orig", None) or error
        raise StartupError(f"DATABASE_URL: cannot connect ({_first_line(cause)})") from None
    finally:
        await engine.dispose()


async def redis(settings: Settings) -> None:
    client = Redis.from_url(settings.redis_url)
    try:
        await client.ping()
    except (OSError, RedisError) as error:
        raise StartupError(f"REDIS_URL: cannot connect ({_first_line(error)})") from None
    finally:
        await client.aclose()


async def telegram(settings: Settings) -> None:
    """``getMe`` with the bot token."""
    request = AiohttpRequest(pool_size=1, timeout=settings.platform_timeout)
    api = settings.telegram_api_url.rstrip("/")
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=request,
        get_updates_request=AiohttpRequest(pool_size=1),  # never used: getMe only
    )
    await request.initialize()
    try:
        await bot.get_me()
    except InvalidToken as error:
        status = _HTTP_STATUS.get(error.message, error.message)
        raise StartupError(f"TELEGRAM_BOT_TOKEN was rejected by Telegram ({status})") from None
    except NetworkError as error:  # includes TimedOut
        reason = type(error.__cause__ or error).__name__
        raise StartupError(f"TELEGRAM_API_URL: cannot reach Telegram ({reason})") from None
    except TelegramError as error:
        raise StartupError(
            f"TELEGRAM_BOT_TOKEN: Telegram refused getMe ({error.message})"
        ) from None
    finally:
        await request.shutdown()


async def slack(settings: Settings) -> None:
    """``auth.test`` with the bot token."""
    token = settings.slack_bot_token.get_secret_value()
    await _slack(settings, "SLACK_BOT_TOKEN", token, lambda client: client.auth_test())


async def slack_app(settings: Settings) -> None:
    """``apps.connections.open`` with the app-level token, as Socket Mode will call it."""
    token = settings.slack_app_token.get_secret_value()
    await _slack(
        settings,
        "SLACK_APP_TOKEN",
        token,
        lambda client: client.apps_connections_open(app_token=token),
    )


async def _slack(
    settings: Settings,
    setting: str,
    token: str,
    call: Callable[[AsyncWebClient], Awaitable[object]],
) -> None:
    client = AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=int(settings.platform_timeout)
    )
    try:
        await call(client)
    except SlackApiError as error:
        reason = error.response.get("error") or error.response.status_code
        raise StartupError(f"{setting} was rejected by Slack ({reason})") from None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise StartupError(f"SLACK_API_URL: cannot reach Slack ({type(error).__name__})") from None
