"""The ticket card in Slack: Block Kit from a ticket and its history (no I/O). Every text a
person typed is escaped for mrkdwn on the way in (:func:`bot.slack_blocks.escape_mrkdwn`)."""

from __future__ import annotations

import re
from datetime import datetime

from bot.card_words import (
    INCIDENT_BUTTONS,
    NAME_LIMIT,
    SHORT_LIMIT,
    SOLUTION_BUTTONS,
    CardHistory,
    Markup,
    age,
    card_title,
    incident_moves,
    solution_moves,
    status_lines,
)
from bot.slack_blocks import (
    CARD_ACTION_PREFIX,
    HEADER_LIMIT,
    SECTION_LIMIT,
    Block,
    action_blocks,
    clip,
    escape_mrkdwn,
    make_button,
    mrkdwn_text,
    plain_text,
)
from handlers.config import DeskConfig
from handlers.tickets import (
    Action,
    Event,
    Status,
    Ticket,
    allowed_actions,
)

# The operator buttons of a card, in order; a button shows when the status allows its move.
CARD_BUTTONS: dict[Action, tuple[str, str]] = {
    Action.CLAIM: ("Claim", "primary"),
    Action.RELEASE: ("Release", ""),
    Action.ESCALATE: ("Escalate", ""),
    Action.RESOLVE: ("Resolve", "primary"),
    Action.REJECT: ("Reject", "danger"),
}

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def requester_line(ticket: Ticket) -> str:
    requester = ticket.requester
    where = [requester.platform.capitalize()]
    if requester.platform == "slack" and _SLACK_USER.match(requester.user_id):
        where.append(f"<@{requester.user_id}>")
    elif requester.contact:
        where.append(clip(requester.contact, NAME_LIMIT))
    return f"{clip(requester.name, NAME_LIMIT)} ({', '.join(where)})"


SLACK_MARKUP = Markup(escape_mrkdwn, lambda text: f"*{text}*", clip)


def card_buttons(ticket: Ticket, history: CardHistory) -> list[Block]:
    allowed = allowed_actions(ticket.status)
    moves = [
        make_button(label, f"{CARD_ACTION_PREFIX}{action.value}", str(ticket.number), style)
        for action, (label, style) in CARD_BUTTONS.items()
        if action in allowed
    ]
    return moves + solution_buttons(ticket) + incident_buttons(ticket, history)


def incident_buttons(ticket: Ticket, history: CardHistory) -> list[Block]:
    return [
        incident_button(ticket, what, "primary" if what == Event.BROADCAST else "")
        for what in incident_moves(ticket, history)
    ]


def incident_button(ticket: Ticket, what: Action | Event, style: str = "") -> Block:
    label = INCIDENT_BUTTONS[what]
    return make_button(label, f"{CARD_ACTION_PREFIX}{what.value}", str(ticket.number), style)


def solution_buttons(ticket: Ticket) -> list[Block]:
    number = str(ticket.number)
    return [make_button(SOLUTION_BUTTONS[m], m, number) for m in solution_moves(ticket)]


def card_fields(ticket: Ticket) -> list[tuple[str, str]]:
    return [
        ("Requester", requester_line(ticket)),
        ("Phone", clip(ticket.phone, NAME_LIMIT) or "—"),
        ("Location", clip(ticket.location, 500) or "—"),
        ("Asset", clip(ticket.asset, NAME_LIMIT) or "—"),
        ("Attachments", str(len(ticket.attachments))),
        ("Opened", ticket.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]


def card_text(ticket: Ticket, history: CardHistory, config: DeskConfig) -> str:
    """The whole card as mrkdwn text (``/helpdesk show``)."""
    lines = [f"*{card_title(ticket, config)}*"]
    lines += [f"*{name}:* {value}" for name, value in card_fields(ticket)]
    lines.append(f"*Problem:* {clip(ticket.description, SECTION_LIMIT)}")
    lines += status_lines(ticket, config, history, SLACK_MARKUP)
    return "\n".join(lines)


def linked_card(ticket: Ticket) -> tuple[str, list[Block]]:
    """A ticket linked to an incident: one line, and Unlink."""
    line = f"🔗 #{ticket.number} · {requester_line(ticket)}: linked to #{ticket.parent}"
    if ticket.delivery_problem:
        line += f" · ⚠️ {clip(ticket.delivery_problem, SHORT_LIMIT)}"
    unlink = incident_button(ticket, Action.UNLINK)
    blocks = [{"type": "section", "block_id": "status", "text": mrkdwn_text(line)}]
    return f"#{ticket.number} linked to #{ticket.parent}", blocks + action_blocks([unlink])


def ticket_card(
    ticket: Ticket, history: CardHistory, config: DeskConfig
) -> tuple[str, list[Block]]:
    """(notification text, blocks) of a ticket's card in its current state."""
    if ticket.status == Status.LINKED:
        return linked_card(ticket)
    status = status_lines(ticket, config, history, SLACK_MARKUP)
    blocks: list[Block] = [
        {"type": "header", "text": plain_text(card_title(ticket, config), HEADER_LIMIT)},
        {
            "type": "section",
            "fields": [mrkdwn_text(f"*{name}*\n{value}") for name, value in card_fields(ticket)],
        },
        {
            "type": "section",
            "text": mrkdwn_text(f"*Problem*\n{clip(ticket.description, SECTION_LIMIT - 20)}"),
        },
        {"type": "section", "block_id": "status", "text": mrkdwn_text("\n".join(status))},
    ]
    blocks += action_blocks(card_buttons(ticket, history), "ticket_actions")
    return f"{card_title(ticket, config)}: {status[0]}", blocks


def ticket_list(tickets: list[Ticket], config: DeskConfig, now: datetime) -> str:
    """Open tickets, one line each: number, priority, category, owner, age (``/helpdesk list``)."""
    if not tickets:
        return "No open tickets. 🎉"
    lines = [f"*Open tickets ({len(tickets)}), oldest first:*"]
    for ticket in tickets:
        owner = escape_mrkdwn(ticket.assignee_name or "") or "_unclaimed_"
        if ticket.status == Status.LINKED:
            owner = f"🔗 linked to #{ticket.parent}"
        title = card_title(ticket, config) + (" · 🚨 major incident" if ticket.major else "")
        lines.append(f"{title} · {owner} · {age(now - ticket.created_at)}")
    return "\n".join(lines)
