"""The desk's use cases: what happens when a requester writes and when an operator acts.

Each use case runs in one database transaction that changes the ticket, records the audit event
and writes every resulting message to the outbox; nothing is sent from here. The delivery worker
picks the messages up after the commit (``on_commit`` wakes it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from escalation import policy
from handlers import intake, satisfaction
from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.delivery import Sent, Undeliverable
from handlers.i18n import t
from handlers.intake import Draft, Input, Profile
from handlers.messages import Attachment, Button, Outbound, Reply, UserRef, reply_payload
from handlers.reports import Period, Report, desk_zone, last_week
from handlers.tickets import (
    FINAL_STATUSES,
    Action,
    Level,
    Requester,
    Status,
    Ticket,
    TransitionError,
)
from storage import links, reports, sla_clocks, users
from storage import tickets as store
from storage.conversations import ConversationStore
from storage.db import SessionFactory
from storage.models import OutboxRow
from storage.tickets import MoveConflict, TicketNotFound

MAX_TEXT = 4000
CONFIRM = "c:"  # callback data of the "did this solve it?" buttons: c:<number>:yes|no
USER_COMMANDS = ("start", "new", "cancel", "status", "help")


@dataclass(frozen=True)
class ActionResult:
    """What an operator is told privately (Slack ephemeral) after a button or command."""

    ok: bool
    message: str
    ticket: Ticket | None = None


class Desk:
    def __init__(
        self,
        sessions: SessionFactory,
        config: DeskConfig,
        conversations: ConversationStore,
        clock: Callable[[], datetime],
        operators_channel: str,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.conversations = conversations
        self.clock = clock
        self.operators_channel = operators_channel
        self.on_commit = on_commit

    # --- requesters ---------------------------------------------------------------------------

    async def user_message(
        self, user: UserRef, chat: str, given: Input, cause: str, command: str = ""
    ) -> bool:
        """Anything a requester sends in a private chat: a command, text, a button, a file.
        False, with nothing done, when ``cause`` was processed before (a redelivery)."""

        async def route(batch: Batch) -> None:
            await self._route_user_message(batch, user, chat, given, command)

        return await self._once(cause, route)

    async def say(self, user: UserRef, chat: str, reply: Reply, cause: str) -> bool:
        """Queue a plain answer to a requester (e.g. "I cannot read stickers"); False when
        ``cause`` was answered before."""

        async def answer(batch: Batch) -> None:
            await batch.to_user(user.platform, chat, reply, None)

        return await self._once(cause, answer)

    async def _once(self, cause: str, work: Callable[[Batch], Awaitable[None]]) -> bool:
        """``work`` in one transaction, unless ``cause`` was processed before."""
        async with self.sessions.begin() as session:
            batch = Batch(session, cause, self.clock())
            if await batch.seen_before():
                return False
            await work(batch)
        self.on_commit()
        return True

    async def _route_user_message(
        self, batch: Batch, user: UserRef, chat: str, given: Input, command: str
    ) -> None:
        session, now, lang = batch.session, batch.now, user.language
        key = (user.platform, user.id)

        async def say(reply: Reply, ticket: int | None = None) -> None:
            await batch.to_user(user.platform, chat, reply, ticket)

        if len(given.text) > MAX_TEXT:
            await say(Reply(t(lang, "too_long", length=len(given.text), max=MAX_TEXT)))
            return
        if command in ("help",):
            await say(Reply(t(lang, "help")))
            return
        if command == "status":
            await say(await self._status(session, user))
            return
        if given.choice.startswith(CONFIRM):
            await self._user_confirms(batch, user, chat, given.choice)
            return
        raw = await self.conversations.load(session, key)
        if await self._satisfaction(batch, user, chat, given, command, raw):
            return
        if satisfaction.awaiting_comment(raw) is not None:
            raw = None  # the comment was not given; the state was dropped
        state = intake.State.from_json(raw) if raw else None
        if state and intake.expired(state, now, self.config):
            await say(Reply(t(state.language, "intake.expired")))
            await self.conversations.drop(session, key)
            state = None
        if command == "cancel":
            if state is None:
                await say(Reply(t(lang, "cancel.nothing")))
            else:
                await self.conversations.drop(session, key)
                await say(Reply(t(state.language, "intake.cancelled"), remove_keyboard=True))
            return
        if command in ("start", "new"):
            await self._start_intake(batch, user, chat, Input())
            return
        if command:
            await say(Reply(t(lang, "unknown_command")))
            return
        if state is not None:
            await self._continue_intake(batch, user, chat, state, given)
            return
        if given.choice.startswith(intake.PREFIX):
            await say(Reply(t(lang, "intake.stale_button")))
            return
        open_tickets = await store.open_for_requester(session, user.platform, user.id)
        if open_tickets:
            await self._add_to_ticket(batch, user, chat, open_tickets[-1], given)
            return
        await self._start_intake(batch, user, chat, given)

    async def _satisfaction(
        self,
        batch: Batch,
        user: UserRef,
        chat: str,
        given: Input,
        command: str,
        raw: dict[str, Any] | None,
    ) -> bool:
        """Ratings, "no comment", and the comment itself; True when the input was one."""
        key = (user.platform, user.id)
        awaited = satisfaction.awaiting_comment(raw)
        if given.choice.startswith(satisfaction.RATE):
            reply, number = await satisfaction.rated(batch, user, given.choice, actor_of(user))
            await batch.to_user(user.platform, chat, reply, number)
            if number is not None:
                state = satisfaction.comment_state(number, user.language, batch.now)
                await self.conversations.save(batch.session, key, state, batch.now)
                await self.changed(batch, number)
            return True
        if awaited is None:
            return given.choice.startswith(satisfaction.SKIP)
        await self.conversations.drop(batch.session, key)
        if command or given.choice or not given.text.strip():
            return given.choice.startswith(satisfaction.SKIP)
        reply = await satisfaction.commented(batch, user, awaited, given.text, actor_of(user))
        await batch.to_user(user.platform, chat, reply, awaited)
        await self.changed(batch, awaited)
        return True

    async def _start_intake(self, batch: Batch, user: UserRef, chat: str, given: Input) -> None:
        """A new conversation; what the user just sent (text, a screenshot) is kept in it."""
        profile = await users.profile(batch.session, user.platform, user.id)
        outcome = intake.start(
            batch.now, self.config, user.language, user.name, profile, given.text, given.file
        )
        await self._apply_outcome(batch, user, chat, outcome)

    async def _continue_intake(
        self, batch: Batch, user: UserRef, chat: str, state: intake.State, given: Input
    ) -> None:
        outcome = intake.step(state, given, batch.now, self.config)
        await self._apply_outcome(batch, user, chat, outcome)

    async def _apply_outcome(
        self, batch: Batch, user: UserRef, chat: str, outcome: intake.Outcome
    ) -> None:
        key = (user.platform, user.id)
        for reply in outcome.replies:
            await batch.to_user(user.platform, chat, reply, None)
        if outcome.state is not None:
            await self.conversations.save(batch.session, key, outcome.state.to_json(), batch.now)
            return
        await self.conversations.drop(batch.session, key)
        if outcome.submit is not None:
            await self._open_ticket(batch, user, chat, outcome.submit)

    async def file_ticket(self, user: UserRef, chat: str, draft: Draft, cause: str) -> Ticket:
        """Register a complete draft as a ticket (what Submit at the end of intake does)."""
        async with self.sessions.begin() as session:
            ticket = await self._open_ticket(Batch(session, cause, self.clock()), user, chat, draft)
        self.on_commit()
        return ticket

    async def _open_ticket(self, batch: Batch, user: UserRef, chat: str, draft: Draft) -> Ticket:
        session, now = batch.session, batch.now
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
        await users.remember(session, user.platform, user.id, remembered, user.language, chat, now)
        created = Reply(
            t(user.language, "ticket.created", number=ticket.number), remove_keyboard=True
        )
        await batch.to_user(user.platform, chat, created, ticket.number)
        await self.changed(batch, ticket.number)
        for file in draft.attachments:  # into the card's thread, where operators can open them
            payload = {"text": "", "author": draft.name, "role": "requester"}
            payload["file"] = _file_payload(file, user.platform)
            await self.relay(
                batch, ticket.number, links.OPERATOR_CARD, self.operators_channel, payload
            )
        return ticket

    async def _add_to_ticket(
        self, batch: Batch, user: UserRef, chat: str, ticket: Ticket, given: Input
    ) -> None:
        """A requester with an open ticket wrote outside a conversation: it goes to that ticket."""
        session, now = batch.session, batch.now
        assert ticket.number is not None
        if not given.text.strip() and given.file is None:
            await batch.to_user(user.platform, chat, Reply(t(user.language, "unsupported")), None)
            return
        if given.file is not None:
            await store.add_attachments(session, ticket.number, user.platform, [given.file], now)
        text = given.text.strip() or f"[{given.file.kind if given.file else 'file'}]"
        await store.add_message(session, ticket.number, _author(user), "from_user", text, now)
        if ticket.status == Status.WAITING:
            await store.move(session, ticket.number, Action.USER_REPLIED, actor_of(user), now)
            await self.changed(batch, ticket.number)
        payload: dict[str, Any] = {"text": text, "author": user.name, "role": "requester"}
        if given.file is not None:
            payload["file"] = _file_payload(given.file, user.platform)
        for role, channel in self._threads_of(ticket):
            await self.relay(batch, ticket.number, role, channel, payload)
        added = Reply(t(user.language, "ticket.added", number=ticket.number))
        await batch.to_user(user.platform, chat, added, ticket.number)

    def _threads_of(self, ticket: Ticket) -> list[tuple[str, str]]:
        """(card role, channel) of every thread following the ticket now: the operators' and,
        while escalated, the line's."""
        threads = [(links.OPERATOR_CARD, self.operators_channel)]
        line = self.config.line(ticket.line or "") if ticket.status == Status.ESCALATED else None
        if line is not None:
            threads.append((links.specialist_card(line.id), line.channel))
        return threads

    async def relay(
        self, batch: Batch, number: int, role: str, channel: str, payload: dict[str, Any]
    ) -> None:
        """A message into the thread of the ticket's card ``role`` in ``channel``."""
        thread = {"thread_of": {"ticket": number, "role": role}}
        await batch.add(Outbound("slack", channel, "relay", {**payload, **thread}, number))

    async def _status(self, session: AsyncSession, user: UserRef) -> Reply:
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

    async def _user_confirms(self, batch: Batch, user: UserRef, chat: str, data: str) -> None:
        """The requester answered "did this solve it?"."""
        _, number_text, answer = data.split(":", 2) if data.count(":") >= 2 else ("", "0", "")
        lang = user.language
        try:
            ticket = await store.get(batch.session, int(number_text))
        except (ValueError, TicketNotFound):
            await batch.to_user(user.platform, chat, Reply(t(lang, "intake.stale_button")), None)
            return
        number = ticket.number
        if (ticket.requester.platform, ticket.requester.user_id) != (user.platform, user.id):
            return
        if ticket.status != Status.RESOLVED:
            reply = Reply(t(lang, "ticket.already_answered", number=number))
            await batch.to_user(user.platform, chat, reply, number)
            return
        fixed = answer == "yes"
        action = Action.CONFIRM if fixed else Action.REOPEN
        closed = {"closed_at": batch.now} if fixed else {"resolved_at": None}
        await store.move(batch.session, number, action, actor_of(user), batch.now, **closed)
        reply = Reply(t(lang, "ticket.closed" if fixed else "ticket.reopened", number=number))
        await batch.to_user(user.platform, chat, reply, number)
        if fixed:
            await batch.to_user(user.platform, chat, satisfaction.ask(ticket), number)
        await self.changed(batch, number)

    # --- operators ----------------------------------------------------------------------------

    async def claim(self, number: int, operator: UserRef, cause: str) -> ActionResult:
        async def act(batch: Batch, ticket: Ticket) -> str:
            if ticket.assignee and ticket.assignee != operator.id:
                return _taken_by(ticket)
            if ticket.assignee == operator.id and ticket.status == Status.CLAIMED:
                return f"You have already claimed #{number}."
            moved = await store.move(
                batch.session,
                number,
                Action.CLAIM,
                actor_of(operator),
                batch.now,
                unassigned_only=True,
                assignee_id=operator.id,
                assignee_name=operator.name,
                first_response_at=ticket.first_response_at or batch.now,
            )
            key = (
                "ticket.claimed"
                if self.config.desk.show_operator_names
                else ("ticket.claimed_anonymous")
            )
            await self.tell_requester(
                batch, moved, t(moved.language, key, number=number, operator=operator.name)
            )
            return ""

        return await self.act_on(number, operator, cause, act)

    async def release(self, number: int, operator: UserRef, cause: str) -> ActionResult:
        async def act(batch: Batch, ticket: Ticket) -> str:
            if ticket.assignee != operator.id:
                return f"Only {ticket.assignee_name or 'the owner'} can release #{number}."
            moved = await store.move(
                batch.session,
                number,
                Action.RELEASE,
                actor_of(operator),
                batch.now,
                assignee_id=None,
                assignee_name=None,
            )
            await self.tell_requester(
                batch, moved, t(moved.language, "ticket.released", number=number)
            )
            return ""

        return await self.act_on(number, operator, cause, act)

    async def resolve(self, number: int, operator: UserRef, note: str, cause: str) -> ActionResult:
        async def act(batch: Batch, ticket: Ticket) -> str:
            owner = (
                {}
                if ticket.assignee
                else {"assignee_id": operator.id, "assignee_name": operator.name}
            )
            moved = await store.move(
                batch.session,
                number,
                Action.RESOLVE,
                actor_of(operator),
                batch.now,
                note,
                resolved_at=batch.now,
                **owner,
            )
            lang = moved.language
            buttons = (
                (
                    Button(t(lang, "btn.fixed_yes"), f"{CONFIRM}{number}:yes", "primary"),
                    Button(t(lang, "btn.fixed_no"), f"{CONFIRM}{number}:no", "danger"),
                ),
            )
            text = t(lang, "ticket.resolved", number=number, note=note)
            await self.tell_requester(batch, moved, text, buttons)
            return ""

        return await self.act_on(number, operator, cause, act)

    async def reject(self, number: int, operator: UserRef, reason: str, cause: str) -> ActionResult:
        async def act(batch: Batch, ticket: Ticket) -> str:
            moved = await store.move(
                batch.session,
                number,
                Action.REJECT,
                actor_of(operator),
                batch.now,
                reason,
                closed_at=batch.now,
            )
            text = t(moved.language, "ticket.rejected", number=number, reason=reason)
            await self.tell_requester(batch, moved, text)
            return ""

        return await self.act_on(number, operator, cause, act)

    async def operator_reply(
        self,
        number: int,
        operator: UserRef,
        text: str,
        source: dict[str, str],
        cause: str,
        role: str = links.OPERATOR_CARD,
    ) -> ActionResult:
        """A message in a card's thread: relayed to the requester unless it is internal.

        ``source`` is the Slack message (``channel``, ``ts``): it gets a reaction (🔒 internal,
        ⛔ not relayed) now, and ✅/❌ once delivery to the requester is known. A specialist's
        message (``role`` is a specialist card) is mirrored into the operators' thread."""
        async with self.sessions.begin() as session:
            batch = Batch(session, cause, self.clock())
            result = await self._thread_message(batch, number, operator, text, source)
            if role != links.OPERATOR_CARD and result.ticket is not None:
                internal = result.message == "internal note"
                mirrored = {
                    "text": text[len(self.config.desk.internal_prefix) :].strip()
                    if internal
                    else text,
                    "author": operator.name,
                    "role": "specialist, internal note" if internal else "specialist",
                }
                await self.relay(
                    batch, number, links.OPERATOR_CARD, self.operators_channel, mirrored
                )
        self.on_commit()
        return result

    async def _thread_message(
        self, batch: Batch, number: int, operator: UserRef, text: str, source: dict[str, str]
    ) -> ActionResult:
        session, now = batch.session, batch.now
        prefix = self.config.desk.internal_prefix
        ticket = await store.get(session, number)

        async def mark(what: str) -> None:
            receipt = {"ts": source["ts"], "mark": what}
            await batch.add(Outbound("slack", source["channel"], "reaction", receipt, number))

        if prefix and text.startswith(prefix):
            note = text[len(prefix) :].strip()
            await store.add_message(session, number, _author(operator), "internal", note, now)
            await mark("internal")
            return ActionResult(True, "internal note", ticket)
        if not ticket.is_open and ticket.status != Status.RESOLVED:
            await mark("not_relayed")
            return ActionResult(False, f"Ticket #{number} is {_said(ticket.status)}; not relayed.")
        await store.add_message(
            session, number, _author(operator), "to_user", text, now, source_ref=source["ts"]
        )
        if ticket.first_response_at is None:
            await store.mark_first_response(session, number, now)
            await store.log_event(session, number, "respond", actor_of(operator), now)
        said = t(
            ticket.language,
            "ticket.operator_says",
            operator=self._shown(operator),
            number=number,
            text=text,
        )
        payload = reply_payload(Reply(said))
        payload["receipt"] = {"platform": "slack", "channel": source["channel"], "ts": source["ts"]}
        requester = ticket.requester
        await batch.add(Outbound(requester.platform, requester.user_id, "text", payload, number))
        return ActionResult(True, "relayed", ticket)

    def _shown(self, operator: UserRef) -> str:
        return operator.name if self.config.desk.show_operator_names else "Operator"

    async def act_on(
        self,
        number: int,
        operator: UserRef,
        cause: str,
        act: Callable[[Batch, Ticket], Any],
    ) -> ActionResult:
        """Run ``act`` in a transaction; turn races and disallowed moves into a clear answer."""
        now = self.clock()
        try:
            async with self.sessions.begin() as session:
                batch = Batch(session, cause, now)
                ticket = await store.get(session, number)
                refusal = await act(batch, ticket)
                if refusal:
                    return ActionResult(False, refusal, ticket)
                await self.changed(batch, number)
                ticket = await store.get(session, number)
        except TicketNotFound:
            return ActionResult(False, f"There is no ticket #{number}.")
        except MoveConflict as conflict:
            current = conflict.current
            if current.assignee and current.assignee != operator.id:
                return ActionResult(False, _taken_by(current), current)
            return ActionResult(False, f"Ticket #{number} just changed; look at the card again.")
        except TransitionError as error:
            return ActionResult(False, cannot_move(number, error.status, error.action))
        self.on_commit()
        return ActionResult(True, "", ticket)

    async def tell_requester(
        self,
        batch: Batch,
        ticket: Ticket,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
    ) -> None:
        requester = ticket.requester
        await batch.to_user(
            requester.platform, requester.user_id, Reply(text, buttons), ticket.number
        )

    async def changed(self, batch: Batch, number: int) -> None:
        """After any change of a ticket: its SLA clocks follow its new state, and each of its
        cards (operators', and every line's it was escalated to) is refreshed from the
        current state by the sender."""
        ticket = await store.get(batch.session, number)
        clocks = await sla_clocks.load(batch.session, number)
        responded = ticket.first_response_at is not None
        followed = policy.follow(
            clocks, ticket.status, ticket.priority, responded, batch.now, self.config
        )
        for clock in followed.values():
            await sla_clocks.save(batch.session, number, clock)
        await self.queue_card(batch, number, links.OPERATOR_CARD, self.operators_channel)
        for link in await links.specialist_cards(batch.session, number):
            await self.queue_card(batch, number, link.role, link.chat)

    async def queue_card(
        self, batch: Batch, number: int, role: str, channel: str, **extra: Any
    ) -> None:
        """Post the card, or edit it in place: the sender renders the ticket's current state."""
        payload = {"ticket": number, "role": role, **extra}
        await batch.add(Outbound("slack", channel, "card", payload, number))

    # --- housekeeping -------------------------------------------------------------------------

    async def housekeeping(self) -> None:
        """Expire idle conversations (telling the user), close resolutions nobody answered,
        and queue the weekly digest when one is due."""
        now = self.clock()
        async with self.sessions.begin() as session:
            batch = Batch(session, f"expire:{now.isoformat()}", now)
            cutoff = now - self.config.desk.intake_idle
            for key in await self.conversations.idle_since(session, cutoff):
                raw = await self.conversations.load(session, key)
                await self.conversations.drop(session, key)
                if raw is None or satisfaction.awaiting_comment(raw) is not None:
                    continue  # an unanswered "any comment?" just lapses
                language = intake.State.from_json(raw).language
                await batch.to_user(key[0], key[1], Reply(t(language, "intake.expired")), None)
            for number in await store.resolved_before(
                session, now - self.config.desk.confirm_timeout
            ):
                moved = await store.move(
                    session, number, Action.AUTO_CLOSE, "system", now, closed_at=now
                )
                await self.tell_requester(
                    batch, moved, t(moved.language, "ticket.auto_closed", number=number)
                )
                rating = satisfaction.ask(moved)
                await self.tell_requester(batch, moved, rating.text, rating.buttons)
                await self.changed(batch, number)
        self.on_commit()
        await self.weekly_digest()

    async def weekly_digest(self) -> None:
        """Queue last week's digest for the configured channel. Its outbox key names the week,
        so however often (and in however many processes) this runs, a week is posted once."""
        channel = self.config.desk.digest_channel
        if not channel:
            return
        now = self.clock()
        week = last_week(now, desk_zone(self.config))
        payload = {
            "since": week.since.isoformat(),
            "until": week.until.isoformat(),
            "zone": week.timezone,
        }
        async with self.sessions.begin() as session:
            batch = Batch(session, f"digest:{week.since.date().isoformat()}", now)
            await batch.add(Outbound("slack", channel, "digest", payload))
        self.on_commit()

    # --- delivery outcomes --------------------------------------------------------------------

    async def after_delivery(self, row: OutboxRow, outcome: Sent | Undeliverable) -> None:
        """Show delivery on the sender's side: a receipt on the relayed message, a problem on
        the card when the requester cannot be reached."""
        receipt = row.payload.get("receipt")
        unreachable = isinstance(outcome, Undeliverable) and row.ticket_id and row.kind == "text"
        if not receipt and not unreachable:
            return
        now = self.clock()
        async with self.sessions.begin() as session:
            batch = Batch(session, f"outbox:{row.id}", now)
            if receipt:
                what = "delivered" if isinstance(outcome, Sent) else "failed"
                await batch.add(
                    Outbound(
                        receipt["platform"],
                        receipt["channel"],
                        "reaction",
                        {"ts": receipt["ts"], "mark": what},
                        row.ticket_id,
                    )
                )
            if unreachable:
                await store.set_delivery_problem(session, row.ticket_id, outcome.error)
                await self.changed(batch, row.ticket_id)
        self.on_commit()

    async def reached(self, session: AsyncSession, rows: list[OutboxRow]) -> None:
        """Texts reached their chats (in the transaction recording that): requesters we could
        not reach before lose the "cannot reach" note on their tickets' cards."""
        texts = [row.destination.partition(":") for row in rows if row.kind == "text"]
        if not texts:
            return
        chats = sorted({(platform, chat) for platform, _, chat in texts})
        numbers = await store.clear_delivery_problem(session, chats)
        batch = Batch(session, f"reached:{min(row.id for row in rows)}", self.clock())
        for number in numbers:
            await self.changed(batch, number)

    # --- queries ------------------------------------------------------------------------------

    async def ticket(self, number: int) -> Ticket | None:
        async with self.sessions() as session:
            try:
                return await store.get(session, number)
            except TicketNotFound:
                return None

    async def report(self, period: Period) -> Report:
        """The desk's figures for ``period``, computed from the audit log."""
        async with self.sessions() as session:
            return await reports.report(session, period)

    async def open_tickets(self) -> list[Ticket]:
        async with self.sessions() as session:
            return await store.open_tickets(session)

    async def open_tickets_of(self, platform: str, user_id: str) -> list[Ticket]:
        """A requester's tickets that are open or wait for their confirmation, oldest first."""
        async with self.sessions() as session:
            return await store.open_for_requester(session, platform, user_id)

    async def card_at(self, platform: str, chat: str, message_id: str) -> tuple[int, str] | None:
        """(ticket, card role) of the card that is ``message_id`` in ``chat``, if it is one."""
        async with self.sessions() as session:
            link = await links.ticket_of(session, platform, chat, message_id)
        if link is None or not links.is_card(link.role):
            return None
        return link.ticket_id, link.role


def _file_payload(file: Attachment, platform: str) -> dict[str, str]:
    """A requester's file as a relay carries it: the sender fetches it from ``platform``."""
    return {"kind": file.kind, "file_id": file.file_id, "platform": platform, "name": file.name}


def actor_of(user: UserRef) -> str:
    """How a person is written in the audit log: ``platform:id:name``."""
    return f"{user.platform}:{user.id}:{user.name}"


def _author(user: UserRef) -> tuple[str, str, str]:
    return (user.platform, user.id, user.name)


def _taken_by(ticket: Ticket) -> str:
    return f"Ticket #{ticket.number} is already taken by {ticket.assignee_name}."


def _said(status: Status) -> str:
    return status.value.replace("_", " ")


def cannot_move(number: int, status: Status, action: Action) -> str:
    """A refused move as a sentence: 'Ticket #5 is closed, so you cannot claim it any more.'"""
    verb = action.value.replace("_", " ")
    if status in FINAL_STATUSES:
        return f"Ticket #{number} is {_said(status)}, so you cannot {verb} it any more."
    return f"Ticket #{number} is {_said(status)} right now, so you cannot {verb} it."
