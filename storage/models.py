"""SQLAlchemy models: the tables behind tickets, their history, users, conversations and delivery.

Timestamps are stored and returned as timezone-aware UTC on every backend (SQLite hands back
naive datetimes, :class:`UTCDateTime` puts the zone back).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime column that only accepts aware values and always returns UTC-aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    requester_platform: Mapped[str] = mapped_column(String(16))
    requester_id: Mapped[str] = mapped_column(String(64))
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_contact: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(100), default="")
    urgency: Mapped[str] = mapped_column(String(8))
    impact: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    assignee_name: Mapped[str | None] = mapped_column(String(200))
    line: Mapped[str | None] = mapped_column(String(64))
    specialist_id: Mapped[str | None] = mapped_column(String(64))
    specialist_name: Mapped[str | None] = mapped_column(String(200))
    delivery_problem: Mapped[str] = mapped_column(String(200), default="")
    csat_rating: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The major incident this ticket is linked to. No foreign key: adding one on SQLite means
    # rebuilding ``tickets``, which (foreign keys on) would cascade into every child table.
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    major: Mapped[bool] = mapped_column(default=False, server_default=false())
    # What requesters are shown about a major incident (the operator writes it when declaring
    # it): never the description, which is one requester's words.
    incident_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_tickets_requester", "requester_platform", "requester_id", "status"),
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_parent", "parent_id"),
        Index("ix_tickets_major_category", "major", "category", "status"),
    )


class TicketEventRow(Base):
    """The audit log: every move of every ticket, append-only."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    before: Mapped[str | None] = mapped_column(String(20))
    after: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_ticket_events_ticket", "ticket_id", "id"),
        Index("ix_ticket_events_action_at", "action", "at"),
    )


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_attachments_ticket", "ticket_id"),)


class TicketMessageRow(Base):
    """Everything said about a ticket after it was filed, both ways, internal notes included."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_platform: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(16))  # from_user | to_user | internal
    text: Mapped[str] = mapped_column(Text)
    source_ref: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime]

    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "id"),)


class UserRow(Base):
    """A requester's remembered profile, offered back on their next ticket."""

    __tablename__ = "users"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    chat_id: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime]


class ConversationRow(Base):
    """An intake conversation in progress, one per user."""

    __tablename__ = "conversations"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class MessageLinkRow(Base):
    """Which platform message belongs to which ticket (cards, their threads, user chats)."""

    __tablename__ = "message_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    chat: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("ticket_id", "role", name="uq_message_links_ticket_role"),
        Index("ix_message_links_message", "platform", "chat", "message_id"),
    )


class OutboxRow(Base):
    """A message to a platform, written in the transaction that caused it, sent by a worker."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None]

    __table_args__ = (
        Index("ix_outbox_pending", "state", "not_before"),
        Index("ix_outbox_destination", "destination", "id"),
    )


class ProcessedUpdateRow(Base):
    """Inbound de-duplication: an update, event or click key seen once."""

    __tablename__ = "processed_updates"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime]


class SlaClockRow(Base):
    """One SLA clock of a ticket (respond or resolve); see escalation/sla.py."""

    __tablename__ = "sla_clocks"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_seconds: Mapped[int] = mapped_column(Integer)
    consumed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    running_since: Mapped[datetime | None]
    stopped: Mapped[bool] = mapped_column(default=False)
    reminder_at: Mapped[datetime | None]
    breach_at: Mapped[datetime | None]
    reminded: Mapped[bool] = mapped_column(default=False)
    breached: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_sla_clocks_reminder", "reminded", "reminder_at"),
        Index("ix_sla_clocks_breach", "breached", "breach_at"),
    )


class LeaseRow(Base):
    """A named lease held by one process until ``expires_at`` (e.g. who polls Telegram), for
    deployments without Redis; see storage/leases.py."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


class SolutionRow(Base):
    """A known solution, from the desk config (``key`` = its id) or saved by an operator
    (``key`` NULL). Its words are searched through an index kept per backend: the FTS5 table
    ``solutions_fts`` on SQLite, an expression GIN index on PostgreSQL (storage/solutions.py)."""

    __tablename__ = "solutions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    keywords: Mapped[str] = mapped_column(Text, default="")  # one per line
    title: Mapped[dict[str, Any]]  # language -> text
    answer: Mapped[dict[str, Any]]
    link: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)  # saved from this ticket
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SolutionCategoryRow(Base):
    """A category a solution is offered in."""

    __tablename__ = "solution_categories"

    solution_id: Mapped[int] = mapped_column(
        ForeignKey("solutions.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_solution_categories_category", "category", "solution_id"),)


class SavedReplyRow(Base):
    """An everyday phrase for operators, from the desk config (``key``) or saved by one."""

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[dict[str, Any]]
    text: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IntakeStartRow(Base):
    """An intake conversation that began: what deflection is a share of."""

    __tablename__ = "intake_starts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_intake_starts_at", "at"),)


class SolutionOfferRow(Base):
    """Solutions offered to a requester during intake, and what they answered: ``solved``
    (``solution_id`` is the one that helped; no ticket is filed) or ``rejected`` (``ticket_id``
    is the ticket filed next). ``open`` until they answer."""

    __tablename__ = "solution_offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    requester_platform: Mapped[str] = mapped_column(String(16))
    requester_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    offered_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16), default="open")
    solution_id: Mapped[int | None] = mapped_column(ForeignKey("solutions.id"))
    decided_at: Mapped[datetime | None]
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_solution_offers_decided", "outcome", "decided_at"),
        Index("ix_solution_offers_ticket", "ticket_id"),
    )


class SolutionOfferItemRow(Base):
    """One solution shown in an offer, in the order shown."""

    __tablename__ = "solution_offer_items"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("solution_offers.id", ondelete="CASCADE"), primary_key=True
    )
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class BroadcastRow(Base):
    """An update an operator sent to everybody a major incident affects."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_broadcasts_ticket", "ticket_id", "id"),)


class BroadcastRecipientRow(Base):
    """One requester a broadcast goes to, and whether it reached them (``pending``,
    ``delivered``, ``failed`` with the platform's reason)."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str] = mapped_column(String(200), default="")
