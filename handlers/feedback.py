"""What the desk does once delivery is known: a receipt on the operator's message that was
relayed, and a note on the card while a requester cannot be reached (gone once they can)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.batch import Batch
from handlers.outbound import KINDS, Mark, Place, ToChat
from handlers.outcomes import Outcome, Sent, Undeliverable
from handlers.tickets_service import TicketService
from storage import outbox
from storage import tickets as store
from storage.models import OutboxRow

DELIVERED, FAILED = "delivered", "failed"


class Feedback:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    async def after_delivery(self, row: OutboxRow, outcome: Outcome) -> None:
        """Show delivery on the sender's side: a receipt on the relayed message, a problem on
        the card when the requester cannot be reached."""
        if row.kind != KINDS[ToChat]:
            return
        message = outbox.message_of(row)
        assert isinstance(message, ToChat)
        unreachable = isinstance(outcome, Undeliverable) and message.ticket is not None
        if message.receipt is None and not unreachable:
            return
        async with self.service.transaction(f"outbox:{row.id}") as batch:
            if message.receipt is not None:
                mark = DELIVERED if isinstance(outcome, Sent) else FAILED
                receipt = message.receipt
                await batch.add(Mark(receipt.place, receipt.message_id, mark, message.ticket))
            if unreachable:
                assert message.ticket is not None and isinstance(outcome, Undeliverable)
                await store.set_delivery_problem(batch.session, message.ticket, outcome.error)
                ticket = await store.get(batch.session, message.ticket)
                await self.service.changed(batch, ticket)

    async def reached(self, session: AsyncSession, rows: list[OutboxRow]) -> None:
        """Texts reached their chats (in the transaction recording that): requesters we could
        not reach before lose the "cannot reach" note on their tickets' cards."""
        places = {Place.from_key(row.destination) for row in rows if row.kind == KINDS[ToChat]}
        if not places:
            return
        chats = sorted((place.platform, place.chat) for place in places)
        numbers = await store.clear_delivery_problem(session, chats)
        batch = Batch(session, f"reached:{min(row.id for row in rows)}", self.service.clock())
        for number in numbers:
            await self.service.changed(batch, await store.get(session, number))
