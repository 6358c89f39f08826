"""Slack listeners of the second line: the Escalate modal, and the specialist card's buttons
(Take, Resolve, Return to first line). Threads of specialist cards are handled with the
operators' threads in :mod:`bot.slack` (the card's role tells them apart)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_blocks import RESOLVE, escape_mrkdwn, note_modal
from bot.slack_context import (
    PLATFORM,
    STALE_BUTTON,
    People,
    answer_privately,
    card_of_button,
    cause_of,
)
from bot.slack_escalation_blocks import (
    ESCALATE,
    IMPACT,
    LINE,
    NOTE,
    RETURN,
    SPEC_RESOLVE,
    TAKE,
    escalate_modal,
)
from handlers.desk import Desk
from handlers.outbound import Place
from handlers.tickets import Action, Level, allowed_actions
from handlers.tickets_service import ActionResult, Refusal, cannot_move
from storage import links

NOT_SPECIALIST = "Only this line's specialists (members of its channel) can do this."


def _selected(view: dict[str, Any], block: str) -> str:
    state = (view["state"]["values"].get(block) or {}).get(block) or {}
    return str((state.get("selected_option") or {}).get("value") or state.get("value") or "")


async def open_escalation(
    desk: Desk, body: dict[str, Any], client: AsyncWebClient, number: int
) -> str:
    """The card's Escalate button: open the modal, or say why not ('' when opened)."""
    ticket = await desk.ticket(number)
    if ticket is None:
        return f"There is no ticket #{number}."
    if Action.ESCALATE not in allowed_actions(ticket.status):
        return cannot_move(number, ticket.status, Action.ESCALATE)
    view = escalate_modal(ticket, desk.config)
    await client.views_open(trigger_id=body["trigger_id"], view=view)
    return ""


def register_second_line(app: AsyncApp, desk: Desk, people: People) -> None:
    specialists = desk.specialists

    @app.view(ESCALATE)
    async def escalated(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        line, impact = _selected(view, LINE), _selected(view, IMPACT)
        if desk.config.line(line) is None or impact not in Level.__members__.values():
            await ack(response_action="errors", errors={LINE: "Choose a support line."})
            return
        await ack()
        user_id = body["user"]["id"]
        channel = desk.places.operators.chat
        if not await people.is_operator(user_id):
            await client.chat_postEphemeral(
                channel=channel, user=user_id, text="Only operators can escalate."
            )
            return
        operator = await people.operator(user_id)
        number = int(view.get("private_metadata") or 0)
        note = _selected(view, NOTE).strip()
        result = await specialists.escalate(
            number, operator, line, note, Level(impact), cause_of(body)
        )
        if isinstance(result, Refusal):
            text = escape_mrkdwn(result.reason)
            await client.chat_postEphemeral(channel=channel, user=user_id, text=text)

    @app.action(TAKE)
    @app.action(SPEC_RESOLVE)
    @app.action(RETURN)
    async def specialist_button(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        action = body["actions"][0]
        channel = (body.get("channel") or {}).get("id", "")
        user_id = body["user"]["id"]

        async def answer(text: str) -> None:
            await answer_privately(body, respond, client, channel, text)

        if not await people.is_specialist(user_id, channel):
            await answer(NOT_SPECIALIST)
            return
        number = await card_of_button(desk, body, links.SPECIALIST_CARD)
        card = await desk.card_at(Place(PLATFORM, channel), body["container"]["message_ts"])
        if number is None or card is None:
            await answer(STALE_BUTTON)
            return
        line = links.line_of(card[1])
        specialist = await people.operator(user_id)
        cause = cause_of(body)
        result: ActionResult | None = None
        if action["action_id"] == TAKE:
            result = await specialists.take(number, specialist, line, cause)
        elif action["action_id"] == RETURN:
            result = await specialists.return_to_first_line(number, specialist, line, "", cause)
        else:
            ticket = await desk.ticket(number)
            if ticket is None or Action.RESOLVE not in allowed_actions(ticket.status):
                status = ticket.status if ticket else None
                await answer(
                    cannot_move(number, status, Action.RESOLVE)
                    if status
                    else f"There is no ticket #{number}."
                )
                return
            await client.views_open(trigger_id=body["trigger_id"], view=note_modal(RESOLVE, ticket))
        if isinstance(result, Refusal):
            await answer(escape_mrkdwn(result.reason))
