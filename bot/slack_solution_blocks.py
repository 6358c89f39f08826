"""Block Kit for known solutions on the operators' side: the "Save as solution" modal (prefilled
from a resolved ticket), the "Reply with a solution" picker (known solutions of the ticket's
category, best matches first, and saved replies) and the new saved reply modal. Pure rendering,
like :mod:`bot.slack_blocks`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.card_words import REPLY_SOLUTION, SAVE_SOLUTION
from bot.slack_blocks import NEW_REPLY, Block, clip, mrkdwn_text, plain_text, view_value
from handlers.solutions import KnownSolution, SavedReplyText
from handlers.tickets import Ticket

TITLE, ANSWER, KEYWORDS, LINK, PICK = "title", "answer", "keywords", "link", "pick"
TEXT, LANGUAGE, REPLACES = "text", "language", "replaces"
TITLE_MAX, ANSWER_MAX, KEYWORDS_MAX, LINK_MAX = 150, 3000, 300, 500
OPTIONS_MAX = 100  # options in one group of a static_select
OPTION_TEXT_MAX = 75
SOLUTION, REPLY = "solution", "reply"  # picked option values: "solution:<id>", "reply:<id>"


def _input(block: str, label: str, initial: str, max_length: int, **extra: Any) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": block, "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    return {
        "type": "input",
        "block_id": block,
        "label": plain_text(label, 2000),
        "element": {**element, **extra},
    }


def save_solution_modal(ticket: Ticket, resolution: str) -> Block:
    """A known solution prefilled from ``ticket``: its description as the title, the resolution
    note as the answer; the operator edits both before saving."""
    title = " ".join(ticket.description.split())
    return {
        "type": "modal",
        "callback_id": SAVE_SOLUTION,
        "private_metadata": str(ticket.number),
        "title": plain_text(f"Save #{ticket.number}", 24),
        "submit": plain_text("Save", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            {
                "type": "context",
                "elements": [
                    mrkdwn_text(
                        f"Offered to requesters of the ticket's category whose description "
                        f"matches; written in the ticket's language ({clip(ticket.language, 8)})."
                    )
                ],
            },
            _input(TITLE, "Title: the problem, as users put it", title, TITLE_MAX),
            _input(ANSWER, "Answer: what solves it", resolution, ANSWER_MAX, multiline=True),
            {
                **_input(KEYWORDS, "Keywords users write (comma-separated)", "", KEYWORDS_MAX),
                "optional": True,
            },
            {**_input(LINK, "Link with details (http…)", "", LINK_MAX), "optional": True},
        ],
    }


def _option(text: str, value: str) -> Block:
    return {"text": plain_text(text, OPTION_TEXT_MAX), "value": value}


def reply_picker_modal(
    ticket: Ticket, solutions: Sequence[KnownSolution], replies: Sequence[SavedReplyText]
) -> Block:
    """Pick a known solution (``solutions`` in the order given: best matches first) or a saved
    reply to send to the requester, in the requester's language."""
    language = ticket.language
    groups = []
    if solutions:
        options = [
            _option(s.title_in(language), f"{SOLUTION}:{s.id}") for s in solutions[:OPTIONS_MAX]
        ]
        groups.append({"label": plain_text("Known solutions", 75), "options": options})
    if replies:
        options = [_option(r.title_in(language), f"{REPLY}:{r.id}") for r in replies[:OPTIONS_MAX]]
        groups.append({"label": plain_text("Saved replies", 75), "options": options})
    view: Block = {
        "type": "modal",
        "callback_id": REPLY_SOLUTION,
        "private_metadata": str(ticket.number),
        "title": plain_text(f"Reply to #{ticket.number}", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn_text(f"*#{ticket.number}*: {clip(ticket.description, 500)}"),
            }
        ],
    }
    if not groups:
        view["blocks"].append(
            {
                "type": "section",
                "text": mrkdwn_text("No known solutions for this category and no saved replies."),
            }
        )
        return view
    view["submit"] = plain_text("Send", 24)
    view["blocks"].append(
        {
            "type": "input",
            "block_id": PICK,
            "label": plain_text("Sent to the requester as your message in the thread", 2000),
            "element": {"type": "static_select", "action_id": PICK, "option_groups": groups},
        }
    )
    return view


def save_reply_modal(
    language: str, languages: Sequence[str], replaceable: Sequence[SavedReplyText]
) -> Block:
    """A new saved reply (``/helpdesk reply``): its language, title and text, and optionally the
    operators' reply it replaces."""
    options = [_option(code, code) for code in languages]
    chosen = next((o for o in options if o["value"] == language), options[0])
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": LANGUAGE,
            "label": plain_text("Language of the reply", 2000),
            "element": {
                "type": "static_select",
                "action_id": LANGUAGE,
                "options": options,
                "initial_option": chosen,
            },
        },
        _input(TITLE, "Title: how operators find it", "", TITLE_MAX),
        _input(TEXT, "Text: what the requester reads", "", ANSWER_MAX, multiline=True),
    ]
    if replaceable:
        old = [_option(r.title_in(language), str(r.id)) for r in replaceable[:OPTIONS_MAX]]
        blocks.append(
            {
                "type": "input",
                "block_id": REPLACES,
                "optional": True,
                "label": plain_text("Replaces (that reply is retired)", 2000),
                "element": {"type": "static_select", "action_id": REPLACES, "options": old},
            }
        )
    return {
        "type": "modal",
        "callback_id": NEW_REPLY,
        "title": plain_text("New saved reply", 24),
        "submit": plain_text("Save", 24),
        "close": plain_text("Cancel", 24),
        "blocks": blocks,
    }


def picked(view: Block) -> tuple[str, int] | None:
    """("solution" or "reply", id) chosen in the picker; None when nothing valid was."""
    kind, _, number = view_value(view, PICK).partition(":")
    if kind not in (SOLUTION, REPLY) or not number.isdigit():
        return None
    return kind, int(number)
