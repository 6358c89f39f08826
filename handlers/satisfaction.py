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
from handlers.messages import Button, Reply, UserRef, ticket_button
from handlers.tickets import Ticket
from storage import tickets as store
from storage.tickets import TicketNotFound

RATE = "r:"  # callback data of the rating buttons: r:<number>:<1..5>
SKIP = "s:"  # callback data of "no comment": s:<number>
COMMENT_MAX = 1000


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


async def rated(batch: Batch, user: UserRef, data: str, actor: str) -> tuple[Reply, Ticket | None]:
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
    if not await store.rate(batch.session, ticket, int(value), actor, batch.now):
        return Reply(t(lang, "csat.already", number=number)), None
    skip = ((Button(t(lang, "btn.no_comment"), f"{SKIP}{number}"),),)
    return Reply(t(lang, "csat.thanks", number=number), skip), ticket


async def commented(
    batch: Batch, user: UserRef, number: int, text: str, actor: str
) -> tuple[Reply, Ticket | None]:
    """The comment after a rating: (the thanks, the commented ticket or None if it is gone)."""
    comment = text.strip()[:COMMENT_MAX]
    try:
        ticket = await store.get(batch.session, number)
    except TicketNotFound:
        return Reply(t(user.language, "intake.stale_button")), None
    await store.add_comment(batch.session, ticket, comment, actor, batch.now)
    return Reply(t(user.language, "csat.comment_saved")), ticket
