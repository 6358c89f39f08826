"""A channel's long card queue, announced: when more ticket cards wait than a channel can take
at its pace, one message lists them, ahead of them (storage/outbox.py lets it go first)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.messages import Reply
from handlers.outbound import Place, ToChat
from storage import outbox
from storage import tickets as store
from storage.tickets import TicketNotFound

log = logging.getLogger(__name__)

DIGEST_LINES = 30


async def announce(session: AsyncSession, above: int, now: datetime) -> None:
    """Where more ticket cards wait than ``above``, queue one digest message that lists them.
    Cards still follow, in order: operators need their buttons and threads. A new digest only
    comes once every card the last one announced has gone out."""
    for destination, _, first in await outbox.card_backlogs(session, above):
        last = await outbox.last_digest(session, destination)
        if last is not None and last > first:
            continue  # the cards waiting now were announced already
        waiting = await outbox.waiting_cards(session, destination)
        lines = [await _line(session, number) for number in waiting[:DIGEST_LINES]]
        message = ToChat(Place.from_key(destination), digest(waiting, lines))
        await outbox.enqueue(session, message, f"{outbox.DIGEST}{destination}:{last or 0}", now)
        log.info("%s: %d cards queued; digest posted first", destination, len(waiting))


def digest(waiting: list[int], lines: list[str]) -> Reply:
    """The digest for a channel whose card queue is long: which tickets, in what order."""
    more = len(waiting) - len(lines)
    text = "\n".join(
        [
            f"⏳ {len(waiting)} tickets are waiting for their cards here: more than this "
            "channel takes at once. Their cards follow in this order; none is dropped.",
            *lines,
            *([f"… and {more} more."] if more > 0 else []),
        ]
    )
    return Reply(text)


async def _line(session: AsyncSession, number: int) -> str:
    try:
        ticket = await store.get(session, number)
    except TicketNotFound:
        return f"#{number}"
    summary = " ".join(ticket.description.split())
    summary = summary if len(summary) <= 80 else summary[:79] + "…"
    who = ticket.requester.name
    return f"#{number} · {ticket.priority} · {ticket.category} · {who}: {summary}"
