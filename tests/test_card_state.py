"""What a card takes from a ticket's audit log: the last move sets its headline, and the rows
that are not moves (handlers.tickets.Event) never take that place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.card_state import history_of
from handlers.tickets import Action, Event
from storage.models import TicketEventRow

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def row(action: str, note: str = "") -> TicketEventRow:
    return TicketEventRow(action=action, actor="x", at=AT, before=None, after="", note=note)


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("move", [Action.CONFIRM, Action.AUTO_CLOSE, Action.REOPEN])
def test_an_event_after_a_move_leaves_the_last_move(move: Action, event: Event) -> None:
    log = [row(Action.OPEN), row(Action.RESOLVE, "Cleaned the rollers"), row(move), row(event)]
    history = history_of(log)
    assert (history.last_action, history.note) == (move, "Cleaned the rollers")


def test_a_row_no_version_knows_is_not_a_move() -> None:
    assert history_of([row(Action.OPEN), row(Action.CLAIM), row("merge")]).last_action == "claim"
