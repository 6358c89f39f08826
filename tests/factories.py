"""Small builders for tests: a desk on a real database, and tickets filed through it."""

from __future__ import annotations

from bot.standins.samples import DRAFT
from handlers.config import DeskConfig
from handlers.desk import Desk
from handlers.messages import UserRef
from handlers.outbound import Place, Places
from storage.db import SessionFactory
from tests.conftest import Clock

OPERATORS = "C0OPERATORS"
ALICE = UserRef("telegram", "1001", "Alice Brown", "en", "alice")


def make_desk(sessions: SessionFactory, clock: Clock, config: DeskConfig | None = None) -> Desk:
    return Desk(sessions, config or DeskConfig(), Places(Place("slack", OPERATORS)), clock)


async def file_ticket(desk: Desk, user: UserRef = ALICE, cause: str = "t1") -> int:
    """File a ticket for ``user`` the way a finished intake does; return its number."""
    ticket = await desk.requesters.file_ticket(user, user.id, DRAFT, cause)
    assert ticket.number is not None
    return ticket.number
