"""Telegram HTML for the desk in groups: ticket cards, topic names, their inline buttons,
relays, notices and receipt reactions. Pure functions, no I/O: every text a person typed is
HTML-escaped, so a requester cannot plant markup or links on a card.

Callback data of a card button is ``hd:<move>:<number>[:<extra>…]``: each move has its fixed
extras (a line and an impact for the escalation pickers, a parent for a suggested link, a known
solution or saved reply for the reply picker), anything else is refused; Telegram allows 64
bytes. The incidents' and solutions' pickers and drafts are drawn in
:mod:`bot.telegram_incidents` and :mod:`bot.telegram_solutions`.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from bot import card_words
from bot.card_words import (
    INCIDENT_BUTTONS,
    SOLUTION_BUTTONS,
    CardHistory,
    Markup,
    age,
    incident_moves,
    solution_moves,
)
from handlers.config import DeskConfig
from handlers.i18n import languages
from handlers.messages import ticket_number
from handlers.outbound import FileRef
from handlers.tickets import (
    Action,
    Event,
    Level,
    Status,
    Ticket,
    allowed_actions,
)

CARD_PREFIX = "hd:"
CLAIM, RELEASE, ESCALATE, RESOLVE, REJECT = "claim", "release", "escalate", "resolve", "reject"
LINE, IMPACT = "line", "impact"  # escalation pickers: the line, then the impact
TAKE, SPEC_RESOLVE, RETURN = "take", "spec_resolve", "return"
# Incidents: the card's buttons, then a suggested parent under "Link to…"
LINK, UNLINK, DECLARE, BROADCAST = "link", "unlink", "declare", "broadcast"
LINK_TO = "link_to"
# Known solutions: the card's buttons, a pick in the reply picker, the save draft's buttons
# (``sol_edit`` with the part it edits) and the prompts that edit the draft
REPLY_SOLUTION, SAVE_SOLUTION, PICK = "solve", "save_solution", "pick"
SOL_SAVE, SOL_EDIT, SOL_TITLE, SOL_ANSWER = "sol_save", "sol_edit", "sol_title", "sol_answer"
SOL_KEYWORDS, SOL_LINK = "sol_keywords", "sol_link"
# A new saved reply (``/reply``): the prompts for its title and its text, with no ticket (0)
REPLY_TITLE, REPLY_TEXT = "reply_title", "reply_text"
TOPIC_NAME_LIMIT = 128
LIST_LIMIT = 40
DESCRIPTION_LIMIT = 2500

# How the core's receipts look on an operator's message. Bots may react only with the emoji
# the Bot API lists for ReactionTypeEmoji (✅ and ❌ are not among them).
RECEIPTS = {"delivered": "👌", "failed": "💔", "internal": "✍", "not_relayed": "🙈"}

Keyboard = list[list[tuple[str, str]]]  # rows of (label, callback data)

_STATUS_MARK = {
    Status.NEW: "🆕",
    Status.CLAIMED: "🙋",
    Status.WAITING: "⏳",
    Status.LINKED: "🔗",
    Status.ESCALATED: "🆙",
    Status.RESOLVED: "✅",
    Status.CLOSED: "🔒",
    Status.REJECTED: "🚫",
    Status.CANCELLED: "✖️",
}
_BUTTONS = {
    Action.CLAIM: ("Claim", CLAIM),
    Action.RELEASE: ("Release", RELEASE),
    Action.ESCALATE: ("Escalate", ESCALATE),
    Action.RESOLVE: ("Resolve", RESOLVE),
    Action.REJECT: ("Reject", REJECT),
}
_WORD = re.compile(r"[a-z0-9_]{1,64}")
_NUMBER = re.compile(r"[0-9]{1,18}")
# The extras each move carries, one pattern per extra; a move not listed here is no move.
_EXTRAS: dict[str, tuple[re.Pattern[str], ...]] = {
    **{
        move: () for move in (CLAIM, RELEASE, ESCALATE, RESOLVE, REJECT, TAKE, SPEC_RESOLVE, RETURN)
    },
    **{
        move: ()
        for move in (LINK, UNLINK, DECLARE, BROADCAST, REPLY_SOLUTION, SAVE_SOLUTION, SOL_SAVE)
    },
    LINE: (_WORD,),
    IMPACT: (_WORD, re.compile("|".join(level.value for level in Level))),
    LINK_TO: (_NUMBER,),
    PICK: (re.compile(r"[sr][0-9]{1,18}"),),  # s<solution id> or r<saved reply id>
    SOL_EDIT: (re.compile("title|answer|keywords|link"),),
    **{move: (_NUMBER,) for move in (SOL_TITLE, SOL_ANSWER, SOL_KEYWORDS, SOL_LINK)},  # draft id
    **{move: (re.compile("|".join(languages())),) for move in (REPLY_TITLE, REPLY_TEXT)},
}
_SOLUTION_MOVES = {
    card_words.REPLY_SOLUTION: REPLY_SOLUTION,
    card_words.SAVE_SOLUTION: SAVE_SOLUTION,
}
_INCIDENT_MOVES = {
    Action.LINK: LINK,
    Action.UNLINK: UNLINK,
    Event.DECLARE_MAJOR: DECLARE,
    Event.BROADCAST: BROADCAST,
}
_IMPACTS = {Level.HIGH: "High impact", Level.MEDIUM: "Medium impact", Level.LOW: "Low impact"}


def h(text: str) -> str:
    """``text`` made inert for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def clip(text: str, limit: int) -> str:
    """``text`` shortened with an ellipsis to ``limit`` characters (before escaping)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def data(move: str, number: int, *extra: str) -> str:
    return ":".join([CARD_PREFIX.rstrip(":"), move, str(number), *extra])


def parse(callback: str) -> tuple[str, int, list[str]] | None:
    """(move, ticket number, extra) of a card button's (or a prompt's) data; None for anything
    else: an unknown move, a mangled number, extras the move does not take."""
    if not callback.startswith(CARD_PREFIX):
        return None
    move, _, rest = callback[len(CARD_PREFIX) :].partition(":")
    text, *extra = rest.split(":")
    number = ticket_number(text)
    patterns = _EXTRAS.get(move)
    if number is None or patterns is None or len(extra) != len(patterns):
        return None
    if not all(pattern.fullmatch(value) for pattern, value in zip(patterns, extra, strict=True)):
        return None
    return move, number, extra


# --- the card -----------------------------------------------------------------------------------


def short_name(name: str) -> str:
    """``Alice Brown`` -> ``Alice B.``: enough for a topic's name, less personal data shown."""
    first, *rest = name.split() or ["?"]
    return f"{first} {rest[-1][0]}." if rest else first


def topic_name(ticket: Ticket, config: DeskConfig) -> str:
    """``🙋 #12 · Printers · Alice B.``: the status mark leads, so the topic list shows it."""
    category = config.category(ticket.category)
    label = category.label("en") if category else ticket.category
    name = f"{_STATUS_MARK[ticket.status]} #{ticket.number} · {label} · "
    return name + clip(short_name(ticket.requester.name), TOPIC_NAME_LIMIT - len(name))


def card_title(ticket: Ticket, config: DeskConfig) -> str:
    return h(card_words.card_title(ticket, config))


def _requester(ticket: Ticket) -> str:
    requester = ticket.requester
    where = requester.platform.capitalize()
    contact = f", {h(requester.contact)}" if requester.contact else ""
    return f"{h(requester.name)} ({where}{contact})"


def _fields(ticket: Ticket) -> list[str]:
    return [
        f"<b>Requester:</b> {_requester(ticket)}",
        f"<b>Phone:</b> {h(ticket.phone) or '—'}",
        f"<b>Location:</b> {h(clip(ticket.location, 500)) or '—'}",
        f"<b>Asset:</b> {h(ticket.asset) or '—'}",
        f"<b>Attachments:</b> {len(ticket.attachments)}",
        f"<b>Opened:</b> {ticket.created_at:%Y-%m-%d %H:%M} UTC",
        f"<b>Problem:</b> {h(clip(ticket.description, DESCRIPTION_LIMIT))}",
    ]


HTML = Markup(h, lambda text: f"<b>{text}</b>", lambda text, limit: h(clip(text, limit)))


def status_lines(ticket: Ticket, config: DeskConfig, history: CardHistory) -> list[str]:
    """Where the ticket stands, for operators, in Telegram HTML."""
    return card_words.status_lines(ticket, config, history, HTML)


def operator_card(ticket: Ticket, history: CardHistory, config: DeskConfig) -> str:
    if ticket.status == Status.LINKED:
        return linked_card(ticket)
    lines = [f"<b>{card_title(ticket, config)}</b>", *_fields(ticket), ""]
    return "\n".join(lines + status_lines(ticket, config, history))


def linked_card(ticket: Ticket) -> str:
    """A ticket linked to an incident, collapsed to one line (its words go to the incident)."""
    line = f"🔗 <b>#{ticket.number}</b> · {_requester(ticket)}: linked to #{ticket.parent}"
    if ticket.delivery_problem:
        line += f" · ⚠️ {h(clip(ticket.delivery_problem, 300))}"
    return line


def operator_buttons(ticket: Ticket, history: CardHistory) -> Keyboard:
    """The moves the status allows, then the known-solution and the incident buttons (the same
    ones the Slack card shows, decided by :mod:`bot.card_words`)."""
    number = ticket.number
    assert number is not None
    if ticket.status == Status.LINKED:
        return [[(INCIDENT_BUTTONS[Action.UNLINK], data(UNLINK, number))]]
    allowed = allowed_actions(ticket.status)
    row = [(label, data(move, number)) for a, (label, move) in _BUTTONS.items() if a in allowed]
    rows = [row[:3], row[3:]] if len(row) > 3 else [row] if row else []
    solutions = [
        (SOLUTION_BUTTONS[m], data(_SOLUTION_MOVES[m], number)) for m in solution_moves(ticket)
    ]
    incidents = [
        (INCIDENT_BUTTONS[m], data(_INCIDENT_MOVES[m], number))
        for m in incident_moves(ticket, history)
    ]
    return [*rows, *(row for row in (solutions, incidents) if row)]


def specialist_card(
    ticket: Ticket, history: CardHistory, config: DeskConfig, line_id: str, pings: list[str]
) -> str:
    """The card in a line's group; ``pings`` (HTML mentions from the config) on the first post."""
    line = config.line(line_id)
    lines = [f"<b>{card_title(ticket, config)}</b>"]
    if pings:
        lines.append(f"📣 {' '.join(pings)}")
    lines += [*_fields(ticket), ""]
    if ticket.status == Status.ESCALATED and ticket.line == line_id:
        taken = (
            f"taken by {h(ticket.specialist_name)}"
            if ticket.specialist_name
            else "waiting for a specialist to take it"
        )
        lines.append(f"🆘 <b>Escalated</b> to {h(line.name if line else line_id)}: {taken}")
        lines.append(f"First-line owner: {h(ticket.assignee_name or 'nobody')}")
        if history.escalation_note:
            lines.append(f"📝 From the first line: {h(clip(history.escalation_note, 1000))}")
        if history.sla:
            lines.append(h(history.sla))
    elif ticket.status == Status.ESCALATED:
        other = config.line(ticket.line or "")
        lines.append(f"➡️ <b>Moved</b> to {h(other.name if other else ticket.line or '?')}")
    elif ticket.is_open:
        lines.append(f"↩️ <b>Back with the first line</b>: {h(ticket.assignee_name or 'nobody')}")
    else:
        lines += status_lines(ticket, config, history)[:2]
    return "\n".join(lines)


def specialist_buttons(ticket: Ticket, line_id: str) -> Keyboard:
    assert ticket.number is not None
    if not (ticket.status == Status.ESCALATED and ticket.line == line_id):
        return []
    number = ticket.number
    row = [] if ticket.specialist else [("Take", data(TAKE, number))]
    row += [("Resolve", data(SPEC_RESOLVE, number)), ("Return", data(RETURN, number))]
    return [row]


def line_picker(ticket: Ticket, config: DeskConfig) -> Keyboard:
    """Escalate, step one: which line (two a row)."""
    assert ticket.number is not None
    buttons = [(line.name, data(LINE, ticket.number, line.id)) for line in config.lines]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def impact_picker(number: int, line_id: str) -> Keyboard:
    """Escalate, step two: the impact (with the requester's urgency it sets the priority)."""
    return [[(label, data(IMPACT, number, line_id, lvl.value)) for lvl, label in _IMPACTS.items()]]


# --- words in a topic ---------------------------------------------------------------------------


def mention(target: str) -> str:
    """A configured person to call: ``@username`` as written, a numeric user id as a link."""
    if target.lstrip("-").isdigit():
        return f'<a href="tg://user?id={target}">{h(target)}</a>'
    return h(target)


def relay(author: str, text: str, voice: str, file: FileRef | None = None) -> str:
    """Someone's words relayed into a card's topic (or reply chain)."""
    said = f"<b>{h(author)}</b> ({h(voice)}): {h(text)}"
    if file is not None:
        what = " ".join(filter(None, (file.kind, file.name))) or "file"
        said += f"\n📎 {h(what)}"
    return said


def notice(text: str, pings: tuple[str, ...]) -> str:
    return " ".join([h(text), *(mention(target) for target in pings)])


def ticket_list(tickets: list[Ticket], config: DeskConfig, now: datetime) -> str:
    """Open tickets, one line each, oldest first (``/list``); the first 40 of them."""
    if not tickets:
        return "No open tickets. 🎉"
    lines = [f"<b>Open tickets ({len(tickets)}), oldest first:</b>"]
    for ticket in tickets[:LIST_LIMIT]:
        owner = h(ticket.assignee_name or "") or "<i>unclaimed</i>"
        if ticket.status == Status.LINKED:
            owner = f"🔗 linked to #{ticket.parent}"
        title = card_title(ticket, config) + (" · 🚨 major incident" if ticket.major else "")
        lines.append(f"{title} · {owner} · {age(now - ticket.created_at)}")
    if len(tickets) > LIST_LIMIT:
        lines.append(f"… and {len(tickets) - LIST_LIMIT} more")
    return "\n".join(lines)
