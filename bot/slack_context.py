"""Who is who in Slack, and what every Slack listener needs: the cause of a request (its
outbox keys derive from it), what makes a request a repeat, and a private answer to whoever
acted."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_blocks import from_slack, mentioned
from handlers.desk import Desk
from handlers.i18n import pick_language
from handlers.messages import UserRef, ticket_number
from handlers.outbound import Place

log = logging.getLogger(__name__)

STALE_BUTTON = "This button is no longer valid: use the ticket's current card."
PLATFORM = "slack"
CACHE_SECONDS = 300.0


# --- people -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: str
    name: str  # display name if set, else real name: what operators are called
    real_name: str
    language: str


class People:
    """Who is who in Slack, cached: names and languages (``users.info``) and who is an
    operator (on ``desk.operators`` or a member of the operators' channel)."""

    def __init__(
        self, client: AsyncWebClient, channel: str, allow: list[str], ttl: float = CACHE_SECONDS
    ) -> None:
        self._client = client
        self._channel = channel
        self._allow = frozenset(allow)
        self._ttl = ttl
        self._people: dict[str, tuple[float, Person]] = {}
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def person(self, user_id: str) -> Person:
        cached = self._people.get(user_id)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            info = (await self._client.users_info(user=user_id, include_locale=True))["user"]
        except SlackApiError as error:
            log.warning("users.info %s failed: %s", user_id, error.response.get("error"))
            return Person(user_id, user_id, user_id, "en")
        profile = info.get("profile") or {}
        real = profile.get("real_name") or info.get("real_name") or info.get("name") or user_id
        person = Person(
            id=user_id,
            name=profile.get("display_name") or real,
            real_name=real,
            language=pick_language(info.get("locale")),
        )
        self._people[user_id] = (time.monotonic(), person)
        return person

    async def is_operator(self, user_id: str) -> bool:
        return user_id in self._allow or user_id in await self._channel_members(self._channel)

    async def is_specialist(self, user_id: str, channel: str) -> bool:
        """A support line's specialists are the members of its channel."""
        return user_id in await self._channel_members(channel)

    async def _channel_members(self, channel: str) -> frozenset[str]:
        fetched_at, members = self._members.get(channel, (float("-inf"), frozenset()))
        if time.monotonic() - fetched_at < self._ttl:
            return members
        found: set[str] = set()
        cursor = ""
        try:
            while True:
                page = await self._client.conversations_members(
                    channel=channel, limit=200, cursor=cursor or None
                )
                found.update(page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    break
        except SlackApiError as error:  # keep the last known members rather than lock everyone out
            log.warning("conversations.members failed: %s", error.response.get("error"))
            return members
        self._members[channel] = (time.monotonic(), frozenset(found))
        return self._members[channel][1]

    async def operator(self, user_id: str) -> UserRef:
        person = await self.person(user_id)
        return UserRef(PLATFORM, user_id, person.name, person.language)

    async def requester(self, user_id: str) -> UserRef:
        person = await self.person(user_id)
        return UserRef(PLATFORM, user_id, person.real_name, person.language)

    async def plain_text(self, text: str) -> str:
        """A message's Slack markup as plain text, mentions by name (for the core)."""
        names = {uid: (await self.person(uid)).name for uid in set(mentioned(text))}
        return from_slack(text, names)


def cause_of(body: dict[str, Any]) -> str:
    """The core's ``cause`` for an inbound request (its outbox keys derive from it): the event
    id, the click (user and ``action_ts``), or the modal submission (its ``trigger_id``)."""
    match body.get("type"):
        case "event_callback":
            return f"slack:{body.get('event_id', '')}"
        case "block_actions":
            action = (body.get("actions") or [{}])[0]
            return f"slack:act:{body['user']['id']}:{action.get('action_ts', '')}"
        case "view_submission":
            return f"slack:view:{body.get('trigger_id', '')}"
    return ""


def dedupe_key(body: dict[str, Any]) -> str:
    """What makes a request a repeat: Slack retries slow events, a click may arrive twice.
    Modal submissions are not de-duplicated: a view keeps its id when the operator fixes an
    error and submits again."""
    if body.get("type") not in ("event_callback", "block_actions"):
        return ""
    cause = cause_of(body)
    return "" if cause.endswith(":") else cause


async def answer_privately(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, channel: str, text: str
) -> None:
    """An ephemeral answer to whoever acted: through the response_url when there is one."""
    user = body["user"]["id"]
    try:
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)
        else:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        log.warning("could not tell %s %r: %s", user, text, error.response.get("error"))


async def card_of_button(desk: Desk, body: dict[str, Any], role: str) -> int | None:
    """The ticket whose card (of ``role``, or any specialist card when ``role`` is the
    specialist prefix) holds the pressed button; None for a forged value or a button on a
    message that is not that ticket's card."""
    number = ticket_number(str(body["actions"][0].get("value") or ""))
    channel = (body.get("channel") or {}).get("id", "")
    message_ts = (body.get("container") or {}).get("message_ts", "")
    card = await desk.card_at(Place(PLATFORM, channel), message_ts) if number else None
    if card is None or card[0] != number or not card[1].startswith(role):
        return None
    return number
