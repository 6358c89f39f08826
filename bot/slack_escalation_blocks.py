"""Block Kit for the second line: the specialist card in a line's channel and the Escalate
modal. Like :mod:`bot.slack_blocks`, pure rendering: every user text is escaped."""

from __future__ import annotations

from bot.card_words import NAME_LIMIT, NOTE_LIMIT, CardHistory, card_title, status_lines
from bot.slack_blocks import (
    HEADER_LIMIT,
    SECTION_LIMIT,
    Block,
    action_blocks,
    clip,
    make_button,
    mrkdwn_text,
    plain_text,
    static_select,
)
from bot.slack_card import SLACK_MARKUP, card_fields
from handlers.config import DeskConfig
from handlers.tickets import Level, Status, Ticket

SPEC_ACTION_PREFIX = "spec_"  # specialist card buttons: action_id spec_<what>, value "<number>"
TAKE, SPEC_RESOLVE, RETURN = "spec_take", "spec_resolve", "spec_return"
ESCALATE = "escalate"  # the card button's action, and the callback id of its modal
LINE, IMPACT = "line", "impact"  # block and action ids of the modal's inputs
NOTE = "note"

_IMPACTS = {
    Level.HIGH: "High: many people or a whole site",
    Level.MEDIUM: "Medium: a team or a key person",
    Level.LOW: "Low: one person, with a workaround",
}


def specialist_status(ticket: Ticket, line_id: str, config: DeskConfig, history: CardHistory):
    """What the line's card says: theirs to work on, or moved on (and where)."""
    line = config.line(line_id)
    owner = clip(ticket.assignee_name or "nobody", NAME_LIMIT)
    if ticket.status == Status.ESCALATED and ticket.line == line_id:
        taken = (
            f"taken by {clip(ticket.specialist_name, NAME_LIMIT)}"
            if ticket.specialist_name
            else "waiting for a specialist to take it"
        )
        lines = [f"🆘 *Escalated* to {clip(line.name if line else line_id, NAME_LIMIT)}: {taken}"]
        lines.append(f"First-line owner: {owner}")
        if history.escalation_note:
            lines.append(f"📝 From the first line: {clip(history.escalation_note, NOTE_LIMIT)}")
        if history.sla:
            lines.append(history.sla)
        return lines
    if ticket.status == Status.ESCALATED:
        other = config.line(ticket.line or "")
        return [f"➡️ *Moved* to {clip(other.name if other else ticket.line or '?', NAME_LIMIT)}"]
    if ticket.is_open:
        return [f"↩️ *Back with the first line*: {owner}"]
    return status_lines(ticket, config, history, SLACK_MARKUP)[:2]


def specialist_card(
    ticket: Ticket, history: CardHistory, config: DeskConfig, line_id: str, pings: list[str]
) -> tuple[str, list[Block]]:
    """(notification text, blocks) of the ticket's card in the line's channel; ``pings``
    (mention markup from the config, not user text) call the on-call group on the first post."""
    title = card_title(ticket, config)
    status = specialist_status(ticket, line_id, config, history)
    blocks: list[Block] = [
        {"type": "header", "text": plain_text(title, HEADER_LIMIT)},
        {"type": "section", "fields": [mrkdwn_text(f"*{n}*\n{v}") for n, v in card_fields(ticket)]},
        {
            "type": "section",
            "text": mrkdwn_text(f"*Problem*\n{clip(ticket.description, SECTION_LIMIT - 20)}"),
        },
        {"type": "section", "block_id": "status", "text": mrkdwn_text("\n".join(status))},
    ]
    if pings:
        blocks.insert(1, {"type": "section", "text": mrkdwn_text(f"📣 {' '.join(pings)}")})
    if ticket.status == Status.ESCALATED and ticket.line == line_id:
        number = str(ticket.number)
        buttons = [] if ticket.specialist else [make_button("Take", TAKE, number, "primary")]
        buttons += [
            make_button("Resolve", SPEC_RESOLVE, number, "primary"),
            make_button("Return to first line", RETURN, number),
        ]
        blocks += action_blocks(buttons, "specialist_actions")
    text = " ".join([*pings, f"{title}: {status[0]}"])
    return text, blocks


def escalate_modal(ticket: Ticket, config: DeskConfig) -> Block:
    """Line (pre-selected from the category's route), impact, and a note for specialists."""
    current = ticket.line or config.route(ticket.category).id
    lines = {line.id: line.name for line in config.lines}
    impacts = {level.value: label for level, label in _IMPACTS.items()}
    return {
        "type": "modal",
        "callback_id": ESCALATE,
        "private_metadata": str(ticket.number),
        "title": plain_text(f"Escalate #{ticket.number}", 24),
        "submit": plain_text("Escalate", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn_text(f"*#{ticket.number}*: {clip(ticket.description, 500)}"),
            },
            {
                "type": "input",
                "block_id": LINE,
                "label": plain_text("Support line", 2000),
                "element": static_select(lines, current, LINE),
            },
            {
                "type": "input",
                "block_id": IMPACT,
                "label": plain_text("Impact (with the user's urgency it sets the priority)", 2000),
                "element": static_select(impacts, ticket.impact.value, IMPACT),
            },
            {
                "type": "input",
                "block_id": NOTE,
                "optional": True,
                "label": plain_text("Note for the specialists", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }
