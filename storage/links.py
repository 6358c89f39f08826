"""Which platform message belongs to which ticket: cards and their threads, user chats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MessageLinkRow

OPERATOR_CARD = "operator_card"
SPECIALIST_CARD = "specialist_card"  # one per support line: "specialist_card:<line id>"


def specialist_card(line: str) -> str:
    return f"{SPECIALIST_CARD}:{line}"


def line_of(role: str) -> str:
    """The support line of a specialist card's role ("" for the operators' card)."""
    return role.partition(":")[2] if role.startswith(f"{SPECIALIST_CARD}:") else ""


def is_card(role: str) -> bool:
    return role == OPERATOR_CARD or role.startswith(f"{SPECIALIST_CARD}:")


async def get(session: AsyncSession, ticket_id: int, role: str) -> MessageLinkRow | None:
    stmt = select(MessageLinkRow).where(
        MessageLinkRow.ticket_id == ticket_id, MessageLinkRow.role == role
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def put(
    session: AsyncSession,
    ticket_id: int,
    role: str,
    platform: str,
    chat: str,
    message_id: str,
    now: datetime,
) -> None:
    link = await get(session, ticket_id, role)
    if link is None:
        session.add(
            MessageLinkRow(
                ticket_id=ticket_id,
                role=role,
                platform=platform,
                chat=chat,
                message_id=message_id,
                created_at=now,
            )
        )
        return
    link.platform, link.chat, link.message_id = platform, chat, message_id


async def ticket_of(
    session: AsyncSession, platform: str, chat: str, message_id: str
) -> MessageLinkRow | None:
    """The link whose message is ``message_id`` in ``chat`` (e.g. a card a thread hangs off)."""
    stmt = select(MessageLinkRow).where(
        MessageLinkRow.platform == platform,
        MessageLinkRow.chat == chat,
        MessageLinkRow.message_id == message_id,
    )
    return (await session.execute(stmt)).scalars().first()


async def specialist_cards(session: AsyncSession, ticket_id: int) -> list[MessageLinkRow]:
    """Every specialist card a ticket has had (one per line it was escalated to)."""
    return list((await session.execute(_SPECIALIST_CARDS, {"ticket_id": ticket_id})).scalars())


async def card_in_thread(
    session: AsyncSession, platform: str, chat: str, thread: str
) -> MessageLinkRow | None:
    """The card whose thread is ``thread`` in ``chat``, for platforms whose card links are
    written ``<thread>/<card message>`` (a card in its own topic)."""
    stmt = select(MessageLinkRow).where(
        MessageLinkRow.platform == platform,
        MessageLinkRow.chat == chat,
        MessageLinkRow.message_id.startswith(f"{thread}/", autoescape=True),
    )
    return (await session.execute(stmt)).scalars().first()


# Asked on every change of a ticket: built once.
_SPECIALIST_CARDS = (
    select(MessageLinkRow)
    .where(
        MessageLinkRow.ticket_id == bindparam("ticket_id"),
        MessageLinkRow.role.startswith(f"{SPECIALIST_CARD}:"),
    )
    .order_by(MessageLinkRow.id)
)
