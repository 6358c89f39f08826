"""The ticket domain: every move of the transition table, and the priority matrix."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.tickets import (
    FINAL_STATUSES,
    TRANSITIONS,
    Action,
    Level,
    Priority,
    Requester,
    Status,
    Ticket,
    TransitionError,
    allowed_actions,
    next_status,
    priority_of,
)

ALLOWED = [
    (Status.NEW, Action.CLAIM, Status.CLAIMED),
    (Status.NEW, Action.ESCALATE, Status.ESCALATED),
    (Status.NEW, Action.RESOLVE, Status.RESOLVED),
    (Status.NEW, Action.REJECT, Status.REJECTED),
    (Status.NEW, Action.CANCEL, Status.CANCELLED),
    (Status.CLAIMED, Action.RELEASE, Status.NEW),
    (Status.CLAIMED, Action.ASK_USER, Status.WAITING),
    (Status.CLAIMED, Action.ESCALATE, Status.ESCALATED),
    (Status.CLAIMED, Action.RESOLVE, Status.RESOLVED),
    (Status.CLAIMED, Action.REJECT, Status.REJECTED),
    (Status.CLAIMED, Action.CANCEL, Status.CANCELLED),
    (Status.WAITING, Action.USER_REPLIED, Status.CLAIMED),
    (Status.WAITING, Action.ESCALATE, Status.ESCALATED),
    (Status.WAITING, Action.RESOLVE, Status.RESOLVED),
    (Status.WAITING, Action.REJECT, Status.REJECTED),
    (Status.WAITING, Action.CANCEL, Status.CANCELLED),
    (Status.ESCALATED, Action.ESCALATE, Status.ESCALATED),
    (Status.ESCALATED, Action.RETURN, Status.CLAIMED),
    (Status.ESCALATED, Action.RESOLVE, Status.RESOLVED),
    (Status.ESCALATED, Action.REJECT, Status.REJECTED),
    (Status.ESCALATED, Action.CANCEL, Status.CANCELLED),
    (Status.NEW, Action.LINK, Status.LINKED),
    (Status.CLAIMED, Action.LINK, Status.LINKED),
    (Status.WAITING, Action.LINK, Status.LINKED),
    (Status.ESCALATED, Action.LINK, Status.LINKED),
    (Status.LINKED, Action.UNLINK, Status.NEW),
    (Status.LINKED, Action.RESOLVE, Status.RESOLVED),
    (Status.LINKED, Action.CANCEL, Status.CANCELLED),
    (Status.RESOLVED, Action.UNLINK, Status.RESOLVED),
    (Status.RESOLVED, Action.CONFIRM, Status.CLOSED),
    (Status.RESOLVED, Action.AUTO_CLOSE, Status.CLOSED),
    (Status.RESOLVED, Action.REOPEN, Status.CLAIMED),
]
ALLOWED_PAIRS = {(before, action) for before, action, _ in ALLOWED}
DISALLOWED = [
    (status, action)
    for status in Status
    for action in Action
    if (status, action) not in ALLOWED_PAIRS
]


def test_the_table_is_exactly_the_documented_moves() -> None:
    assert {(b, a): after for b, a, after in ALLOWED} == TRANSITIONS


@pytest.mark.parametrize(("before", "action", "after"), ALLOWED)
def test_allowed_move(before: Status, action: Action, after: Status) -> None:
    assert next_status(before, action) is after
    assert action in allowed_actions(before)


@pytest.mark.parametrize(("before", "action"), DISALLOWED)
def test_disallowed_move_raises_a_clear_error(before: Status, action: Action) -> None:
    with pytest.raises(TransitionError) as error:
        next_status(before, action)
    assert before.value in str(error.value)
    assert action.value.replace("_", " ") in str(error.value)


def test_final_statuses_allow_nothing() -> None:
    for status in FINAL_STATUSES:
        assert allowed_actions(status) == frozenset()


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        (Level.HIGH, Level.HIGH, Priority.P1),
        (Level.HIGH, Level.MEDIUM, Priority.P2),
        (Level.HIGH, Level.LOW, Priority.P3),
        (Level.MEDIUM, Level.HIGH, Priority.P2),
        (Level.MEDIUM, Level.MEDIUM, Priority.P3),
        (Level.MEDIUM, Level.LOW, Priority.P4),
        (Level.LOW, Level.HIGH, Priority.P3),
        (Level.LOW, Level.MEDIUM, Priority.P4),
        (Level.LOW, Level.LOW, Priority.P4),
    ],
)
def test_priority_matrix(impact: Level, urgency: Level, priority: Priority) -> None:
    assert priority_of(impact, urgency) is priority


def test_a_tickets_priority_comes_from_its_impact_and_urgency() -> None:
    now = datetime(2026, 1, 5, 10, tzinfo=UTC)
    ticket = Ticket(
        requester=Requester("telegram", "42", "Olena"),
        category="printers",
        description="Printer jams on every page",
        location="Office 3",
        phone="+380671234567",
        urgency=Level.HIGH,
        impact=Level.LOW,
        created_at=now,
        number=7,
    )
    assert ticket.priority is Priority.P3
