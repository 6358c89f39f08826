"""Block Kit for the desk: pure functions from core objects to Slack messages and views.

No I/O here. Every text that a person typed (descriptions, names, notes, replies) goes through
:func:`escape_mrkdwn` before it reaches a ``mrkdwn`` field or a message's ``text``, so a
requester cannot ping ``@channel``, mention people, or plant disguised links on a card.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.text_pieces import pieces_within
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.outbound import FileRef
from handlers.tickets import (
    Ticket,
)

Block = dict[str, Any]

# Block Kit's limits (docs.slack.dev/reference/block-kit); a block over one is refused with
# invalid_blocks and the whole message is not posted.
SECTION_LIMIT = 3000  # characters in a section's text
FIELD_LIMIT = 2000  # characters in each of a section's fields
HEADER_LIMIT = 150
BUTTON_LABEL_LIMIT = 75
ACTIONS_LIMIT = 25  # elements in one actions block

CARD_ACTION_PREFIX = "ticket_"  # card buttons: action_id "ticket_claim", value "<number>"
REPLY_ACTION_PREFIX = "hd_btn_"  # buttons of a Reply: action_id "hd_btn_<i>", value = data
HOME_NEW_TICKET = "home_new_ticket"
RESOLVE, REJECT = "resolve", "reject"  # card actions, and the callback ids of their modals
NOTE = "note"  # block id and action id of the modal's text input
NEW_REPLY = "saved_reply"  # the callback id of the modal of ``/helpdesk reply``


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
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
