"""Block Kit for major incidents: the Link to… and Broadcast modals. Pure rendering like
:mod:`bot.slack_blocks`; every user text is escaped. The card's incident parts (the collapsed
child, the parent's reach and delivery count, the buttons) are in :mod:`bot.slack_blocks`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack_blocks import Block, clip, mrkdwn_text, plain_text, static_select
from handlers.incidents import title
from handlers.tickets import Ticket

LINK_MODAL, BROADCAST_MODAL = "incident_link_modal", "incident_broadcast_modal"
DECLARE_MODAL = "incident_declare_modal"
PARENT, PARENT_NUMBER, UPDATE = "parent", "parent_number", "update"  # block and action ids
TITLE = "title"
TITLE_MAX = 200
UPDATE_MAX = 2000


def _summary(ticket: Ticket) -> Block:
    return {
        "type": "section",
        "text": mrkdwn_text(f"*#{ticket.number}*: {clip(ticket.description, 500)}"),
    }


def suggestion_label(ticket: Ticket) -> str:
    """'#12 🚨 Wi-Fi is down on the 3rd floor' (plain text: Slack shows it as typed)."""
    mark = " 🚨" if ticket.major else ""
    return f"#{ticket.number}{mark} {title(ticket.description)}"


def link_modal(ticket: Ticket, suggestions: Sequence[Ticket]) -> Block:
    """Which ticket ``ticket`` belongs to: one of the suggested open tickets of its category
    (incidents first), or any number typed in."""
    blocks: list[Block] = [_summary(ticket)]
    if suggestions:
        options = {str(s.number): suggestion_label(s) for s in suggestions}
        blocks.append(
            {
                "type": "input",
                "block_id": PARENT,
                "optional": True,
                "label": plain_text("Open tickets of the same category", 2000),
                "element": static_select(options, "", PARENT),
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": PARENT_NUMBER,
            "optional": bool(suggestions),
            "label": plain_text("…or the parent ticket's number", 2000),
            "element": {"type": "plain_text_input", "action_id": PARENT_NUMBER, "max_length": 12},
        }
    )
    return {
        "type": "modal",
        "callback_id": LINK_MODAL,
        "private_metadata": str(ticket.number),
        "title": plain_text(f"Link #{ticket.number}", 24),
        "submit": plain_text("Link", 24),
        "close": plain_text("Cancel", 24),
        "blocks": blocks,
    }


def declare_modal(ticket: Ticket) -> Block:
    """The title requesters will know the incident by (offered during intake): the operator's
    words, prefilled with the description's first line to edit, never sent as it is."""
    return {
        "type": "modal",
        "callback_id": DECLARE_MODAL,
        "private_metadata": str(ticket.number),
        "title": plain_text(f"Major incident #{ticket.number}", 24),
        "submit": plain_text("Declare", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            _summary(ticket),
            {
                "type": "input",
                "block_id": TITLE,
                "label": plain_text("Title requesters will see (no names or personal data)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": TITLE,
                    "initial_value": title(ticket.description),
                    "max_length": TITLE_MAX,
                },
            },
        ],
    }


def broadcast_modal(incident: Ticket, people: int) -> Block:
    """The update every requester of the incident gets, each in their own chat."""
    who = "person" if people == 1 else "people"
    return {
        "type": "modal",
        "callback_id": BROADCAST_MODAL,
        "private_metadata": str(incident.number),
        "title": plain_text(f"Broadcast #{incident.number}", 24),
        "submit": plain_text("Send to all", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            _summary(incident),
            {
                "type": "context",
                "elements": [mrkdwn_text(f"Goes to {people} {who}, each in their own chat.")],
            },
            {
                "type": "input",
                "block_id": UPDATE,
                "label": plain_text("Update (for example: ETA 30 min)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": UPDATE,
                    "multiline": True,
                    "max_length": UPDATE_MAX,
                },
            },
        ],
    }
