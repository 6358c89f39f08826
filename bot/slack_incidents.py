"""Slack listeners for major incidents: the card's Link to…, Declare major incident and
Broadcast buttons open their modals (the card listener in :mod:`bot.slack` routes every card
button), and the submitted modals link a ticket, declare an incident or send a broadcast. Only
operators may do any of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_blocks import view_value
from bot.slack_context import STALE_BUTTON, People, cause_of, tell_refusal
from bot.slack_incident_blocks import (
    BROADCAST_MODAL,
    DECLARE_MODAL,
    LINK_MODAL,
    PARENT,
    PARENT_NUMBER,
    TITLE,
    UPDATE,
    broadcast_modal,
    declare_modal,
    link_modal,
)
from handlers.desk import Desk
from handlers.messages import UserRef, ticket_number
from handlers.tickets import Action, Event
from handlers.tickets_service import ActionResult

NOT_OPERATOR = "Only operators (members of the operators' channel) can do this."


def parent_number(view: dict[str, Any]) -> int | None:
    """The parent the Link modal names: a typed number (``#`` allowed) before a suggestion."""
    typed = view_value(view, PARENT_NUMBER).strip().removeprefix("#").strip()
    return ticket_number(typed or view_value(view, PARENT))


async def open_incident_dialog(
    desk: Desk, body: dict[str, Any], client: AsyncWebClient, what: str, number: int
) -> str:
    """The card's Link to…, Declare major incident or Broadcast button: open its modal, or say
    why not ('' when opened)."""
    if what == Action.LINK:
        ticket, suggestions = await desk.incidents.link_candidates(number)
        if ticket is None:
            return f"There is no ticket #{number}."
        view = link_modal(ticket, suggestions)
    elif what == Event.DECLARE_MAJOR:
        ticket = await desk.ticket(number)
        if ticket is None:
            return f"There is no ticket #{number}."
        view = declare_modal(ticket)
    else:
        incident = await desk.ticket(number)
        if incident is None or not incident.major:
            return f"Ticket #{number} is not a major incident."
        view = broadcast_modal(incident, await desk.incidents.affected(number))
    await client.views_open(trigger_id=body["trigger_id"], view=view)
    return ""


def register_incidents(app: AsyncApp, desk: Desk, people: People) -> None:
    channel = desk.places.operators.chat
    Submit = Callable[[int, UserRef, str], Awaitable[ActionResult]]

    async def as_operator(body: dict[str, Any], client: AsyncWebClient, submit: Submit) -> None:
        """A submitted modal (acknowledged already): its move, made by the operator who
        submitted it, or why not, privately."""
        user_id = body["user"]["id"]

        async def tell(text: str) -> None:
            await client.chat_postEphemeral(channel=channel, user=user_id, text=text)

        if not await people.is_operator(user_id):
            await tell(NOT_OPERATOR)
            return
        number = ticket_number(str(body["view"].get("private_metadata") or ""))
        if number is None:
            await tell(STALE_BUTTON)
            return
        operator = await people.operator(user_id)
        await tell_refusal(tell, await submit(number, operator, cause_of(body)))

    @app.view(LINK_MODAL)
    async def link_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        parent = parent_number(body["view"])
        if parent is None:
            errors = {PARENT_NUMBER: "Choose a ticket or type its number."}
            await ack(response_action="errors", errors=errors)
            return
        await ack()

        async def link(child: int, operator: UserRef, cause: str) -> ActionResult:
            return await desk.incidents.link(child, parent, operator, cause)

        await as_operator(body, client, link)

    TextMove = Callable[[int, UserRef, str, str], Awaitable[ActionResult]]

    def on_text(callback_id: str, block: str, missing: str, move: TextMove) -> None:
        """A modal whose one input is a text the move needs (a title, an update)."""

        @app.view(callback_id)
        async def submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            text = view_value(body["view"], block).strip()
            if not text:
                await ack(response_action="errors", errors={block: missing})
                return
            await ack()

            async def with_text(number: int, operator: UserRef, cause: str) -> ActionResult:
                return await move(number, operator, text, cause)

            await as_operator(body, client, with_text)

    on_text(DECLARE_MODAL, TITLE, "Write a title requesters know.", desk.incidents.declare_major)
    on_text(BROADCAST_MODAL, UPDATE, "Write the update to send.", desk.incidents.broadcast)
