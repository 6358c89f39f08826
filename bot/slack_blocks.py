"""Block Kit for the desk: pure functions from core objects to Slack messages and views.

No I/O here. Every text that a person typed (descriptions, names, notes, replies) goes through
:func:`escape_mrkdwn` before it reaches a ``mrkdwn`` field or a message's ``text``, so a
requester cannot ping ``@channel``, mention people, or plant disguised links on a card.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.text_pieces import pieces_within
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.outbound import FileRef
from handlers.tickets import (
    FINAL_STATUSES,
    Action,
    Event,
    Priority,
    Status,
    Ticket,
    allowed_actions,
)

Block = dict[str, Any]

# Block Kit's limits (docs.slack.dev/reference/block-kit); a block over one is refused with
# invalid_blocks and the whole message is not posted.
SECTION_LIMIT = 3000  # characters in a section's text
FIELD_LIMIT = 2000  # characters in each of a section's fields
HEADER_LIMIT = 150
BUTTON_LABEL_LIMIT = 75
ACTIONS_LIMIT = 25  # elements in one actions block
# What a card shows of one value typed by a person or taken from a profile, escaped: short
# enough that a field stays within FIELD_LIMIT and all status lines within SECTION_LIMIT.
NAME_LIMIT = 200
SHORT_LIMIT = 300
NOTE_LIMIT = 1000

CARD_ACTION_PREFIX = "ticket_"  # card buttons: action_id "ticket_claim", value "<number>"
REPLY_ACTION_PREFIX = "hd_btn_"  # buttons of a Reply: action_id "hd_btn_<i>", value = data
HOME_NEW_TICKET = "home_new_ticket"
# The incident buttons of a card (card actions too: "ticket_link", ...).
INCIDENT_BUTTONS: dict[Action | Event, str] = {
    Action.LINK: "Link to…",
    Action.UNLINK: "Unlink",
    Event.DECLARE_MAJOR: "Declare major incident",
    Event.BROADCAST: "Broadcast",
}
RESOLVE, REJECT = "resolve", "reject"  # card actions, and the callback ids of their modals
NOTE = "note"  # block id and action id of the modal's text input
# Card buttons about known solutions (action ids, and the callback ids of their modals).
SAVE_SOLUTION, REPLY_SOLUTION = "solution_save", "solution_reply"
SOLUTION_BUTTONS = {REPLY_SOLUTION: "Reply with a solution", SAVE_SOLUTION: "Save as solution"}
NEW_REPLY = "saved_reply"  # the callback id of the modal of ``/helpdesk reply``

# The operator buttons of a card, in order; a button shows when the status allows its move.
CARD_BUTTONS: dict[Action, tuple[str, str]] = {
    Action.CLAIM: ("Claim", "primary"),
    Action.RELEASE: ("Release", ""),
    Action.ESCALATE: ("Escalate", ""),
    Action.RESOLVE: ("Resolve", "primary"),
    Action.REJECT: ("Reject", "danger"),
}

_PRIORITY_MARK = {Priority.P1: "🔴", Priority.P2: "🟠", Priority.P3: "🟡", Priority.P4: "🟢"}
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_MARKUP = re.compile(r"<([^<>]*)>")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)[|>]")
_WORD_JOINER = "\u2060"
_COMMAND = re.compile(r"(?<![\w/])/(new|status|cancel|help|start)\b")


def mention(target: str) -> str:
    """Mention markup for a configured person to call: a user id, a user group id, or markup
    written in the config as it is (``<!here>``)."""
    if target.startswith("<"):
        return target
    if target[:1] in ("U", "W"):
        return f"<@{target}>"
    if target[:1] == "S":
        return f"<!subteam^{target}>"
    return target


def escape_mrkdwn(text: str) -> str:
    """``text`` made inert for Slack: ``& < >`` escaped as Slack documents (so ``<!channel>``,
    ``<@U…>``, ``<#C…>`` and ``<url|label>`` show as typed), and a bare ``@channel``/``@here``/
    ``@everyone`` broken with an invisible word joiner in case a client links it."""
    return _escape(_defuse(text))


def _defuse(text: str) -> str:
    return _BROADCAST.sub(f"@{_WORD_JOINER}\\1", text)


def from_slack(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack's message markup as the plain text the person typed: ``&lt;`` as ``<``, mentions
    as ``@name`` (``names`` maps user ids to names), links as ``label (url)``."""
    names = names or {}

    def plain(match: re.Match[str]) -> str:
        target, _, label = match[1].partition("|")
        if target.startswith("@"):
            return "@" + (label or names.get(target[1:], target[1:]))
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^…|fallback>
            return label or "@" + target[1:].split("^")[0]
        target = target.removeprefix("mailto:")
        return f"{label} ({target})" if label and label != target else target

    decoded = _MARKUP.sub(plain, text)
    return decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned(text: str) -> list[str]:
    """User ids mentioned in Slack markup (``<@U123>``)."""
    return _MENTION.findall(text)


def split_escaped(text: str, limit: int) -> list[str]:
    """``text`` escaped and cut into pieces of at most ``limit`` characters, never inside an
    entity such as ``&amp;``."""
    return pieces_within(_defuse(text), limit, _escape)


def _escape(text: str) -> str:
    return text.translate(_ESCAPES)


def clip(text: str, limit: int) -> str:
    """``text`` escaped, shortened with an ellipsis to fit ``limit`` characters."""
    pieces = split_escaped(text, limit - 1)
    return pieces[0] + "…" if len(pieces) > 1 else pieces[0]


def plain_text(text: str, limit: int = BUTTON_LABEL_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def view_value(view: dict[str, Any], block: str) -> str:
    """What a modal's input ``block`` (its element's action id is the same) holds: the chosen
    option's value of a select, the text of a text input; '' when empty."""
    state = (view["state"]["values"].get(block) or {}).get(block) or {}
    return str((state.get("selected_option") or {}).get("value") or state.get("value") or "")


def mrkdwn_text(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def static_select(options: dict[str, str], initial: str, action_id: str) -> Block:
    """A menu of ``value: label`` options, ``initial`` pre-selected when it is one of them."""

    def option(value: str, label: str) -> Block:
        return {"text": plain_text(label, 75), "value": value}

    element: Block = {
        "type": "static_select",
        "action_id": action_id,
        "options": [option(value, label) for value, label in options.items()],
    }
    if initial in options:
        element["initial_option"] = option(initial, options[initial])
    return element


def make_button(label: str, action_id: str, value: str, style: str = "") -> Block:
    button: Block = {
        "type": "button",
        "text": plain_text(label),
        "action_id": action_id,
        "value": value,
    }
    if style in ("primary", "danger"):
        button["style"] = style
    return button


def action_blocks(elements: list[Block], block_id: str = "") -> list[Block]:
    """Buttons as actions blocks of at most 25 elements each."""
    blocks = []
    for start in range(0, len(elements), ACTIONS_LIMIT):
        block: Block = {"type": "actions", "elements": elements[start : start + ACTIONS_LIMIT]}
        if block_id:
            block["block_id"] = f"{block_id}_{start}" if start else block_id
        blocks.append(block)
    return blocks


# --- the ticket card ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CardHistory:
    """What the card shows beyond the ticket's fields: the last move and the latest
    resolution note or rejection reason."""

    last_action: str = ""
    note: str = ""
    escalation_note: str = ""
    sla: str = ""  # e.g. "⏱ Response due in 7 min", as of the last refresh
    offered: tuple[str, ...] = ()  # titles of the known solutions offered before filing
    linked: int = 0  # tickets linked to this one (a major incident)
    affected: int = 0  # people the incident affects, its own requester included
    broadcast: str = ""  # how the incident's latest broadcast went: "41 of 42 delivered, …"


def card_title(ticket: Ticket, config: DeskConfig) -> str:
    """``🟠 #5 · P2 · Printers and office equipment`` (plain text, no user input)."""
    category = config.category(ticket.category)
    label = category.label("en") if category else ticket.category
    mark = _PRIORITY_MARK[ticket.priority]
    return f"{mark} #{ticket.number} · {ticket.priority} · {label}"


def requester_line(ticket: Ticket) -> str:
    requester = ticket.requester
    where = [requester.platform.capitalize()]
    if requester.platform == "slack" and _SLACK_USER.match(requester.user_id):
        where.append(f"<@{requester.user_id}>")
    elif requester.contact:
        where.append(clip(requester.contact, NAME_LIMIT))
    return f"{clip(requester.name, NAME_LIMIT)} ({', '.join(where)})"


@dataclass(frozen=True)
class Markup:
    """How a platform writes the card's words: its escaping, its bold, its escaped clipping."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    clip: Callable[[str, int], str]


def status_lines(
    ticket: Ticket, config: DeskConfig, history: CardHistory, markup: Markup | None = None
) -> list[str]:
    """Where the ticket stands, for operators: owner, escalation, notes, delivery problems
    (in Slack mrkdwn unless ``markup`` says otherwise)."""
    m = markup or SLACK_MARKUP
    b = m.bold
    owner = m.clip(ticket.assignee_name or ticket.assignee or "nobody", NAME_LIMIT)
    last = history.last_action
    line = config.line(ticket.line or "")
    where = m.clip(line.name if line else ticket.line or "the second line", NAME_LIMIT)
    taken = (
        f", taken by {m.clip(ticket.specialist_name, NAME_LIMIT)}" if ticket.specialist_name else ""
    )
    closed = {
        Action.CONFIRM: ": the requester confirmed the fix",
        Action.AUTO_CLOSE: " automatically: the requester did not answer",
    }.get(last, "")
    headline = {
        Status.NEW: f"🆕 {b('New')}: waiting for an operator",
        Status.CLAIMED: f"🙋 {b('Claimed')} by {owner}",
        Status.WAITING: f"⏳ {b('Waiting for the requester')}, owner {owner}",
        Status.ESCALATED: f"🆙 {b('Escalated')} to {where}{taken}; owner {owner}",
        Status.LINKED: f"🔗 {b('Linked')} to #{ticket.parent}: answered with that incident",
        Status.RESOLVED: f"✅ {b('Resolved')} by {owner}: waiting for the requester to confirm",
        Status.CLOSED: f"🔒 {b('Closed')}{closed}",
        Status.REJECTED: f"🚫 {b('Rejected')}",
        Status.CANCELLED: f"✖️ {b('Cancelled')} by the requester",
    }[ticket.status]
    lines = [headline]
    if ticket.major:
        lines.append(incident_line(ticket, history, m))
    elif ticket.parent is not None and ticket.status != Status.LINKED:
        lines.append(f"🔗 Resolved with the incident #{ticket.parent}")
    if last == Action.REOPEN and ticket.is_open:
        lines.append(f"🔁 {b('Reopened')}: the requester says the fix did not help")
    if history.note and ticket.status in (Status.RESOLVED, *FINAL_STATUSES):
        label = "Reason" if ticket.status == Status.REJECTED else "Resolution"
        lines.append(f"📝 {label}: {m.clip(history.note, NOTE_LIMIT)}")
    if history.offered:
        titles = "; ".join(m.clip(title, 200) for title in history.offered)
        lines.append(f"💡 Offered before filing, did not help: {titles}")
    if ticket.delivery_problem:
        problem = m.clip(ticket.delivery_problem, SHORT_LIMIT)
        lines.append(f"⚠️ Cannot reach the requester: {problem}")
    if history.sla and ticket.is_open:
        lines.append(history.sla)
    if ticket.csat_rating:
        said = f": “{m.clip(ticket.csat_comment, 500)}”" if ticket.csat_comment else ""
        lines.append(f"{'⭐' * ticket.csat_rating} Rated {ticket.csat_rating}/5{said}")
    return lines


def incident_line(ticket: Ticket, history: CardHistory, m: Markup) -> str:
    """A major incident's title, its reach, and how its latest broadcast went; while it affects
    others too, that replies to the card reach its own requester only."""
    people = "person" if history.affected == 1 else "people"
    named = f" “{m.clip(ticket.incident_title, SHORT_LIMIT)}”" if ticket.incident_title else ""
    line = f"🚨 {m.bold('Major incident')}{named}: {history.affected} {people} affected, "
    line += f"{history.linked} linked"
    if history.affected > 1 and ticket.is_open:
        requester = m.clip(ticket.requester.name, NAME_LIMIT)
        line += f"\n💬 Replies to this card reach only {requester}; "
        line += f"use Broadcast to tell all {history.affected} affected"
    if history.broadcast:
        line += f"\n📣 Last broadcast: {m.clip(history.broadcast, SHORT_LIMIT)}"
    return line


SLACK_MARKUP = Markup(escape_mrkdwn, lambda text: f"*{text}*", clip)


def card_buttons(ticket: Ticket, history: CardHistory) -> list[Block]:
    allowed = allowed_actions(ticket.status)
    moves = [
        make_button(label, f"{CARD_ACTION_PREFIX}{action.value}", str(ticket.number), style)
        for action, (label, style) in CARD_BUTTONS.items()
        if action in allowed
    ]
    return moves + solution_buttons(ticket) + incident_buttons(ticket, history)


def incident_moves(ticket: Ticket, history: CardHistory) -> list[Action | Event]:
    """The incident moves a card offers (on every platform): Link to… (a ticket without
    children of its own), Declare major incident, Broadcast."""
    allowed = allowed_actions(ticket.status)
    shown: list[Action | Event] = []
    if Action.LINK in allowed and not history.linked:
        shown.append(Action.LINK)
    if ticket.is_open and ticket.status != Status.LINKED and not ticket.major:
        shown.append(Event.DECLARE_MAJOR)
    if ticket.major and (ticket.is_open or ticket.status == Status.RESOLVED):
        shown.append(Event.BROADCAST)
    return shown


def incident_buttons(ticket: Ticket, history: CardHistory) -> list[Block]:
    return [
        incident_button(ticket, what, "primary" if what == Event.BROADCAST else "")
        for what in incident_moves(ticket, history)
    ]


def incident_button(ticket: Ticket, what: Action | Event, style: str = "") -> Block:
    label = INCIDENT_BUTTONS[what]
    return make_button(label, f"{CARD_ACTION_PREFIX}{what.value}", str(ticket.number), style)


def solution_moves(ticket: Ticket) -> list[str]:
    """The known-solution moves a card offers (on every platform): reply with a known solution
    or a saved reply while the requester can still be told; save a resolved ticket's answer as
    a known solution."""
    moves = []
    if ticket.is_open or ticket.status == Status.RESOLVED:
        moves.append(REPLY_SOLUTION)
    if ticket.status in (Status.RESOLVED, Status.CLOSED):
        moves.append(SAVE_SOLUTION)
    return moves


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
    lines += status_lines(ticket, config, history)
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
    status = status_lines(ticket, config, history)
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


def age(delta: timedelta) -> str:
    """A timedelta as '3d 4h', '2h 05m' or '7m'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


# --- messages to requesters and into threads ----------------------------------------------------


def as_dm_commands(text: str) -> str:
    """The catalog speaks Telegram ("write /new"); in a Slack DM a command is a bare word."""
    return _COMMAND.sub(r"`\1`", text)


def reply_message(reply: Reply) -> tuple[str, list[Block]]:
    """A core Reply as (text, blocks); blocks only when it has buttons (``hd_btn_<i>``)."""
    reply = replace(reply, text=as_dm_commands(reply.text))
    text = escape_mrkdwn(reply.text)
    buttons: list[Button] = [button for row in reply.buttons for button in row]
    if not buttons:
        return text, []
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn_text(piece)}
        for piece in split_escaped(reply.text, SECTION_LIMIT)
        if piece
    ]
    elements = [
        make_button(b.label, f"{REPLY_ACTION_PREFIX}{i}", b.data, b.style)
        for i, b in enumerate(buttons)
    ]
    return text, blocks + action_blocks(elements)


def answered(blocks: list[Block], label: str) -> list[Block]:
    """A message whose button was pressed: its buttons replaced by the answer given."""
    kept = [block for block in blocks if block.get("type") != "actions"]
    return [*kept, {"type": "context", "elements": [mrkdwn_text(f"› {escape_mrkdwn(label)}")]}]


def relay_text(author: str, text: str, file: FileRef | None = None, role: str = "requester") -> str:
    """A message relayed into a card's thread: the requester's, or a specialist's mirrored."""
    said = f"*{escape_mrkdwn(author)}* ({escape_mrkdwn(role)}): {escape_mrkdwn(text)}"
    if file:
        said += "\n" + escape_mrkdwn(file_note(file))
    return said


def file_note(file: FileRef) -> str:
    """Plain text saying a file was sent where it is kept (when it cannot be copied here)."""
    what = " ".join(filter(None, (file.kind, file.name))) or "file"
    return f"📎 {what} (kept in {file.platform.capitalize()}, not copied here)"


# --- views --------------------------------------------------------------------------------------


def note_modal(kind: str, ticket: Ticket) -> Block:
    """The modal asking for a resolution note (``resolve``) or a rejection reason (``reject``)."""
    title, label, submit = {
        RESOLVE: ("Resolve", "What was done? The requester will read this.", "Resolve"),
        REJECT: ("Reject", "Why is it rejected? The requester will read this.", "Reject"),
    }[kind]
    return {
        "type": "modal",
        "callback_id": kind,
        "private_metadata": str(ticket.number),
        "title": plain_text(f"{title} #{ticket.number}", 24),
        "submit": plain_text(submit, 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn_text(f"*#{ticket.number}*: {clip(ticket.description, 500)}"),
            },
            {
                "type": "input",
                "block_id": NOTE,
                "label": plain_text(label, 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def home_view(language: str, ticket_lines: list[str]) -> Block:
    """The App Home tab: a button to start a request and the user's open requests."""
    button = make_button(t(language, "btn.new_ticket"), HOME_NEW_TICKET, "new", "primary")
    blocks = action_blocks([button], "home")
    if ticket_lines:
        text = "\n".join([t(language, "status.header"), *ticket_lines])
        blocks += [{"type": "divider"}, {"type": "section", "text": mrkdwn_text(clip(text, 3000))}]
    return {"type": "home", "blocks": blocks}
