"""The intake conversation as a pure state machine: ``step(state, input) -> Outcome``.

No I/O and no clock: the caller loads the state, passes ``now``, stores the new state and sends
the replies. The same machine serves Telegram and Slack; only the renderers differ.

The conversation fills :class:`Draft` field by field. After each answer it asks for the first
field still missing, so a draft that starts with a description (the user just wrote what is
wrong) skips that question, and an edit from the summary comes straight back to the summary.

Known solutions: once the category and the description are known, the outcome carries a
:class:`Search` for the caller to run (the machine does no I/O). The caller steps again with the
same input and what it :class:`Found`; with matches the machine offers them ("Maybe this
helps:") before the next question. "This solved it" ends the conversation with nothing filed,
"No, register my request" goes on; either way :attr:`Outcome.answered` says what to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.intake.answers import answer, normalise_phone, valid_asset
from handlers.intake.model import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    EDITABLE,
    FIELD_MAX,
    MAX_ATTACHMENTS,
    NOT_SOLVED,
    PARAGRAPH,
    PREFIX,
    Answered,
    Draft,
    Found,
    Input,
    Outcome,
    Profile,
    Search,
    State,
    Step,
    choice,
)
from handlers.intake.offers import may_offer, offer_incident, offer_solutions
from handlers.intake.questions import as_few_messages, ask_next, summary_lines, touched
from handlers.messages import Attachment, Reply
from handlers.tickets import Ticket

__all__ = [
    "DESCRIPTION_MAX",
    "DESCRIPTION_MIN",
    "EDITABLE",
    "FIELD_MAX",
    "MAX_ATTACHMENTS",
    "NOT_SOLVED",
    "PARAGRAPH",
    "PREFIX",
    "Answered",
    "Draft",
    "Found",
    "Input",
    "Outcome",
    "Profile",
    "Search",
    "State",
    "Step",
    "choice",
    "expired",
    "may_offer",
    "normalise_phone",
    "start",
    "step",
    "summary_lines",
    "valid_asset",
]


def start(
    now: datetime,
    config: DeskConfig,
    language: str,
    platform_name: str,
    profile: Profile | None = None,
    description: str = "",
    file: Attachment | None = None,
) -> Outcome:
    """A new conversation; ``description`` (and ``file``) is what the user sent to start it.

    A starting text long enough to describe a problem is kept as the description; a short one
    ("hi") is not, and the description is asked for as usual."""
    text = description.strip()
    draft = Draft(
        description=text[:DESCRIPTION_MAX] if len(text) >= DESCRIPTION_MIN else "",
        attachments=(file,) if file else (),
    )
    description = draft.description
    state = State(
        step=Step.CATEGORY,
        draft=draft,
        language=language,
        updated_at=now,
        platform_name=platform_name,
        profile=profile or Profile(),
        last_text_at=now if description else None,
    )
    intro = Reply(t(language, "intake.intro"))
    return as_few_messages(ask_next(state, config, now, lead=(intro,)))


def expired(state: State, now: datetime, config: DeskConfig) -> bool:
    return now - state.updated_at > config.desk.intake_idle


def step(
    state: State,
    given: Input,
    now: datetime,
    config: DeskConfig,
    *,
    found: Found | None = None,
    incidents: Sequence[Ticket] = (),
) -> Outcome:
    """Advance the conversation by one user input. ``incidents`` are the open major incidents;
    once the category and description are known, one they match is offered first (see
    :func:`may_offer`: the caller need not load them otherwise), then known solutions.
    ``found``: what the :class:`Search` of this same step found, when the caller ran it."""
    offered = offer_incident(answer(state, given, now, config), incidents, config)
    return as_few_messages(offer_solutions(touched(offered, now), found, config))
