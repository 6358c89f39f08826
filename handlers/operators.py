"""First-line operators' moves on a ticket (claim, release, resolve, reject) and their words
in a card's thread, relayed to the requester unless they are an internal note.

Each move is one transaction through the ticket service: the ticket is read once, moved with a
conditional update, its clocks and cards follow, and the requester is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.incident_desk import release_children, resolve_children
from handlers.messages import Button, Reply, UserRef
from handlers.outbound import FileRef, Mark, PostRef, ToChat
from handlers.requesters import CONFIRM
from handlers.text import clean
from handlers.tickets import Action, Event, Status, Ticket
from handlers.tickets_service import (
    ActionResult,
    Refused,
    TicketService,
    actor_of,
    author_of,
    owner_unless_owned,
    requester_place,
    said,
    taken_by,
)
from storage import links
from storage import tickets as store
from storage.tickets import TicketNotFound


class Said(StrEnum):
    """What became of words written in a card's thread."""

    RELAYED = "relayed"  # on their way to the requester
    INTERNAL = "internal"  # an internal note: kept in the history, never relayed
    NOT_RELAYED = "not_relayed"  # the ticket is over; nothing reaches the requester now
    NO_TICKET = "no_ticket"


@dataclass(frozen=True)
class ThreadResult:
    said: Said
    reason: str = ""  # for NOT_RELAYED / NO_TICKET: what the writer is told

    @property
    def ok(self) -> bool:
        return self.said in (Said.RELAYED, Said.INTERNAL)


class Operators:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    @property
    def config(self) -> DeskConfig:
        return self.service.config

    async def claim(self, number: int, operator: UserRef, cause: str) -> ActionResult:
        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            if ticket.assignee and ticket.assignee != operator.id:
                raise Refused(taken_by(ticket))
            if ticket.assignee == operator.id and ticket.status == Status.CLAIMED:
                raise Refused(f"You have already claimed #{number}.")
            moved = await store.move(
                batch.session,
                ticket,
                Action.CLAIM,
                actor_of(operator),
                batch.now,
                unassigned_only=True,
                assignee_id=operator.id,
                assignee_name=operator.name,
                first_response_at=ticket.first_response_at or batch.now,
            )
            shown = self.config.desk.show_operator_names
            key = "ticket.claimed" if shown else "ticket.claimed_anonymous"
            text = t(moved.language, key, number=number, operator=operator.name)
            await self.service.tell_requester(batch, moved, text)
            return moved

        return await self.service.act_on(number, operator, cause, act)

    async def release(self, number: int, operator: UserRef, cause: str) -> ActionResult:
        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            if ticket.assignee != operator.id:
                raise Refused(f"Only {ticket.assignee_name or 'the owner'} can release #{number}.")
            moved = await store.move(
                batch.session,
                ticket,
                Action.RELEASE,
                actor_of(operator),
                batch.now,
                assignee_id=None,
                assignee_name=None,
            )
            text = t(moved.language, "ticket.released", number=number)
            await self.service.tell_requester(batch, moved, text)
            return moved

        return await self.service.act_on(number, operator, cause, act)

    async def resolve(self, number: int, operator: UserRef, note: str, cause: str) -> ActionResult:
        note = clean(note)

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            moved = await store.move(
                batch.session,
                ticket,
                Action.RESOLVE,
                actor_of(operator),
                batch.now,
                note,
                resolved_at=batch.now,
                **owner_unless_owned(ticket, operator),
            )
            await self._ask_if_fixed(batch, moved, note)
            if moved.major:  # an incident: every ticket still linked to it is resolved too
                for child in await resolve_children(batch, moved, operator, note):
                    await self._ask_if_fixed(batch, child, note)
                    await self.service.changed(batch, child)
            return moved

        return await self.service.act_on(number, operator, cause, act)

    async def _ask_if_fixed(self, batch: Batch, ticket: Ticket, note: str) -> None:
        """The resolution note, and "did this solve the problem?" with its two answers."""
        lang, number = ticket.language, ticket.number
        buttons = (
            (
                Button(t(lang, "btn.fixed_yes"), f"{CONFIRM}{number}:yes", "primary"),
                Button(t(lang, "btn.fixed_no"), f"{CONFIRM}{number}:no", "danger"),
            ),
        )
        text = t(lang, "ticket.resolved", number=number, note=note)
        await self.service.tell_requester(batch, ticket, text, buttons)

    async def reject(self, number: int, operator: UserRef, reason: str, cause: str) -> ActionResult:
        reason = clean(reason)

        async def act(batch: Batch, ticket: Ticket) -> Ticket:
            moved = await store.move(
                batch.session,
                ticket,
                Action.REJECT,
                actor_of(operator),
                batch.now,
                reason,
                closed_at=batch.now,
            )
            text = t(moved.language, "ticket.rejected", number=number, reason=reason)
            await self.service.tell_requester(batch, moved, text)
            if moved.major:  # the tickets linked to a rejected incident go on on their own
                await release_children(self.service, batch, moved, actor_of(operator))
            return moved

        return await self.service.act_on(number, operator, cause, act)

    # --- words in a card's thread -------------------------------------------------------------

    async def thread_message(
        self,
        number: int,
        operator: UserRef,
        text: str,
        source: PostRef,
        cause: str,
        role: str = links.OPERATOR_CARD,
        file: FileRef | None = None,
    ) -> ThreadResult:
        """A message in a card's thread: relayed to the requester unless it is internal.

        ``source`` is the posted message: it gets a mark (internal, not relayed) now, and
        delivered/failed once delivery to the requester is known. A specialist's message
        (``role`` is a specialist card) is mirrored into the operators' thread. ``file`` (a
        photo or document the message carries) goes to the requester with the words."""
        text = clean(text)
        async with self.service.transaction(cause) as batch:
            try:
                ticket = await store.get(batch.session, number)
            except TicketNotFound:
                return ThreadResult(Said.NO_TICKET, f"There is no ticket #{number}.")
            result, words = await self._said(batch, ticket, operator, text, source, role, file)
            if role != links.OPERATOR_CARD and result.said is not Said.NOT_RELAYED:
                internal = result.said is Said.INTERNAL
                voice = "specialist, internal note" if internal else "specialist"
                await self.service.relay(
                    batch, ticket, words, operator.name, voice, file, only=links.OPERATOR_CARD
                )
        return result

    async def _said(
        self,
        batch: Batch,
        ticket: Ticket,
        operator: UserRef,
        text: str,
        source: PostRef,
        role: str,
        file: FileRef | None = None,
    ) -> tuple[ThreadResult, str]:
        """Record the words and queue what follows; (the result, the words as kept)."""
        session, now, number = batch.session, batch.now, ticket.number
        assert number is not None
        prefix = self.config.desk.internal_prefix
        if prefix and text.startswith(prefix):
            note = text[len(prefix) :].strip()
            await store.add_message(session, number, author_of(operator), "internal", note, now)
            await batch.add(Mark(source.place, source.message_id, Said.INTERNAL, number))
            return ThreadResult(Said.INTERNAL), note
        if not ticket.is_open and ticket.status != Status.RESOLVED:
            await batch.add(Mark(source.place, source.message_id, Said.NOT_RELAYED, number))
            reason = f"Ticket #{number} is {said(ticket.status)}; not relayed."
            return ThreadResult(Said.NOT_RELAYED, reason), text
        if role != links.OPERATOR_CARD and role != links.specialist_card(ticket.line or ""):
            await batch.add(Mark(source.place, source.message_id, Said.NOT_RELAYED, number))
            reason = f"Ticket #{number} is not with this line any more; not relayed."
            return ThreadResult(Said.NOT_RELAYED, reason), text
        await store.add_message(
            session, number, author_of(operator), "to_user", text, now, source.message_id
        )
        if ticket.first_response_at is None:
            await store.mark_first_response(session, number, now)
            await store.log_event(session, ticket, Event.RESPOND, actor_of(operator), now)
        shown = operator.name if self.config.desk.show_operator_names else "Operator"
        words = t(ticket.language, "ticket.operator_says", operator=shown, number=number, text=text)
        to_requester = ToChat(requester_place(ticket), Reply(words), number, source, file=file)
        await batch.add(to_requester)
        return ThreadResult(Said.RELAYED), text
