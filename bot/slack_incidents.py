"""Slack listeners for major incidents: the card's Link to…, Unlink, Declare major incident and
Broadcast buttons, and the Link and Broadcast modals. Only operators may use any of them."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_blocks import (
    INCIDENT_BROADCAST,
    INCIDENT_DECLARE,
    INCIDENT_LINK,
    INCIDENT_UNLINK,
)
from bot.slack_context import People, answer_privately, cause_of, tell_refusal, view_value
from bot.slack_incident_blocks import (
    BROADCAST_MODAL,
    LINK_MODAL,
    PARENT,
    PARENT_NUMBER,
    UPDATE,
    broadcast_modal,
    link_modal,
)
from handlers.desk import Desk
from handlers.tickets_service import ActionResult

NOT_OPERATOR = "Only operators (members of the operators' channel) can do this."


def parent_number(view: dict[str, Any]) -> int | None:
    """The parent the Link modal names: a typed number (``#`` allowed) before a suggestion."""
    typed = view_value(view, PARENT_NUMBER).strip().removeprefix("#").strip()
    chosen = typed or view_value(view, PARENT)
    return int(chosen) if chosen.isdigit() and 0 < int(chosen) < 2**53 else None


def register_incidents(app: AsyncApp, desk: Desk, people: People) -> None:
    incident_desk = desk.incidents
    channel = desk.places.operators.chat

    async def refuse(client: AsyncWebClient, user_id: str, result: ActionResult) -> None:
        async def post(text: str) -> None:
            await client.chat_postEphemeral(channel=channel, user=user_id, text=text)

        await tell_refusal(post, result)

    @app.action(INCIDENT_LINK)
    @app.action(INCIDENT_UNLINK)
    @app.action(INCIDENT_DECLARE)
    @app.action(INCIDENT_BROADCAST)
    async def card_button(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        action = body["actions"][0]
        number = int(action.get("value") or 0)
        user_id = body["user"]["id"]

        async def tell(text: str) -> None:
            await answer_privately(body, respond, client, channel, text)

        if not await people.is_operator(user_id):
            await tell(NOT_OPERATOR)
            return
        operator = await people.operator(user_id)
        pressed = action["action_id"]
        if pressed == INCIDENT_UNLINK:
            await tell_refusal(tell, await incident_desk.unlink(number, operator, cause_of(body)))
        elif pressed == INCIDENT_DECLARE:
            await tell_refusal(
                tell, await incident_desk.declare_major(number, operator, cause_of(body))
            )
        elif pressed == INCIDENT_LINK:
            ticket, suggestions = await incident_desk.link_candidates(number)
            if ticket is None:
                await tell(f"There is no ticket #{number}.")
                return
            view = link_modal(ticket, suggestions)
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        else:
            incident = await desk.ticket(number)
            if incident is None or not incident.major:
                await tell(f"Ticket #{number} is not a major incident.")
                return
            view = broadcast_modal(incident, await incident_desk.affected(number))
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(LINK_MODAL)
    async def link_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        parent = parent_number(view)
        if parent is None:
            await ack(
                response_action="errors",
                errors={PARENT_NUMBER: "Choose a ticket or type its number."},
            )
            return
        await ack()
        user_id = body["user"]["id"]
        if not await people.is_operator(user_id):
            await client.chat_postEphemeral(channel=channel, user=user_id, text=NOT_OPERATOR)
            return
        child = int(view.get("private_metadata") or 0)
        operator = await people.operator(user_id)
        result = await incident_desk.link(child, parent, operator, cause_of(body))
        await refuse(client, user_id, result)

    @app.view(BROADCAST_MODAL)
    async def broadcast_submitted(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        text = view_value(view, UPDATE).strip()
        if not text:
            await ack(response_action="errors", errors={UPDATE: "Write the update to send."})
            return
        await ack()
        user_id = body["user"]["id"]
        if not await people.is_operator(user_id):
            await client.chat_postEphemeral(channel=channel, user=user_id, text=NOT_OPERATOR)
            return
        parent = int(view.get("private_metadata") or 0)
        operator = await people.operator(user_id)
        result = await incident_desk.broadcast(parent, operator, text, cause_of(body))
        await refuse(client, user_id, result)
