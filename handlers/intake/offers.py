"""Offers made once the category and the description are known: an open major incident they
match, then the known solutions the caller found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.incidents import match
from handlers.intake.model import Found, Outcome, Search, State, Step
from handlers.intake.questions import ask, solution_buttons
from handlers.messages import Reply
from handlers.tickets import Ticket


def offer_solutions(outcome: Outcome, found: Found | None, config: DeskConfig) -> Outcome:
    """Ask for a search once category and description are known; offer what it found instead
    of the question the outcome asks next."""
    state = outcome.state
    if state is None or state.searched or state.step == Step.INCIDENT:
        return outcome
    if not (state.draft.category and state.draft.description):
        return outcome
    if found is None:
        return replace(outcome, search=Search(state.draft.description, state.draft.category))
    if not found.solutions or found.offer is None:
        return replace(outcome, state=replace(state, searched=True))
    question = ask(state, config)
    lead = outcome.replies[: len(outcome.replies) - len(question)]
    lang = state.language
    offering = replace(
        state,
        step=Step.SOLUTIONS,
        searched=True,
        editing=False,
        draft=replace(state.draft, offer=found.offer),
        offered=tuple((s.id, s.title_in(lang)) for s in found.solutions),
    )
    items = [
        f"{n}. {s.title_in(lang)}\n{s.answer_in(lang)}"
        for n, s in enumerate(found.solutions, start=1)
    ]
    text = "\n\n".join([t(lang, "solutions.offer"), *items])
    return Outcome(offering, (*lead, Reply(text, solution_buttons(offering))))


def may_offer(state: State) -> bool:
    """Whether the next input may complete the category and description, so that an open
    incident could be offered: only then does :func:`step` need the incidents."""
    unasked = not state.incident and not state.incident_answered
    return unasked and state.step in (Step.CATEGORY, Step.DESCRIPTION)


def offer_incident(outcome: Outcome, incidents: Sequence[Ticket], config: DeskConfig) -> Outcome:
    """The question about a matching open incident, instead of the next one."""
    state = outcome.state
    if not incidents or state is None or state.incident or state.incident_answered:
        return outcome
    if state.editing or not (state.draft.category and state.draft.description):
        return outcome
    found = match(state.draft.category, state.draft.description, incidents)
    if found is None:
        return outcome
    offered = replace(
        state,
        step=Step.INCIDENT,
        incident=found.number,
        incident_title=found.incident.incident_title,
    )
    return Outcome(offered, ask(offered, config))
