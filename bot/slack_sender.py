"""Delivers outbox rows to Slack and maps the Web API's answers onto the outbox's outcomes.

Messages (handlers/outbound.py): a Card is posted, or edited in place, rendered from the
ticket's current state in the database, so a late or repeated refresh never shows stale data
(and a card the ticket changed under while it was posted is edited at once); a ToChat is a
core Reply to a user; a Relay goes into a card's thread; a Mark is a reaction; a Notice is the
desk's own words; a Digest the weekly figures and chart.
The client is built without retry handlers: the outbox owns retries and honours Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.card_state import card_of
from bot.card_words import CardHistory
from bot.report_render import chart_png, stats_blocks, stats_text
from bot.slack_blocks import file_note, mention, relay_text, reply_message
from bot.slack_card import ticket_card
from bot.slack_context import PLATFORM
from bot.slack_escalation_blocks import specialist_card
from handlers import report_query
from handlers.config import DeskConfig
from handlers.outbound import Card, Digest, FileRef, Mark, Notice, Outbound, Relay, ToChat
from handlers.outcomes import Outcome, RetryLater, Sent, Undeliverable
from handlers.tickets import Ticket
from storage import links
from storage.db import SessionFactory
from storage.models import OutboxRow

log = logging.getLogger(__name__)

# Fetches a requester's file from their platform by file id: (bytes, file name).
FileFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]

RELAY_PATIENCE = 20  # attempts to wait for a card before a thread message is given up

# Errors that will not go away by retrying, in words for the card and the logs.
_UNDELIVERABLE = {
    "channel_not_found": "the Slack channel does not exist or the bot cannot see it",
    "is_archived": "the Slack channel is archived",
    "not_in_channel": "the bot is not a member of the Slack channel",
    "invalid_auth": "the Slack bot token is not valid",
    "not_authed": "no Slack bot token was sent",
    "account_inactive": "the Slack bot token belongs to a deactivated account",
    "token_revoked": "the Slack bot token was revoked",
    "user_not_found": "the Slack user does not exist",
    "user_disabled": "the Slack user is deactivated",
    "cannot_dm_bot": "the Slack user is a bot",
    "messages_tab_disabled": "the app's Messages tab is disabled in Slack",
    "restricted_action": "the Slack workspace does not allow the bot to post there",
    "missing_scope": "the Slack app lacks a permission (scope)",
}
_TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# How the core's receipts on a Slack message look: emoji names.
RECEIPTS = {
    "delivered": "white_check_mark",
    "failed": "x",
    "internal": "lock",
    "not_relayed": "no_entry_sign",
}

# A card whose message is gone (deleted by hand) is posted again instead.
_CARD_GONE = {"message_not_found", "cant_update_message"}


def build_client(token: str, api_url: str, *, retries: bool = True) -> AsyncWebClient:
    """A Web API client for ``api_url``; ``retries=False`` leaves every retry to the caller
    (slack_sdk would otherwise retry a dropped connection once on its own)."""
    if retries:
        return AsyncWebClient(token=token, base_url=api_url)
    return AsyncWebClient(token=token, base_url=api_url, retry_handlers=[])


def outcome_of(error: SlackApiError) -> Outcome:
    """Slack's refusal as sent / retry later / undeliverable."""
    response = error.response
    code = str(response.get("error", "") or "")
    status = response.status_code
    if status == 429 or code == "ratelimited":
        after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return RetryLater(f"slack rate limit: {code}", after=float(after or 1))
    if status >= 500 or code in _TRANSIENT:
        return RetryLater(f"slack: HTTP {status} {code}")
    return Undeliverable(_UNDELIVERABLE.get(code, f"Slack refused the message: {code or status}"))


class SlackSender:
    """The outbox's sender for the ``slack`` platform."""

    platform = PLATFORM

    def __init__(
        self,
        client: AsyncWebClient,
        sessions: SessionFactory,
        config: DeskConfig,
        clock: Callable[[], datetime],
        fetchers: dict[str, FileFetcher] | None = None,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self.fetchers: dict[str, FileFetcher] = dict(fetchers or {})

    async def send(self, row: OutboxRow, message: Outbound) -> Outcome:
        try:
            match message:
                case Card():
                    return await self._card(message)
                case ToChat():
                    return await self._text(message)
                case Relay():
                    return await self._relay(message, row.attempts)
                case Mark():
                    return await self._reaction(message)
                case Notice():
                    return await self._notice(message)
                case Digest():
                    return await self._digest(message)
        except SlackApiError as error:
            return outcome_of(error)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return RetryLater(f"{type(error).__name__}: {error}")
        return Undeliverable(f"slack cannot deliver a {type(message).__name__}")

    async def card_of(self, number: int) -> tuple[Ticket, CardHistory] | None:
        """What a ticket's card shows, as of now; None if there is no such ticket."""
        return await card_of(self._sessions, self._config, self._clock, number)

    async def _card(self, message: Card) -> Outcome:
        number, role = message.ticket, message.role
        shown = await self._render(message)
        if shown is None:
            return Undeliverable(f"there is no ticket #{number}")
        async with self._sessions() as session:
            link = await links.get(session, number, role)
        if link is not None:
            try:
                await self._client.chat_update(channel=link.chat, ts=link.message_id, **shown)
                return Sent({"channel": link.chat, "ts": link.message_id, "updated": True})
            except SlackApiError as error:
                if error.response.get("error") not in _CARD_GONE:
                    raise
                log.warning("card of #%s is gone from Slack; posting it again", number)
        posted = await self._client.chat_postMessage(
            channel=message.place.chat, unfurl_links=False, unfurl_media=False, **shown
        )
        channel, ts = posted["channel"], posted["ts"]
        async with self._sessions.begin() as session:
            await links.put(session, number, role, PLATFORM, channel, ts, self._clock())
        await self._catch_up(message, shown, channel, ts)
        return Sent({"channel": channel, "ts": ts})

    async def _render(self, message: Card) -> dict[str, Any] | None:
        """The card's text and blocks from the ticket's current state; None if there is no
        such ticket."""
        card = await self.card_of(message.ticket)
        if card is None:
            return None
        if message.role.startswith(links.SPECIALIST_CARD):
            line_id = message.role.partition(":")[2]
            pings = [mention(target) for target in message.ping]
            text, blocks = specialist_card(*card, self._config, line_id, pings)
        else:
            text, blocks = ticket_card(*card, self._config)
        return {"text": text, "blocks": blocks}

    async def _catch_up(self, message: Card, shown: dict[str, Any], channel: str, ts: str) -> None:
        """Edit a card just posted if the ticket changed while it was: that change found no
        link to refresh (a line's card is not even queued without one). A change after the
        link is recorded queues a refresh of its own."""
        latest = await self._render(message)
        if latest is not None and latest != shown:
            await self._client.chat_update(channel=channel, ts=ts, **latest)

    async def _text(self, message: ToChat) -> Outcome:
        reply = message.reply
        if message.file is not None:  # an operator's file stays where it was posted
            reply = replace(reply, text=f"{reply.text}\n{file_note(message.file)}")
        text, blocks = reply_message(reply)
        extra: dict[str, Any] = {"blocks": blocks} if blocks else {}
        posted = await self._client.chat_postMessage(
            channel=message.place.chat,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
            **extra,
        )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _relay(self, message: Relay, attempts: int) -> Outcome:
        async with self._sessions() as session:
            link = await links.get(session, message.ticket, message.role)
        if link is None:  # the card is queued before us; it is rarely not there yet
            if attempts >= RELAY_PATIENCE:
                return Undeliverable(f"the card of ticket #{message.ticket} was never posted")
            return RetryLater("the ticket's card is not posted yet", after=2.0)
        author, text, role = message.author, message.text, message.voice
        copied = await self._copy_file(message.file)
        if copied is not None:
            data, name = copied
            await self._client.files_upload_v2(
                channel=link.chat,
                thread_ts=link.message_id,
                file=data,
                filename=name,
                initial_comment=relay_text(author, text, None, role),
            )
            return Sent({"channel": link.chat, "file": name})
        posted = await self._client.chat_postMessage(
            channel=link.chat,
            thread_ts=link.message_id,
            text=relay_text(author, text, message.file, role),
            unfurl_links=False,
            unfurl_media=False,
        )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _copy_file(self, file: FileRef | None) -> tuple[bytes, str] | None:
        """A requester's file from their platform, to upload into the thread; None when there
        is none, no way to fetch it, or the platform will not hand it over (then the thread
        says where it is kept instead)."""
        fetch = self.fetchers.get(file.platform) if file is not None else None
        if file is None or fetch is None:
            return None
        try:
            return await fetch(file.file_id)
        except Exception as error:  # too big for the Bot API, gone, network: say where it is
            log.warning("could not fetch %s file %s: %s", file.platform, file.file_id, error)
            return None

    async def _notice(self, message: Notice) -> Outcome:
        """A message from the desk itself (SLA reminders, breaches): in a card's thread when
        ``role`` names one, else at the top of the channel. Its text is the core's own
        (numbers and config names, not user input); the people it calls are mentioned."""
        chat, extra = message.place.chat, {}
        if message.role:
            async with self._sessions() as session:
                link = await links.get(session, message.ticket, message.role)
            if link is not None:
                chat, extra = link.chat, {"thread_ts": link.message_id}
        calls = [mention(target) for target in message.ping]
        text = " ".join([message.text, *calls])
        posted = await self._client.chat_postMessage(
            channel=chat, text=text, unfurl_links=False, **extra
        )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _digest(self, message: Digest) -> Outcome:
        """The weekly digest: the figures as Block Kit, then the chart as an image."""
        chat = message.place.chat
        period = report_query.digest_period(message)
        async with self._sessions() as session:
            report = await report_query.report(session, period)
        title = f"Weekly digest {period.label}"
        posted = await self._client.chat_postMessage(
            channel=chat, text=stats_text(report), blocks=stats_blocks(report, title=title)
        )
        chart = await asyncio.to_thread(chart_png, report)
        try:  # the figures are posted; a failed chart must not post them again on retry
            await self._client.files_upload_v2(
                channel=posted["channel"],
                thread_ts=posted["ts"],
                file=chart,
                filename=f"helpdesk-{period.since:%Y-%m-%d}.png",
                title=title,
            )
        except SlackApiError as error:
            log.warning("digest chart not uploaded: %s", error.response.get("error"))
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _reaction(self, message: Mark) -> Outcome:
        chat, ts = message.place.chat, message.message_id
        try:
            name = RECEIPTS[message.mark]
            await self._client.reactions_add(channel=chat, timestamp=ts, name=name)
        except SlackApiError as error:
            if error.response.get("error") != "already_reacted":
                raise
        return Sent({"channel": chat, "ts": ts})
