"""Delivers outbox rows to Slack and maps the Web API's answers onto the outbox's outcomes.

Kinds: ``card`` (post a ticket's card, or edit it in place; rendered from the ticket's current
state in the database, so a late or repeated refresh never shows stale data), ``text`` (a core
Reply to a user), ``relay`` (a requester's message into the card's thread), ``reaction``.
The client is built without retry handlers: the outbox owns retries and honours Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.report_render import chart_png, stats_blocks, stats_text
from bot.slack_blocks import CardHistory, mention, relay_text, reply_message, ticket_card
from bot.slack_context import PLATFORM
from bot.slack_escalation_blocks import specialist_card
from escalation import sla
from handlers.config import DeskConfig
from handlers.delivery import Outcome, RetryLater, Sent, Undeliverable
from handlers.messages import reply_from_payload
from handlers.reports import Period
from handlers.tickets import Action, Ticket
from storage import links, reports, sla_clocks
from storage import tickets as store
from storage.db import SessionFactory
from storage.models import OutboxRow
from storage.tickets import TicketNotFound

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

    async def send(self, row: OutboxRow) -> Outcome:
        chat = row.destination.partition(":")[2]
        kinds = {
            "card": self._card,
            "text": self._text,
            "relay": self._relay,
            "reaction": self._reaction,
            "notice": self._notice,
            "digest": self._digest,
        }
        deliver = kinds.get(row.kind)
        if deliver is None:
            return Undeliverable(f"slack cannot deliver a {row.kind!r} message")
        try:
            return await deliver(chat, row)
        except SlackApiError as error:
            return outcome_of(error)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return RetryLater(f"{type(error).__name__}: {error}")

    async def card_of(self, number: int) -> tuple[Ticket, CardHistory] | None:
        """What a ticket's card shows, as of now; None if there is no such ticket."""
        async with self._sessions() as session:
            try:
                ticket = await store.get(session, number)
            except TicketNotFound:
                return None
            history = _history(await store.events(session, number))
            clocks = await sla_clocks.load(session, number)
        timing = sla.summary(clocks, self._clock(), self._config.business_hours)
        return ticket, replace(history, sla=timing)

    async def _card(self, chat: str, row: OutboxRow) -> Outcome:
        number, role = int(row.payload["ticket"]), str(row.payload["role"])
        card = await self.card_of(number)
        if card is None:
            return Undeliverable(f"there is no ticket #{number}")
        if role.startswith(links.SPECIALIST_CARD):
            line_id = role.partition(":")[2]
            pings = [mention(target) for target in row.payload.get("ping", [])]
            text, blocks = specialist_card(*card, self._config, line_id, pings)
        else:
            text, blocks = ticket_card(*card, self._config)
        async with self._sessions() as session:
            link = await links.get(session, number, role)
        if link is not None:
            try:
                await self._client.chat_update(
                    channel=link.chat, ts=link.message_id, text=text, blocks=blocks
                )
                return Sent({"channel": link.chat, "ts": link.message_id, "updated": True})
            except SlackApiError as error:
                if error.response.get("error") not in _CARD_GONE:
                    raise
                log.warning("card of #%s is gone from Slack; posting it again", number)
        posted = await self._client.chat_postMessage(
            channel=chat, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        async with self._sessions.begin() as session:
            await links.put(
                session, number, role, PLATFORM, posted["channel"], posted["ts"], self._clock()
            )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _text(self, chat: str, row: OutboxRow) -> Outcome:
        text, blocks = reply_message(reply_from_payload(row.payload))
        extra: dict[str, Any] = {"blocks": blocks} if blocks else {}
        posted = await self._client.chat_postMessage(
            channel=chat, text=text, unfurl_links=False, unfurl_media=False, **extra
        )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _relay(self, chat: str, row: OutboxRow) -> Outcome:
        payload = row.payload
        thread = payload["thread_of"]
        async with self._sessions() as session:
            link = await links.get(session, int(thread["ticket"]), str(thread["role"]))
        if link is None:  # the card is queued before us; it is rarely not there yet
            if row.attempts >= RELAY_PATIENCE:
                return Undeliverable(f"the card of ticket #{thread['ticket']} was never posted")
            return RetryLater("the ticket's card is not posted yet", after=2.0)
        author, text = payload.get("author", ""), payload.get("text", "")
        role = payload.get("role", "requester")
        copied = await self._copy_file(payload.get("file"))
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
            text=relay_text(author, text, payload.get("file"), role),
            unfurl_links=False,
            unfurl_media=False,
        )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _copy_file(self, file: dict[str, Any] | None) -> tuple[bytes, str] | None:
        """A requester's file from their platform, to upload into the thread; None when there
        is none, no way to fetch it, or the platform will not hand it over (then the thread
        says where it is kept instead)."""
        fetch = self.fetchers.get(str((file or {}).get("platform", "")))
        if file is None or fetch is None:
            return None
        try:
            return await fetch(str(file["file_id"]))
        except Exception as error:  # too big for the Bot API, gone, network: say where it is
            log.warning("could not fetch %s file %s: %s", file.get("platform"), file, error)
            return None

    async def _notice(self, chat: str, row: OutboxRow) -> Outcome:
        """A message from the desk itself (SLA reminders, breaches): in a card's thread when
        ``thread_of`` names one, else at the top of the channel. Its text is the core's own
        (numbers and config names, not user input); the people it calls are mentioned."""
        thread = row.payload.get("thread_of")
        extra: dict[str, Any] = {}
        if thread:
            async with self._sessions() as session:
                link = await links.get(session, int(thread["ticket"]), str(thread["role"]))
            if link is not None:
                chat, extra = link.chat, {"thread_ts": link.message_id}
        calls = [mention(target) for target in row.payload.get("ping", [])]
        text = " ".join([row.payload["text"], *calls])
        posted = await self._client.chat_postMessage(
            channel=chat, text=text, unfurl_links=False, **extra
        )
        return Sent({"channel": posted["channel"], "ts": posted["ts"]})

    async def _digest(self, chat: str, row: OutboxRow) -> Outcome:
        """The weekly digest: the figures as Block Kit, then the chart as an image."""
        payload = row.payload
        period = Period(
            datetime.fromisoformat(payload["since"]),
            datetime.fromisoformat(payload["until"]),
            ZoneInfo(payload["zone"]),
        )
        async with self._sessions() as session:
            report = await reports.report(session, period)
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

    async def _reaction(self, chat: str, row: OutboxRow) -> Outcome:
        try:
            await self._client.reactions_add(
                channel=chat, timestamp=row.payload["ts"], name=RECEIPTS[row.payload["mark"]]
            )
        except SlackApiError as error:
            if error.response.get("error") != "already_reacted":
                raise
        return Sent({"channel": chat, "ts": row.payload["ts"]})


def _history(events: list[Any]) -> CardHistory:
    """The last move, the note of the latest resolution or rejection, and of the latest
    escalation (recorded as ``to <line>: <note>``)."""
    moves = [e for e in events if not e.action.startswith("sla_")]
    notes = [e.note for e in moves if e.action in (Action.RESOLVE, Action.REJECT) and e.note]
    escalations = [e.note for e in moves if e.action == Action.ESCALATE]
    escalation_note = escalations[-1].partition(": ")[2] if escalations else ""
    return CardHistory(
        last_action=moves[-1].action if moves else "",
        note=notes[-1] if notes else "",
        escalation_note=escalation_note,
    )
