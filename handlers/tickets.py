"""The ticket domain: statuses, the one table of allowed moves, and the priority matrix.

Pure: no I/O, no clocks. Callers pass ``now`` in, storage persists what comes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    WAITING = "waiting_on_user"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Action(StrEnum):
    OPEN = "open"  # recorded when a ticket is created; not a move, so not in TRANSITIONS
    CLAIM = "claim"
    RELEASE = "release"
    ASK_USER = "ask_user"
    USER_REPLIED = "user_replied"
    ESCALATE = "escalate"
    RETURN = "return_to_first_line"
    RESOLVE = "resolve"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    AUTO_CLOSE = "auto_close"
    REJECT = "reject"
    CANCEL = "cancel"


class Event(StrEnum):
    """What the audit log records besides the moves above; reports count these by name."""

    TAKE = "take"  # a specialist takes an escalated ticket
    RESPOND = "respond"  # the first operator message to the requester
    CSAT_RATING = "csat_rating"
    CSAT_COMMENT = "csat_comment"
    SLA_REMINDER = "sla_reminder"
    SLA_BREACH = "sla_breach"


AUDIT_ACTIONS = frozenset({*Action, *Event})  # every name a ticket_events row may carry


class Level(StrEnum):
    """Used for both urgency (how much the user is blocked) and impact (how many are affected)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


OPEN_STATUSES = frozenset({Status.NEW, Status.CLAIMED, Status.WAITING, Status.ESCALATED})
FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.CANCELLED})

# Every allowed move, and nothing else. (status before, action) -> status after.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.NEW, Action.CLAIM): Status.CLAIMED,
    (Status.NEW, Action.ESCALATE): Status.ESCALATED,
    (Status.NEW, Action.RESOLVE): Status.RESOLVED,
    (Status.NEW, Action.REJECT): Status.REJECTED,
    (Status.NEW, Action.CANCEL): Status.CANCELLED,
    (Status.CLAIMED, Action.RELEASE): Status.NEW,
    (Status.CLAIMED, Action.ASK_USER): Status.WAITING,
    (Status.CLAIMED, Action.ESCALATE): Status.ESCALATED,
    (Status.CLAIMED, Action.RESOLVE): Status.RESOLVED,
    (Status.CLAIMED, Action.REJECT): Status.REJECTED,
    (Status.CLAIMED, Action.CANCEL): Status.CANCELLED,
    (Status.WAITING, Action.USER_REPLIED): Status.CLAIMED,
    (Status.WAITING, Action.ESCALATE): Status.ESCALATED,
    (Status.WAITING, Action.RESOLVE): Status.RESOLVED,
    (Status.WAITING, Action.REJECT): Status.REJECTED,
    (Status.WAITING, Action.CANCEL): Status.CANCELLED,
    (Status.ESCALATED, Action.ESCALATE): Status.ESCALATED,
    (Status.ESCALATED, Action.RETURN): Status.CLAIMED,
    (Status.ESCALATED, Action.RESOLVE): Status.RESOLVED,
    (Status.ESCALATED, Action.REJECT): Status.REJECTED,
    (Status.ESCALATED, Action.CANCEL): Status.CANCELLED,
    (Status.RESOLVED, Action.CONFIRM): Status.CLOSED,
    (Status.RESOLVED, Action.AUTO_CLOSE): Status.CLOSED,
    (Status.RESOLVED, Action.REOPEN): Status.CLAIMED,
}

_LEVEL_RANK = {Level.HIGH: 0, Level.MEDIUM: 1, Level.LOW: 2}
# rank(impact) + rank(urgency) -> priority: high/high is P1, low/low is P4.
_PRIORITY_BY_SCORE = (Priority.P1, Priority.P2, Priority.P3, Priority.P4, Priority.P4)


class TransitionError(ValueError):
    """A move the transition table does not allow."""

    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"cannot {action.value.replace('_', ' ')} a ticket that is {status.value}")
        self.status = status
        self.action = action


def next_status(status: Status, action: Action) -> Status:
    """The status after ``action``, or TransitionError if the table does not allow it."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise TransitionError(status, action) from None


def allowed_actions(status: Status) -> frozenset[Action]:
    return frozenset(action for (before, action) in TRANSITIONS if before == status)


def priority_of(impact: Level, urgency: Level) -> Priority:
    """The impact x urgency matrix.

    ============  ====  ======  ===
    impact\\urg    high  medium  low
    ============  ====  ======  ===
    high          P1    P2      P3
    medium        P2    P3      P4
    low           P3    P4      P4
    ============  ====  ======  ===
    """
    return _PRIORITY_BY_SCORE[_LEVEL_RANK[impact] + _LEVEL_RANK[urgency]]


@dataclass(frozen=True)
class Requester:
    platform: str
    user_id: str
    name: str
    contact: str = ""


@dataclass(frozen=True)
class Ticket:
    """A ticket as the core sees it. ``number`` is None until storage assigns one."""

    requester: Requester
    category: str
    description: str
    location: str
    phone: str
    urgency: Level
    impact: Level
    created_at: datetime
    number: int | None = None
    asset: str = ""
    status: Status = Status.NEW
    assignee: str | None = None
    assignee_name: str | None = None
    line: str | None = None
    specialist: str | None = None
    specialist_name: str | None = None
    language: str = "en"
    attachments: tuple[str, ...] = field(default=())
    updated_at: datetime | None = None
    delivery_problem: str = ""
    first_response_at: datetime | None = None
    csat_rating: int | None = None
    csat_comment: str = ""
    version: int = 0  # storage's optimistic-concurrency token: a move applies to this version

    @property
    def priority(self) -> Priority:
        return priority_of(self.impact, self.urgency)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
