"""What the desk does on its own, now and then: expire idle conversations (telling the user),
close resolutions nobody answered, and queue the weekly digest once per week."""

from __future__ import annotations

from handlers import intake, satisfaction
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.messages import Reply
from handlers.outbound import Digest, Place
from handlers.reports import desk_zone, last_week
from handlers.tickets import Action
from handlers.tickets_service import TicketService
from storage import conversations
from storage import tickets as store

SYSTEM = "system"


class Housekeeping:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    @property
    def config(self) -> DeskConfig:
        return self.service.config

    async def run(self) -> None:
        """One round: conversations, unanswered resolutions, the digest."""
        now = self.service.clock()
        async with self.service.transaction(f"expire:{now.isoformat()}") as batch:
            session = batch.session
            for key in await conversations.idle_since(session, now - self.config.desk.intake_idle):
                raw = await conversations.load(session, key)
                await conversations.drop(session, key)
                if raw is None or satisfaction.awaiting_comment(raw) is not None:
                    continue  # an unanswered "any comment?" just lapses
                language = intake.State.from_json(raw).language
                await batch.to_chat(Place(*key), Reply(t(language, "intake.expired")))
            cutoff = now - self.config.desk.confirm_timeout
            for ticket in await store.resolved_before(session, cutoff):
                moved = await store.move(
                    session, ticket, Action.AUTO_CLOSE, SYSTEM, now, closed_at=now
                )
                text = t(moved.language, "ticket.auto_closed", number=moved.number)
                await self.service.tell_requester(batch, moved, text)
                rating = satisfaction.ask(moved)
                await self.service.tell_requester(batch, moved, rating.text, rating.buttons)
                await self.service.changed(batch, moved)
        await self.weekly_digest()

    async def weekly_digest(self) -> None:
        """Queue last week's digest for its place. Its outbox key names the week, so however
        often (and in however many processes) this runs, a week is posted once."""
        place = self.service.places.digest
        if place is None:
            return
        week = last_week(self.service.clock(), desk_zone(self.config))
        digest = Digest(place, week.since.isoformat(), week.until.isoformat(), week.timezone)
        async with self.service.transaction(f"digest:{week.since.date().isoformat()}") as batch:
            await batch.add(digest)
