"""The Slack adapter: slack-bolt as transport only.

Operators work in one channel: ticket cards with buttons (claim, release, escalate, resolve,
reject), modals for notes, the card's thread to talk to the requester, ``/helpdesk`` to list
and show tickets. Slack users can be requesters too: they write to the app in a DM (or press
"New request" in its Home tab), exactly like Telegram users write to the bot.

Every listener acks first (Slack wants an answer within 3 seconds), then makes one plain core
call. Events are de-duplicated by ``event_id`` (Slack retries them when an answer is slow) and
clicks by ``action_ts`` + user. Rendering lives in :mod:`bot.slack_blocks`, delivery in
:mod:`bot.slack_sender`.

Slack DMs have no per-app slash commands, so a requester types a command as a bare word:
``new``, ``status``, ``cancel``, ``help`` (or ``start``). ``/new`` works too where a Slack client
lets it through (most treat an unknown ``/word`` as a slash command and refuse to send it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.report_render import stats_blocks, stats_text
from bot.slack_blocks import (
    CARD_ACTION_PREFIX,
    HOME_NEW_TICKET,
    NOTE,
    REJECT,
    REPLY_ACTION_PREFIX,
    RESOLVE,
    answered,
    escape_mrkdwn,
    home_view,
    note_modal,
)
from bot.slack_card import card_text, ticket_list
from bot.slack_context import (
    NOT_OPERATOR,
    PLATFORM,
    STALE_BUTTON,
    People,
    answer_privately,
    card_of_button,
    cause_of,
    dedupe_key,
    tell_refusal,
)
from bot.slack_escalation import open_escalation, register_second_line
from bot.slack_incidents import open_incident_dialog, register_incidents
from bot.slack_sender import SlackSender, build_client
from bot.slack_solutions import open_saved_reply, register_known_solutions, register_saved_replies
from handlers.desk import Desk
from handlers.intake import PREFIX as INTAKE_PREFIX
from handlers.intake import Input
from handlers.messages import Attachment, ticket_number
from handlers.outbound import Place, PostRef
from handlers.reports import PeriodError, desk_zone, parse_period
from handlers.requesters import CONFIRM, USER_COMMANDS
from handlers.satisfaction import RATE, SKIP
from handlers.tickets import Action, Event, allowed_actions
from handlers.tickets_service import Refusal, cannot_move
from storage import links
from storage.dedupe import Dedupe

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
COMMAND = "/helpdesk"
USAGE = (
    f"Usage: `{COMMAND} list` (open tickets, oldest first), `{COMMAND} show <number>`, "
    f"`{COMMAND} stats [7d|30d|YYYY-MM-DD..YYYY-MM-DD]`, `{COMMAND} reply` (a new saved reply)."
)
NOT_RELAYED_OPERATORS = (
    "Only operators write to the requester in this thread; your message was not relayed."
)
NOT_RELAYED_SPECIALISTS = (
    "Only this line's specialists write to the requester in this thread; "
    "your message was not relayed."
)
_CARD_ACTION = re.compile(rf"^{CARD_ACTION_PREFIX}\w+$")
_REPLY_BUTTON = re.compile(rf"^{REPLY_ACTION_PREFIX}\d+$")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


# --- the app ------------------------------------------------------------------------------------


class SlackAdapter:
    """The bolt app, its listeners, and the sender for the outbox, for one workspace."""

    def __init__(
        self,
        settings: Settings,
        desk: Desk,
        dedupe: Dedupe,
        sender_client: AsyncWebClient | None = None,  # the outbox's client (bot/pacing.py)
    ) -> None:
        token = settings.slack_bot_token.get_secret_value()
        self.client = build_client(token, settings.slack_api_url)
        # Listeners run before Slack gets its 200: an event cut off by a crash is retried by
        # Slack (and de-duplicated) instead of being lost after an early answer.
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            process_before_response=True,
        )
        self.people = People(self.client, desk.places.operators.chat, desk.config.desk.operators)
        self.sender = SlackSender(
            sender_client or build_client(token, settings.slack_api_url, retries=False),
            desk.sessions,
            desk.config,
            desk.clock,
        )
        self._socket: AsyncSocketModeHandler | None = None
        register(self.app, desk, self.people, dedupe, self.sender)

    async def handle_http(self, request: web.Request) -> web.Response:
        """``POST /slack/events``: bolt verifies the signature and the timestamp. Its verifier
        raises on a timestamp that is not a number: that is refused here like a bad signature."""
        if not _TIMESTAMP.fullmatch(request.headers.get("X-Slack-Request-Timestamp", "")):
            return web.json_response({"error": "invalid request"}, status=401)
        return await to_aiohttp_response(
            await self.app.async_dispatch(await to_bolt_request(request))
        )

    async def connect_socket_mode(self, app_token: str) -> None:
        self._socket = AsyncSocketModeHandler(self.app, app_token)
        await self._socket.connect_async()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()


def register(
    app: AsyncApp, desk: Desk, people: People, dedupe: Dedupe, sender: SlackSender
) -> None:
    """Attach every listener to ``app``."""
    app.use(_once(dedupe, desk))
    register_card_actions(app, desk, people)
    register_second_line(app, desk, people)
    register_incidents(app, desk, people)
    register_modals(app, desk, people)
    register_known_solutions(app, desk, people)
    register_saved_replies(app, desk, people)
    register_messages(app, desk, people)
    register_requester_buttons(app, desk, people)
    register_home(app, desk, people)
    register_command(app, desk, people, sender)


def _once(dedupe: Dedupe, desk: Desk) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Global middleware: an event or a click seen before is answered 200 and dropped."""

    async def middleware(body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> Any:
        key = dedupe_key(body)
        if key and not await dedupe.first_time(key, desk.clock()):
            log.info("slack %s seen before; skipped", key)
            return BoltResponse(status=200, body="")
        return await next_()

    return middleware


# --- operators: card buttons and modals ---------------------------------------------------------


def register_card_actions(app: AsyncApp, desk: Desk, people: People) -> None:
    channel = desk.places.operators.chat

    @app.action(_CARD_ACTION)
    async def card_button(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user_id = body["user"]["id"]
        action = body["actions"][0]
        name = str(action["action_id"]).removeprefix(CARD_ACTION_PREFIX)

        async def tell(text: str) -> None:
            await answer_privately(body, respond, client, channel, text)

        if not await people.is_operator(user_id):
            await tell(NOT_OPERATOR)
            return
        card = await card_of_button(desk, body, links.OPERATOR_CARD)
        if card is None:
            await tell(STALE_BUTTON)
            return
        number = card[0]
        operator = await people.operator(user_id)
        cause = cause_of(body)
        if name == Action.CLAIM:
            await tell_refusal(tell, await desk.operators.claim(number, operator, cause))
        elif name == Action.RELEASE:
            await tell_refusal(tell, await desk.operators.release(number, operator, cause))
        elif name == Action.ESCALATE:
            refusal = await open_escalation(desk, body, client, number)
            if refusal:
                await tell(refusal)
        elif name == Action.UNLINK:
            await tell_refusal(tell, await desk.incidents.unlink(number, operator, cause))
        elif name in (Action.LINK, Event.DECLARE_MAJOR, Event.BROADCAST):
            refusal = await open_incident_dialog(desk, body, client, name, number)
            if refusal:
                await tell(refusal)
        elif name in (RESOLVE, REJECT):
            ticket = await desk.ticket(number)
            if ticket is None:
                await tell(f"There is no ticket #{number}.")
            elif Action(name) not in allowed_actions(ticket.status):
                await tell(cannot_move(number, ticket.status, Action(name)))
            else:
                await client.views_open(
                    trigger_id=body["trigger_id"], view=note_modal(name, ticket)
                )


def register_modals(app: AsyncApp, desk: Desk, people: People) -> None:
    moves = {RESOLVE: desk.operators.resolve, REJECT: desk.operators.reject}
    missing = {RESOLVE: "Write what was done.", REJECT: "Write why the ticket is rejected."}

    async def submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        kind = view["callback_id"]
        note = ((view["state"]["values"].get(NOTE) or {}).get(NOTE) or {}).get("value") or ""
        if not note.strip():
            await ack(response_action="errors", errors={NOTE: missing[kind]})
            return
        await ack()
        user_id = body["user"]["id"]
        channel = desk.places.operators.chat
        number = ticket_number(str(view.get("private_metadata") or ""))
        if number is None:
            await client.chat_postEphemeral(channel=channel, user=user_id, text=STALE_BUTTON)
            return
        if not await _may_finish(desk, people, user_id, kind, number):
            await client.chat_postEphemeral(channel=channel, user=user_id, text=NOT_OPERATOR)
            return
        operator = await people.operator(user_id)
        result = await moves[kind](number, operator, note.strip(), cause_of(body))
        if isinstance(result, Refusal):
            text = escape_mrkdwn(result.reason)
            await client.chat_postEphemeral(channel=channel, user=user_id, text=text)

    app.view(RESOLVE)(submitted)
    app.view(REJECT)(submitted)


async def _may_finish(desk: Desk, people: People, user_id: str, kind: str, number: int) -> bool:
    """Operators may resolve and reject; the specialists of the line holding an escalated
    ticket may resolve it too."""
    if await people.is_operator(user_id):
        return True
    ticket = await desk.ticket(number)
    place = desk.places.line(ticket.line or "") if ticket and kind == RESOLVE else None
    return place is not None and await people.is_specialist(user_id, place.chat)


# --- messages: card threads (operators) and DMs (requesters) ------------------------------------


def register_messages(app: AsyncApp, desk: Desk, people: People) -> None:
    places = desk.places.card_places()
    card_channels = {place.chat for place in places if place.platform == PLATFORM}

    @app.event("message")
    async def message(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("bot_id") or not event.get("user"):
            return  # other bots, and our own messages (bolt drops those already)
        if event.get("channel_type") == "im":
            await _from_requester(desk, people, event, cause_of(body))
        elif event.get("channel") in card_channels:
            await _in_card_thread(desk, people, client, event, cause_of(body))


async def _in_card_thread(
    desk: Desk, people: People, client: AsyncWebClient, event: dict[str, Any], cause: str
) -> None:
    """An operator's reply in a card's thread goes to the requester. Edits, deletions, joins
    and file uploads are not relayed (files from operators are not supported yet)."""
    thread_ts, ts, channel = event.get("thread_ts"), event["ts"], event["channel"]
    if event.get("subtype") not in (None, "thread_broadcast") or not thread_ts or thread_ts == ts:
        return
    card = await desk.card_at(Place(PLATFORM, channel), thread_ts)
    if card is None:
        return
    number, role = card
    if not await _may_speak(desk, people, event["user"], role):
        text = NOT_RELAYED_OPERATORS if role == links.OPERATOR_CARD else NOT_RELAYED_SPECIALISTS
        try:
            await client.chat_postEphemeral(
                channel=channel, user=event["user"], text=text, thread_ts=thread_ts
            )
        except SlackApiError as error:
            log.info("could not tell %s why: %s", event["user"], error.response.get("error"))
        return
    operator = await people.operator(event["user"])
    source = PostRef(Place(PLATFORM, channel), ts)
    text = await people.plain_text(event.get("text", ""))
    result = await desk.operators.thread_message(number, operator, text, source, cause, role)
    if not result.ok:
        text = escape_mrkdwn(result.reason)
        await client.chat_postEphemeral(
            channel=channel, user=event["user"], text=text, thread_ts=thread_ts
        )


async def _may_speak(desk: Desk, people: People, user_id: str, role: str) -> bool:
    """Operators speak to requesters in the operators' card's thread; a line's specialists
    in that line's card's thread. Anyone else in the channel is not relayed."""
    if role == links.OPERATOR_CARD:
        return await people.is_operator(user_id)
    place = desk.places.line(links.line_of(role))
    return place is not None and await people.is_specialist(user_id, place.chat)


async def _from_requester(desk: Desk, people: People, event: dict[str, Any], cause: str) -> None:
    """A DM to the app: a command word, text, and/or files."""
    if event.get("subtype") not in (None, "file_share"):
        return  # edits, deletions and the like
    user = await people.requester(event["user"])
    text = await people.plain_text(event.get("text", ""))
    files = [_attachment(f) for f in event.get("files") or []]
    inputs = [Input(text=text, file=files[0] if files else None)]
    inputs += [Input(file=file) for file in files[1:]]
    for i, given in enumerate(inputs):
        # The requester's chat is their user id: chat.postMessage to it lands in the app's DM,
        # and the core writes to requesters by user id too, so one queue keeps them in order.
        command = command_of(text) if i == 0 else ""
        each = f"{cause}:{i}" if i else cause
        await desk.requesters.user_message(user, user.id, given, each, command)


def command_of(text: str) -> str:
    """The command in a DM: a bare word (``new``, ``Help``), or ``/new …`` like Telegram.
    "new printer is broken" is a message, not a command."""
    text = text.strip().lower()
    word = text[1:].split(maxsplit=1)[0] if text.startswith("/") and len(text) > 1 else text
    return word if word in USER_COMMANDS else ""


def _attachment(file: dict[str, Any]) -> Attachment:
    kind = "photo" if str(file.get("mimetype", "")).startswith("image/") else "document"
    return Attachment(kind, str(file.get("id", "")), str(file.get("name") or ""))


# --- requesters: buttons in the DM and the Home tab ---------------------------------------------


def register_requester_buttons(app: AsyncApp, desk: Desk, people: People) -> None:
    @app.action(_REPLY_BUTTON)
    async def pressed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        value = str(action.get("value") or "")
        if not value.startswith((INTAKE_PREFIX, CONFIRM, RATE, SKIP)):
            return
        message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
        if message.get("blocks") and channel:
            label = str((action.get("text") or {}).get("text") or value)
            try:  # buttons are single-use: show the answer instead
                await client.chat_update(
                    channel=channel,
                    ts=message["ts"],
                    text=message.get("text", ""),
                    blocks=answered(message["blocks"], label),
                )
            except SlackApiError as error:
                log.info("could not take the buttons off: %s", error.response.get("error"))
        user = await people.requester(body["user"]["id"])
        await desk.requesters.user_message(user, user.id, Input(choice=value), cause_of(body))

    @app.action(HOME_NEW_TICKET)
    async def new_ticket(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user = await people.requester(body["user"]["id"])
        await desk.requesters.user_message(user, user.id, Input(), cause_of(body), command="new")


def register_home(app: AsyncApp, desk: Desk, people: People) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = await people.requester(event["user"])
        tickets = await desk.open_tickets_of(PLATFORM, user.id)
        lines = [desk.requesters.status_line(ticket, user.language) for ticket in tickets]
        await client.views_publish(user_id=user.id, view=home_view(user.language, lines))


# --- /helpdesk ----------------------------------------------------------------------------------


def register_command(app: AsyncApp, desk: Desk, people: People, sender: SlackSender) -> None:
    @app.command(COMMAND)
    async def helpdesk(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        if not await people.is_operator(command["user_id"]):
            await respond(text=NOT_OPERATOR, response_type="ephemeral")
            return
        words = command.get("text", "").split()
        if words == ["reply"]:
            await open_saved_reply(desk, people, client, command["user_id"], command["trigger_id"])
            return
        if words[:1] == ["stats"]:
            text, blocks = await _stats(desk, " ".join(words[1:]))
            await respond(text=text, blocks=blocks, response_type="ephemeral")
            return
        text = await _command_answer(desk, sender, words)
        await respond(text=text, response_type="ephemeral")


async def _command_answer(desk: Desk, sender: SlackSender, words: list[str]) -> str:
    match words:
        case ["list"]:
            return ticket_list(await desk.open_tickets(), desk.config, desk.clock())
        case ["show", number] if number.lstrip("#").isdigit():
            card = await sender.card_of(int(number.lstrip("#")))
            if card is None:
                return f"There is no ticket #{number.lstrip('#')}."
            return card_text(*card, desk.config)
    return USAGE


async def _stats(desk: Desk, period_text: str) -> tuple[str, list[dict[str, Any]]]:
    """``/helpdesk stats [7d|30d|YYYY-MM-DD..YYYY-MM-DD]``: the desk's figures for a period."""
    try:
        period = parse_period(period_text, desk.clock(), desk_zone(desk.config))
    except PeriodError as error:
        return f"{error}\n{USAGE}", []
    report = await desk.report(period)
    return stats_text(report), stats_blocks(report)
