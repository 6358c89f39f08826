"""What a ticket card says, on every platform: its history, its status lines in a platform's
markup, the moves it offers, its title. Pure; the Slack and Telegram cards render it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from handlers.config import DeskConfig
from handlers.tickets import (
    FINAL_STATUSES,
    Action,
    Event,
    Priority,
    Status,
    Ticket,
    allowed_actions,
)

# What a card shows of one value typed by a person or taken from a profile, escaped: short
# enough that a field stays within FIELD_LIMIT and all status lines within SECTION_LIMIT.
# (Slack's Block Kit limits: bot/slack_blocks.py.)
NAME_LIMIT = 200
SHORT_LIMIT = 300
NOTE_LIMIT = 1000

# The incident buttons of a card (card actions too: "ticket_link", ...).
INCIDENT_BUTTONS: dict[Action | Event, str] = {
    Action.LINK: "Link to…",
    Action.UNLINK: "Unlink",
    Event.DECLARE_MAJOR: "Declare major incident",
    Event.BROADCAST: "Broadcast",
}
# Card buttons about known solutions (Slack's action ids and modal callback ids too).
SAVE_SOLUTION, REPLY_SOLUTION = "solution_save", "solution_reply"
SOLUTION_BUTTONS = {REPLY_SOLUTION: "Reply with a solution", SAVE_SOLUTION: "Save as solution"}


_PRIORITY_MARK = {Priority.P1: "🔴", Priority.P2: "🟠", Priority.P3: "🟡", Priority.P4: "🟢"}


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


@dataclass(frozen=True)
class Markup:
    """How a platform writes the card's words: its escaping, its bold, its escaped clipping."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    clip: Callable[[str, int], str]


def status_lines(ticket: Ticket, config: DeskConfig, history: CardHistory, m: Markup) -> list[str]:
    """Where the ticket stands, for operators: owner, escalation, notes, delivery problems, in
    the markup ``m`` of the card's platform."""
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


def age(delta: timedelta) -> str:
    """A timedelta as '3d 4h', '2h 05m' or '7m'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
