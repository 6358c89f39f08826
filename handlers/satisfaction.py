"""Customer satisfaction: once a ticket is closed (confirmed, or closed for want of an answer)
its requester is asked, once, to rate the help 1-5 and may add a comment.

The rating is written once (a conditional UPDATE), so a double tap or a late second answer is
thanked, not counted again. The comment is whatever the requester writes next, while a small
conversation state says a comment is awaited; commands and buttons still work meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.batch import Batch
from handlers.i18n import t
from handlers.messages import Button, Reply, UserRef
from handlers.tickets import Ticket
from storage import tickets as store
from storage.tickets import TicketNotFound

RATE = "r:"  # callback data of the rating buttons: r:<number>:<1..5>
SKIP = "s:"  # callback data of "no comment": s:<number>
COMMENT_MAX = 1000


def ticket_button(data: str) -> tuple[int, str] | None:
    """``x:<number>:<value>`` -> (number, value); None if it is not such a button."""
    _, _, rest = data.partition(":")
    number, _, value = rest.partition(":")
    return (int(number), value) if number.isdigit() else None


def ask(ticket: Ticket) -> Reply:
    """The rating question for a just-closed ticket."""
    lang = ticket.language
    stars = tuple(Button(f"{'⭐' * k}", f"{RATE}{ticket.number}:{k}") for k in range(1, 6))
    return Reply(t(lang, "csat.ask", number=ticket.number), (stars[:3], stars[3:]))


def awaiting_comment(state: dict[str, Any] | None) -> int | None:
    """The ticket whose comment the conversation state is waiting for, if it is."""
    return int(state["csat"]) if state and "csat" in state else None


def comment_state(number: int, language: str, now: datetime) -> dict[str, Any]:
    return {"csat": number, "language": language, "updated_at": now.isoformat()}


async def rated(batch: Batch, user: UserRef, data: str, actor: str) -> tuple[Reply, int | None]:
    """A rating button was pressed: (the answer, the ticket to await a comment for or None)."""
    lang = user.language
    parsed = ticket_button(data)
    value = parsed[1] if parsed else ""
    if parsed is None or value not in {"1", "2", "3", "4", "5"}:
        return Reply(t(lang, "intake.stale_button")), None
    number = parsed[0]
    try:
        ticket = await store.get(batch.session, number)
    except TicketNotFound:
        return Reply(t(lang, "intake.stale_button")), None
    if (ticket.requester.platform, ticket.requester.user_id) != (user.platform, user.id):
        return Reply(t(lang, "intake.stale_button")), None
    if not await store.rate(batch.session, number, int(value), actor, batch.now):
        return Reply(t(lang, "csat.already", number=number)), None
    skip = ((Button(t(lang, "btn.no_comment"), f"{SKIP}{number}"),),)
    return Reply(t(lang, "csat.thanks", number=number), skip), number


async def commented(batch: Batch, user: UserRef, number: int, text: str, actor: str) -> Reply:
    comment = text.strip()[:COMMENT_MAX]
    await store.add_comment(batch.session, number, comment, actor, batch.now)
    return Reply(t(user.language, "csat.comment_saved"))
