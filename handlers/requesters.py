"""Requesters' input: one router decides which conversation each input belongs to (a command,
the "did this solve it?" answer, a rating or its comment, the intake, or a message to an open
ticket), and each of those is handled in the update's one transaction.

The intake's state is a row written in that same transaction (storage/conversations.py): when
the commit fails, the redelivered update finds the conversation where it was.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import intake, satisfaction
from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake import Draft, Input, Profile
from handlers.messages import Reply, UserRef, ticket_button
from handlers.outbound import FileRef, Place
from handlers.tickets import Action, Level, Requester, Status, Ticket
from handlers.tickets_service import TicketService, actor_of, author_of
from storage import conversations, users
from storage import tickets as store
from storage.tickets import TicketNotFound

MAX_TEXT = 4000
FLOOD_PER_MINUTE = 20  # a requester's messages to a ticket: past this they are asked to slow down
CONFIRM = "c:"  # callback data of the "did this solve it?" buttons: c:<number>:yes|no
USER_COMMANDS = ("start", "new", "cancel", "status", "help")


class Requesters:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    @property
    def config(self) -> DeskConfig:
        return self.service.config

    # --- entry points -------------------------------------------------------------------------

    async def user_message(
        self, user: UserRef, chat: str, given: Input, cause: str, command: str = ""
    ) -> bool:
        """Anything a requester sends in a private chat: a command, text, a button, a file.
        False, with nothing done, when ``cause`` was processed before (a redelivery)."""

        async def route(batch: Batch) -> None:
            await _Conversation(self, batch, user, Place(user.platform, chat)).route(given, command)

        return await self.service.once(cause, route)

    async def say(self, user: UserRef, chat: str, reply: Reply, cause: str) -> bool:
        """Queue a plain answer to a requester (e.g. "I cannot read stickers"); False when
        ``cause`` was answered before."""

        async def answer(batch: Batch) -> None:
            await batch.to_chat(Place(user.platform, chat), reply)

        return await self.service.once(cause, answer)

    async def file_ticket(self, user: UserRef, chat: str, draft: Draft, cause: str) -> Ticket:
        """Register a complete draft as a ticket (what Submit at the end of intake does)."""
        async with self.service.transaction(cause) as batch:
            conversation = _Conversation(self, batch, user, Place(user.platform, chat))
            return await conversation.open_ticket(draft)

    # --- what a requester sees ----------------------------------------------------------------

    async def status(self, session: AsyncSession, user: UserRef) -> Reply:
        lang = user.language
        open_tickets = await store.open_for_requester(session, user.platform, user.id)
        if not open_tickets:
            return Reply(t(lang, "status.none"))
        lines = [t(lang, "status.header")]
        lines += [self.status_line(ticket, lang) for ticket in open_tickets]
        return Reply("\n".join(lines))

    def status_line(self, ticket: Ticket, language: str) -> str:
        """One line about a ticket for its requester: number, category, status, since when."""
        category = self.config.category(ticket.category)
        return t(
            language,
            "status.line",
            number=ticket.number,
            category=category.label(language) if category else ticket.category,
            status=t(language, f"status.{ticket.status}"),
            since=ticket.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        )


class _Conversation:
    """One requester input, in its transaction: where it goes and what it does."""

    def __init__(self, desk: Requesters, batch: Batch, user: UserRef, place: Place) -> None:
        self.desk, self.service, self.config = desk, desk.service, desk.config
        self.batch, self.user, self.place = batch, user, place
        self.key = (user.platform, user.id)

    async def say(self, reply: Reply, ticket: int | None = None) -> None:
        await self.batch.to_chat(self.place, reply, ticket)

    def text(self, key: str, **params: object) -> Reply:
        return Reply(t(self.user.language, key, **params))

    async def route(self, given: Input, command: str) -> None:
        session, now = self.batch.session, self.batch.now
        if len(given.text) > MAX_TEXT:
            await self.say(self.text("too_long", length=len(given.text), max=MAX_TEXT))
            return
        if command == "help":
            await self.say(self.text("help"))
            return
        if command == "status":
            await self.say(await self.desk.status(session, self.user))
            return
        if given.choice.startswith(CONFIRM):
            await self.confirm(given.choice)
            return
        raw = await conversations.load(session, self.key)
        if await self.satisfaction(given, command, raw):
            return
        if satisfaction.awaiting_comment(raw) is not None:
            raw = None  # the comment was not given; the state was dropped
        state = intake.State.from_json(raw) if raw else None
        if state and intake.expired(state, now, self.config):
            await self.say(Reply(t(state.language, "intake.expired")))
            await conversations.drop(session, self.key)
            state = None
        if command == "cancel":
            await self.cancel(state)
            return
        if command in ("start", "new"):
            await self.start_intake(Input())
            return
        if command:
            await self.say(self.text("unknown_command"))
            return
        if state is not None:
            await self.apply(intake.step(state, given, now, self.config))
            return
        if given.choice.startswith(intake.PREFIX):
            await self.say(self.text("intake.stale_button"))
            return
        open_tickets = await store.open_for_requester(session, self.user.platform, self.user.id)
        if open_tickets:
            await self.add_to_ticket(open_tickets[-1], given)
            return
        await self.start_intake(given)

    async def cancel(self, state: intake.State | None) -> None:
        if state is None:
            await self.say(self.text("cancel.nothing"))
            return
        await conversations.drop(self.batch.session, self.key)
        await self.say(Reply(t(state.language, "intake.cancelled"), remove_keyboard=True))

    # --- satisfaction -------------------------------------------------------------------------

    async def satisfaction(self, given: Input, command: str, raw: dict | None) -> bool:
        """Ratings, "no comment", and the comment itself; True when the input was one."""
        batch, user = self.batch, self.user
        awaited = satisfaction.awaiting_comment(raw)
        if given.choice.startswith(satisfaction.RATE):
            reply, rated = await satisfaction.rated(batch, user, given.choice, actor_of(user))
            await self.say(reply, rated.number if rated else None)
            if rated is not None:
                state = satisfaction.comment_state(rated.number, user.language, batch.now)
                await conversations.save(batch.session, self.key, state, batch.now)
                await self.service.changed(batch, rated)
            return True
        if awaited is None:
            return given.choice.startswith(satisfaction.SKIP)
        await conversations.drop(batch.session, self.key)
        if command or given.choice or not given.text.strip():
            return given.choice.startswith(satisfaction.SKIP)
        reply, commented = await satisfaction.commented(
            batch, user, awaited, given.text, actor_of(user)
        )
        await self.say(reply, awaited)
        if commented is not None:
            await self.service.changed(batch, commented)
        return True

    async def confirm(self, data: str) -> None:
        """The requester answered "did this solve it?"."""
        batch, user = self.batch, self.user
        parsed = ticket_button(data)
        if parsed is None or parsed[1] not in ("yes", "no"):
            await self.say(self.text("intake.stale_button"))
            return
        number, answer = parsed
        try:
            ticket = await store.get(batch.session, number)
        except TicketNotFound:
            await self.say(self.text("intake.stale_button"))
            return
        if (ticket.requester.platform, ticket.requester.user_id) != (user.platform, user.id):
            await self.say(self.text("intake.stale_button"))
            return
        if ticket.status != Status.RESOLVED:
            await self.say(self.text("ticket.already_answered", number=number), number)
            return
        fixed = answer == "yes"
        action = Action.CONFIRM if fixed else Action.REOPEN
        closed = {"closed_at": batch.now} if fixed else {"resolved_at": None}
        moved = await store.move(batch.session, ticket, action, actor_of(user), batch.now, **closed)
        await self.say(self.text("ticket.closed" if fixed else "ticket.reopened", number=number))
        if fixed:
            await self.say(satisfaction.ask(moved), number)
        await self.service.changed(batch, moved)

    # --- intake -------------------------------------------------------------------------------

    async def start_intake(self, given: Input) -> None:
        """A new conversation; what the user just sent (text, a screenshot) is kept in it."""
        user = self.user
        profile = await users.profile(self.batch.session, user.platform, user.id)
        outcome = intake.start(
            self.batch.now, self.config, user.language, user.name, profile, given.text, given.file
        )
        await self.apply(outcome)

    async def apply(self, outcome: intake.Outcome) -> None:
        session, now = self.batch.session, self.batch.now
        for reply in outcome.replies:
            await self.say(reply)
        if outcome.state is not None:
            await conversations.save(session, self.key, outcome.state.to_json(), now)
            return
        await conversations.drop(session, self.key)
        if outcome.submit is not None:
            await self.open_ticket(outcome.submit)

    async def open_ticket(self, draft: Draft) -> Ticket:
        session, now, user = self.batch.session, self.batch.now, self.user
        contact = f"@{user.username}" if user.username else ""
        ticket = await store.insert(
            session,
            Ticket(
                requester=Requester(user.platform, user.id, draft.name, contact),
                category=draft.category,
                description=draft.description,
                location=draft.location,
                phone=draft.phone,
                asset=draft.asset,
                urgency=Level(draft.urgency),
                impact=Level.MEDIUM,
                created_at=now,
                language=user.language,
            ),
            actor=actor_of(user),
        )
        assert ticket.number is not None
        await store.add_attachments(session, ticket.number, user.platform, draft.attachments, now)
        remembered = Profile(name=draft.name, phone=draft.phone, location=draft.location)
        await users.remember(
            session, user.platform, user.id, remembered, user.language, self.place.chat, now
        )
        created = Reply(
            t(user.language, "ticket.created", number=ticket.number), remove_keyboard=True
        )
        await self.say(created, ticket.number)
        await self.service.changed(self.batch, ticket)
        for file in draft.attachments:  # into the card's thread, where operators can open them
            await self.service.relay(
                self.batch, ticket, "", draft.name, file=FileRef.of(file, user.platform)
            )
        return ticket

    async def add_to_ticket(self, ticket: Ticket, given: Input) -> None:
        """A requester with an open ticket wrote outside a conversation: it goes to that ticket."""
        session, now, user = self.batch.session, self.batch.now, self.user
        number = ticket.number
        assert number is not None
        if not given.text.strip() and given.file is None:
            await self.say(self.text("unsupported"))
            return
        if given.file is not None:
            await store.add_attachments(session, number, user.platform, [given.file], now)
        text = given.text.strip() or f"[{given.file.kind if given.file else 'file'}]"
        await store.add_message(session, number, author_of(user), "from_user", text, now)
        if ticket.status == Status.WAITING:
            ticket = await store.move(session, ticket, Action.USER_REPLIED, actor_of(user), now)
            await self.service.changed(self.batch, ticket)
        file = FileRef.of(given.file, user.platform) if given.file is not None else None
        await self.service.relay(self.batch, ticket, text, user.name, file=file)
        lately = await store.said_since(session, number, user.id, now - timedelta(minutes=1))
        if lately < FLOOD_PER_MINUTE:
            await self.say(self.text("ticket.added", number=number), number)
        elif lately == FLOOD_PER_MINUTE:  # told once; later messages still go through, quietly
            await self.say(self.text("ticket.slow_down", number=number), number)
