"""Slack listeners for known solutions on the operators' desk: "Save as solution" on a resolved
ticket's card (a modal prefilled from the ticket), "Reply with a solution" (a modal to pick a
known solution or a saved reply) and ``/helpdesk reply`` (a new saved reply, optionally in place
of an operator's older one). The chosen text is posted in the card's thread and relayed to
the requester exactly like an operator's own message there (receipt marks included)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.card_words import REPLY_SOLUTION, SAVE_SOLUTION
from bot.slack_blocks import NEW_REPLY, escape_mrkdwn, split_escaped, view_value
from bot.slack_context import (
    NOT_OPERATOR,
    STALE_BUTTON,
    People,
    answer_privately,
    card_of_button,
    cause_of,
)
from bot.slack_solution_blocks import (
    ANSWER,
    KEYWORDS,
    LANGUAGE,
    LINK,
    PICK,
    REPLACES,
    TEXT,
    TITLE,
    picked,
    reply_picker_modal,
    save_reply_modal,
    save_solution_modal,
)
from handlers.config import is_web_address
from handlers.desk import Desk
from handlers.i18n import languages
from handlers.messages import ticket_number
from handlers.outbound import PostRef
from handlers.tickets_service import Refused
from storage import links

THREAD_TEXT_LIMIT = 3000


def register_known_solutions(app: AsyncApp, desk: Desk, people: People) -> None:
    known = desk.known_answers
    channel = desk.places.operators.chat

    async def tell(client: AsyncWebClient, user_id: str, text: str) -> None:
        await client.chat_postEphemeral(channel=channel, user=user_id, text=text)

    @app.action(SAVE_SOLUTION)
    @app.action(REPLY_SOLUTION)
    async def card_button(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        action = body["actions"][0]
        if not await people.is_operator(body["user"]["id"]):
            await answer_privately(body, respond, client, channel, NOT_OPERATOR)
            return
        card = await card_of_button(desk, body, links.OPERATOR_CARD)
        if card is None:
            await answer_privately(body, respond, client, channel, STALE_BUTTON)
            return
        number = card[0]
        try:
            if action["action_id"] == SAVE_SOLUTION:
                view = save_solution_modal(*await known.save_form(number))
            else:
                picks = await known.picks(number)
                view = reply_picker_modal(picks.ticket, picks.solutions, picks.replies)
        except Refused as refused:
            await answer_privately(body, respond, client, channel, escape_mrkdwn(refused.reason))
            return
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(SAVE_SOLUTION)
    async def save(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        user_id = body["user"]["id"]
        number = ticket_number(str(view.get("private_metadata") or ""))
        title, answer = view_value(view, TITLE).strip(), view_value(view, ANSWER).strip()
        link = view_value(view, LINK).strip()
        errors = {}
        if not title:
            errors[TITLE] = "Write what the problem looks like to users."
        if not answer:
            errors[ANSWER] = "Write what solves it."
        if link and not is_web_address(link):
            errors[LINK] = "A link starts with http:// or https://."
        if not await people.is_operator(user_id):
            errors = {TITLE: NOT_OPERATOR}
        elif number is None:
            errors = {TITLE: STALE_BUTTON}
        if errors or number is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        operator = await people.operator(user_id)
        keywords = view_value(view, KEYWORDS).split(",")
        try:
            saved = await known.save(number, operator, title, answer, keywords, link)
        except Refused as refused:
            await tell(client, user_id, escape_mrkdwn(refused.reason))
            return
        shown = escape_mrkdwn(next(iter(saved.title.values())))
        await tell(client, user_id, f"Saved as a known solution: {shown}")

    @app.view(REPLY_SOLUTION)
    async def reply(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        choice = picked(view)
        user_id = body["user"]["id"]
        if not await people.is_operator(user_id):
            await ack(response_action="errors", errors={PICK: NOT_OPERATOR})
            return
        number = ticket_number(str(view.get("private_metadata") or ""))
        if number is None:
            await ack(response_action="errors", errors={PICK: STALE_BUTTON})
            return
        if choice is None:
            await ack(response_action="errors", errors={PICK: "Pick a solution or a reply."})
            return
        await ack()
        operator = await people.operator(user_id)
        try:
            title, text = await known.text_of(number, *choice)
            card = await known.card_message(number)
            if card is None:
                raise Refused(f"The card of #{number} is not posted yet; try again shortly.")
        except Refused as refused:
            await tell(client, user_id, escape_mrkdwn(refused.reason))
            return
        heading = f"{escape_mrkdwn(operator.name)} sent “{escape_mrkdwn(title)}”:\n"
        shown = split_escaped(text, THREAD_TEXT_LIMIT - len(heading))[0]
        place, card_ts = card
        posted = await client.chat_postMessage(
            channel=place.chat, thread_ts=card_ts, text=heading + shown
        )
        source = PostRef(place, str(posted["ts"]))
        result = await desk.operators.thread_message(number, operator, text, source, cause_of(body))
        if not result.ok:
            await tell(client, user_id, escape_mrkdwn(result.reason))


async def open_saved_reply(
    desk: Desk, people: People, client: AsyncWebClient, user_id: str, trigger_id: str
) -> None:
    """``/helpdesk reply`` (the caller checked the operator): the new saved reply modal."""
    person = await people.person(user_id)
    replies = await desk.known_answers.operators_replies()
    view = save_reply_modal(person.language, languages(), replies)
    await client.views_open(trigger_id=trigger_id, view=view)


def register_saved_replies(app: AsyncApp, desk: Desk, people: People) -> None:
    known = desk.known_answers

    @app.view(NEW_REPLY)
    async def saved(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        user_id = body["user"]["id"]
        title, text = view_value(view, TITLE).strip(), view_value(view, TEXT).strip()
        language, replaces = view_value(view, LANGUAGE), view_value(view, REPLACES)
        errors = {}
        if not title:
            errors[TITLE] = "Write a title operators will recognise."
        if not text:
            errors[TEXT] = "Write what the requester reads."
        if language not in languages():
            errors[LANGUAGE] = "Choose a language."
        if not await people.is_operator(user_id):
            errors = {TITLE: NOT_OPERATOR}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        operator = await people.operator(user_id)
        try:
            reply = await known.save_reply(
                operator, language, title, text, int(replaces) if replaces.isdigit() else None
            )
        except Refused as refused:
            await ack(response_action="errors", errors={TITLE: refused.reason})
            return
        await ack()
        shown = escape_mrkdwn(reply.title_in(language))
        await client.chat_postEphemeral(
            channel=desk.places.operators.chat, user=user_id, text=f"Saved reply added: {shown}"
        )
