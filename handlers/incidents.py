"""Major incidents: many requests about one outage linked to one parent ticket.

Pure: which links are allowed, which open incident a new request is probably about, and how a
broadcast's delivery reads. Storage keeps the links (``tickets.parent_id``, ``tickets.major``)
and the broadcasts (``storage/incidents.py``); the moves themselves (link, unlink, resolve) are
rows of the one transition table in ``handlers/tickets.py``.

Matching is deliberately simple, so an operator can tell why a request was offered an incident:
same category, and enough of the request's words also in the incident's description. Words are
compared by their first :data:`STEM` letters ("printer", "printers" and "printing" are one word;
so are "мережа" and "мережі"), short and common words do not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from handlers.tickets import Status, Ticket

STEM = 5  # letters a word is compared by
MIN_SHARED = 2  # a match needs at least this many of the request's words in the incident's
MIN_SHARE = 0.3  # ... making up at least this share of the request's words
TITLE_LENGTH = 60
SUGGEST_WITHIN = timedelta(hours=4)  # "Link to…" suggests the category's tickets this recent

_WORD = re.compile(r"[^\W\d_]{3,}")
_COMMON_WORDS = """the and for not but with this that have has had are was were can cannot does
don doesn did our your you all any from into out now again still just there here what when work
works working worked please help problem issue today since some very also after ще так але для
щоб теж вже мене мені нас наш наша наше немає тому коли дуже через працює працюють проблема
допоможіть будь ласка сьогодні знову"""
_COMMON = frozenset(_COMMON_WORDS.split())
# Statuses a ticket can be linked to (its parent must still be worked on).
_PARENT_STATUSES = frozenset({Status.NEW, Status.CLAIMED, Status.WAITING, Status.ESCALATED})


def words(text: str) -> frozenset[str]:
    """The words of ``text`` that matching compares: lower-cased, not common, cut to a stem."""
    found = (w for w in _WORD.findall(text.lower()) if w not in _COMMON)
    return frozenset(w[:STEM] for w in found)


@dataclass(frozen=True)
class Match:
    """An open incident a new request is probably about, and why."""

    incident: Ticket
    shared: tuple[str, ...]  # the stems both descriptions have
    share: float  # of the request's words

    @property
    def number(self) -> int:
        assert self.incident.number is not None
        return self.incident.number


def match(category: str, description: str, incidents: Iterable[Ticket]) -> Match | None:
    """The open incident of ``category`` whose description shares the most of ``description``'s
    words (at least :data:`MIN_SHARED` and :data:`MIN_SHARE` of them); the older incident wins a
    tie. None when no incident matches well enough."""
    asked = words(description)
    if not asked:
        return None
    best: Match | None = None
    for incident in sorted(incidents, key=lambda i: i.number or 0):
        if incident.category != category or incident.status not in _PARENT_STATUSES:
            continue
        shared = asked & words(incident.description)
        share = len(shared) / len(asked)
        if len(shared) < MIN_SHARED or share < MIN_SHARE:
            continue
        if best is None or share > best.share:
            best = Match(incident, tuple(sorted(shared)), share)
    return best


def link_refusal(child: Ticket, parent: Ticket, child_has_children: bool) -> str | None:
    """Why ``child`` cannot be linked to ``parent``, or None. Whether the child's own status
    allows the move is the transition table's business."""
    if child.number == parent.number:
        return f"Ticket #{child.number} cannot be linked to itself."
    if parent.parent is not None:
        return (
            f"Ticket #{parent.number} is itself linked to #{parent.parent}; "
            f"link to #{parent.parent} instead."
        )
    if parent.status not in _PARENT_STATUSES:
        said = parent.status.value.replace("_", " ")
        return f"Ticket #{parent.number} is {said}; link to an open one."
    if child_has_children:
        return f"Ticket #{child.number} has tickets linked to it; it cannot become a child itself."
    if child.parent == parent.number:
        return f"Ticket #{child.number} is already linked to #{parent.number}."
    return None


def title(description: str) -> str:
    """An incident's short name: the first line of its description, cut to a readable length."""
    first = description.strip().splitlines()[0] if description.strip() else ""
    return first if len(first) <= TITLE_LENGTH else first[: TITLE_LENGTH - 1].rstrip() + "…"


@dataclass(frozen=True)
class Recipient:
    """Somebody a broadcast goes to: a requester of the incident or of one of its children."""

    platform: str
    chat: str
    language: str
    ticket: int  # the ticket of theirs the broadcast is filed under


def recipients(tickets: Sequence[Ticket]) -> list[Recipient]:
    """One recipient per requester (a person with two linked tickets hears the news once), in
    ticket order."""
    seen: dict[tuple[str, str], Recipient] = {}
    for ticket in sorted(tickets, key=lambda t: t.number or 0):
        key = (ticket.requester.platform, ticket.requester.user_id)
        if key not in seen and ticket.number is not None:
            seen[key] = Recipient(key[0], key[1], ticket.language, ticket.number)
    return list(seen.values())


@dataclass(frozen=True)
class Tally:
    """How the latest broadcast of an incident went, as its card shows it."""

    recipients: int
    delivered: int
    failures: tuple[tuple[str, tuple[int, ...]], ...] = ()  # reason, the tickets not reached

    @property
    def failed(self) -> int:
        return sum(len(tickets) for _, tickets in self.failures)

    @property
    def pending(self) -> int:
        return self.recipients - self.delivered - self.failed

    def text(self) -> str:
        """'41 of 42 delivered, 1 not reached: user blocked the bot (#17)'."""
        parts = [f"{self.delivered} of {self.recipients} delivered"]
        if self.pending:
            parts.append(f"{self.pending} on the way")
        for reason, tickets in self.failures:
            numbers = ", ".join(f"#{n}" for n in tickets)
            parts.append(f"{len(tickets)} not reached: {reason} ({numbers})")
        return ", ".join(parts)


def tally(recipients: int, delivered: int, failed: Iterable[tuple[str, int]]) -> Tally:
    """A :class:`Tally` from the number of recipients and of deliveries, and (reason, ticket)
    of every recipient who could not be reached; the commonest reason first."""
    by_reason: dict[str, list[int]] = {}
    for reason, ticket in failed:
        by_reason.setdefault(reason, []).append(ticket)
    failures = sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return Tally(recipients, delivered, tuple((r, tuple(sorted(t))) for r, t in failures))
