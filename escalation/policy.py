"""Which SLA clocks run for a ticket in a given state, and whom a breach pings.

Clocks are derived from the ticket, not driven by each use case: after any change the desk asks
``follow`` what the clocks should be now, so a new transition cannot forget a clock.
"""

from __future__ import annotations

from datetime import datetime

from escalation import sla
from escalation.sla import Kind, SlaClock
from handlers.config import DeskConfig, SupportLine
from handlers.tickets import FINAL_STATUSES, Priority, Status

# The resolution clock runs while somebody owes the user work; it pauses while the ticket waits
# on the user or on their confirmation, and stops for good when the ticket is final.
_RESOLVE_RUNS = frozenset({Status.NEW, Status.CLAIMED, Status.ESCALATED})
# A ticket linked to an incident is answered through its parent: neither of its clocks runs
# (both resume where they were if it is unlinked).
_HELD = frozenset({Status.LINKED})


def follow(
    clocks: dict[Kind, SlaClock],
    status: Status,
    priority: Priority,
    responded: bool,
    now: datetime,
    config: DeskConfig,
) -> dict[Kind, SlaClock]:
    """The clocks as they should be for a ticket that is ``status`` with ``priority``."""
    hours, share = config.business_hours, config.desk.reminder_share
    target = config.sla[priority]
    wanted = {Kind.RESPOND: target.respond, Kind.RESOLVE: target.resolve}
    result = {}
    for kind, goal in wanted.items():
        clock = clocks.get(kind)
        if clock is None:
            clock = sla.start(kind, goal, now, hours, share)
        elif clock.target != goal:
            clock = sla.retarget(clock, goal, now, hours, share)
        if status in FINAL_STATUSES or (kind is Kind.RESPOND and responded):
            clock = sla.stop(clock, now, hours)
        elif status not in _HELD and (kind is Kind.RESPOND or status in _RESOLVE_RUNS):
            clock = sla.resume(clock, now, hours, share)
        else:
            clock = sla.pause(clock, now, hours)
        result[kind] = clock
    return result


def breach_pings(line: SupportLine | None, config: DeskConfig) -> list[str]:
    """Whom a breach calls (as configured: user or group ids): the line's on-call group, else
    the supervisor."""
    targets = list(line.ping) if line and line.ping else []
    if not targets and config.desk.supervisor:
        targets = [config.desk.supervisor]
    return targets
