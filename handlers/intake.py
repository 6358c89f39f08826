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

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from handlers.config import DeskConfig
from handlers.i18n import t
from handlers.incidents import match
from handlers.messages import Attachment, Button, Reply
from handlers.solutions import KnownSolution
from handlers.text import clean
from handlers.tickets import Level, Ticket

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 3000
FIELD_MAX = 200
ASSET_MAX = 45  # the longest IPv6 address: ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255
MAX_ATTACHMENTS = 10
_PHONE_ALLOWED = re.compile(r"^\+?[0-9\s\-().]+$")
_INVENTORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.#]{2,39}$")
_URGENCIES = (Level.HIGH, Level.MEDIUM, Level.LOW)
NOT_SOLVED = "no"


class Step(StrEnum):
    CATEGORY = "category"
    DESCRIPTION = "description"
    INCIDENT = "incident"  # "is this about <the open incident>?", asked only when one matches
    PROFILE = "profile"
    LOCATION = "location"
    NAME = "name"
    PHONE = "phone"
    ASSET = "asset"
    FILES = "files"
    URGENCY = "urgency"
    SOLUTIONS = "solutions"
    SUMMARY = "summary"
    EDIT = "edit"


# The order questions are asked in; PROFILE only for users we remember.
_ORDER = (
    Step.CATEGORY,
    Step.DESCRIPTION,
    Step.INCIDENT,
    Step.PROFILE,
    Step.LOCATION,
    Step.NAME,
    Step.PHONE,
    Step.ASSET,
    Step.FILES,
    Step.URGENCY,
)
EDITABLE = (
    Step.CATEGORY,
    Step.DESCRIPTION,
    Step.LOCATION,
    Step.NAME,
    Step.PHONE,
    Step.ASSET,
    Step.FILES,
    Step.URGENCY,
)


@dataclass(frozen=True)
class Profile:
    """What we remember of a user from their last ticket."""

    name: str = ""
    phone: str = ""
    location: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.name and self.phone and self.location)


@dataclass(frozen=True)
class Draft:
    category: str = ""
    description: str = ""
    location: str = ""
    name: str = ""
    phone: str = ""
    asset: str = ""
    asset_done: bool = False
    files_done: bool = False
    attachments: tuple[Attachment, ...] = ()
    urgency: str = ""
    offer: int | None = None  # the solutions offered before filing (storage's offer id)


@dataclass(frozen=True)
class State:
    step: Step
    draft: Draft
    language: str
    updated_at: datetime
    platform_name: str = ""
    profile: Profile = field(default_factory=Profile)
    profile_answered: bool = False
    editing: bool = False
    last_text_at: datetime | None = None
    searched: bool = False  # known solutions were looked for (and offered, if any matched)
    offered: tuple[tuple[int, str], ...] = ()  # (solution id, title) on offer
    incident: int = 0  # the open incident offered to the user, 0 for none
    incident_title: str = ""
    incident_answered: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data; ``asdict`` by hand, as it runs on every step and asdict deep-copies
        every value."""
        draft = self.draft
        return dict(
            vars(self),
            draft=dict(vars(draft), attachments=[dict(vars(a)) for a in draft.attachments]),
            profile=dict(vars(self.profile)),
            offered=[list(pair) for pair in self.offered],
            updated_at=self.updated_at.isoformat(),
            last_text_at=self.last_text_at.isoformat() if self.last_text_at else None,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        draft = dict(data["draft"])
        draft["attachments"] = tuple(Attachment(**a) for a in draft.get("attachments", ()))
        return cls(
            step=Step(data["step"]),
            draft=Draft(**draft),
            language=data["language"],
            updated_at=datetime.fromisoformat(data["updated_at"]),
            platform_name=data.get("platform_name", ""),
            profile=Profile(**data.get("profile", {})),
            profile_answered=data.get("profile_answered", False),
            editing=data.get("editing", False),
            incident=data.get("incident", 0),
            incident_title=data.get("incident_title", ""),
            incident_answered=data.get("incident_answered", False),
            last_text_at=(
                datetime.fromisoformat(data["last_text_at"]) if data.get("last_text_at") else None
            ),
            searched=data.get("searched", False),
            offered=tuple((int(sid), str(title)) for sid, title in data.get("offered", ())),
        )


@dataclass(frozen=True)
class Input:
    """What the user did: typed ``text``, pressed a button (``choice``), shared ``phone``, sent
    a ``file``. Platform adapters build these from their updates; every text in it is cleaned
    (handlers/text.py) as it is made."""

    text: str = ""
    choice: str = ""
    phone: str = ""
    contact_name: str = ""
    file: Attachment | None = None

    def __post_init__(self) -> None:
        for name in ("text", "choice", "phone", "contact_name"):
            object.__setattr__(self, name, clean(getattr(self, name)))
        if self.file is not None:
            object.__setattr__(self, "file", replace(self.file, name=clean(self.file.name)))


@dataclass(frozen=True)
class Search:
    """Known solutions to look for: the caller runs it and steps again with :class:`Found`."""

    description: str
    category: str


@dataclass(frozen=True)
class Found:
    """The known solutions a :class:`Search` found (best first), and the id the caller recorded
    their offer under (None when nothing was found)."""

    solutions: tuple[KnownSolution, ...] = ()
    offer: int | None = None


@dataclass(frozen=True)
class Answered:
    """The requester's answer to an offer: ``solved_by`` the solution that helped, or None for
    "No, register my request"."""

    offer: int
    solved_by: int | None


@dataclass(frozen=True)
class Outcome:
    """``state`` None means the conversation is over: submitted (``submit``), cancelled, or
    solved by a known solution (``answered``). ``join``: the submitted draft belongs to that open
    incident (the user said "yes, add me"; fields not asked yet come from their profile)."""

    state: State | None
    replies: tuple[Reply, ...] = ()
    submit: Draft | None = None
    cancelled: bool = False
    search: Search | None = None
    answered: Answered | None = None
    join: int = 0


# Between the texts of one step joined into one message.
PARAGRAPH = "\n\n"

# Callback data of intake buttons: "i:<step>:<value>" (Telegram allows 64 bytes).
PREFIX = "i:"


def choice(step: Step | str, value: str) -> str:
    return f"{PREFIX}{step}:{value}"


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
    return _as_few_messages(_ask_next(state, config, now, lead=(intro,)))


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
    offered = _offer(_step(state, given, now, config), incidents, config)
    return _as_few_messages(_offering(_touched(offered, now), found, config))


def _offering(outcome: Outcome, found: Found | None, config: DeskConfig) -> Outcome:
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
    question = _ask(state, config)
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
    return Outcome(offering, (*lead, Reply(text, _solution_buttons(offering))))


def _solution_buttons(state: State) -> tuple[tuple[Button, ...], ...]:
    lang, offered = state.language, state.offered
    solved = [
        Button(
            t(lang, "btn.solved") if len(offered) == 1 else t(lang, "btn.solved_n", n=n),
            choice(Step.SOLUTIONS, str(sid)),
            "primary",
        )
        for n, (sid, _title) in enumerate(offered, start=1)
    ]
    no = Button(t(lang, "btn.not_solved"), choice(Step.SOLUTIONS, NOT_SOLVED))
    return (*((b,) for b in solved), (no,))


def may_offer(state: State) -> bool:
    """Whether the next input may complete the category and description, so that an open
    incident could be offered: only then does :func:`step` need the incidents."""
    unasked = not state.incident and not state.incident_answered
    return unasked and state.step in (Step.CATEGORY, Step.DESCRIPTION)


def _offer(outcome: Outcome, incidents: Sequence[Ticket], config: DeskConfig) -> Outcome:
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
    return Outcome(offered, _ask(offered, config))


def _joined(state: State) -> Outcome:
    """ "Yes, add me": the draft so far goes to the incident; what was not asked yet comes from
    the remembered profile (or the platform name), urgency medium."""
    d, p = state.draft, state.profile
    draft = replace(
        d,
        name=d.name or p.name or state.platform_name[:100],
        phone=d.phone or p.phone,
        location=d.location or p.location,
        urgency=d.urgency or Level.MEDIUM.value,
    )
    return Outcome(None, submit=draft, join=state.incident)


def _step(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    if given.choice.startswith(PREFIX):
        field_name, _, value = given.choice[len(PREFIX) :].partition(":")
        return _on_choice(state, field_name, value, now, config)
    if _is_burst_of_description(state, given, now, config):
        merged = f"{state.draft.description}\n{given.text.strip()}"[:DESCRIPTION_MAX]
        return Outcome(
            replace(state, draft=replace(state.draft, description=merged), last_text_at=now)
        )
    caption_first = given.file and given.text.strip() and not state.draft.description
    if caption_first and state.step == Step.CATEGORY:
        return _on_description(state, given, now, config)
    if given.file and state.step != Step.DESCRIPTION:
        return _add_file(state, given.file, now, config)
    handler = _TEXT_HANDLERS.get(state.step)
    if handler is None:
        return _reask(state, config, "intake.use_buttons")
    return handler(state, given, now, config)


# --- asking -----------------------------------------------------------------------------------


def _missing(state: State) -> Step | None:
    d = state.draft
    filled = {
        Step.CATEGORY: bool(d.category),
        Step.DESCRIPTION: bool(d.description),
        Step.INCIDENT: not state.incident or state.incident_answered,
        Step.PROFILE: state.profile_answered or not state.profile.complete,
        Step.LOCATION: bool(d.location),
        Step.NAME: bool(d.name),
        Step.PHONE: bool(d.phone),
        Step.ASSET: d.asset_done,
        Step.FILES: d.files_done,
        Step.URGENCY: bool(d.urgency),
    }
    return next((s for s in _ORDER if not filled[s]), None)


def _ask_next(
    state: State, config: DeskConfig, now: datetime, lead: tuple[Reply, ...] = ()
) -> Outcome:
    following = Step.SUMMARY if state.editing else (_missing(state) or Step.SUMMARY)
    moved = replace(state, step=following, editing=False, updated_at=now)
    return Outcome(moved, (*lead, *_ask(moved, config)))


def _ask(state: State, config: DeskConfig) -> tuple[Reply, ...]:
    lang = state.language
    match state.step:
        case Step.CATEGORY:
            rows = tuple(
                (Button(c.label(lang), choice(Step.CATEGORY, c.id)),) for c in config.categories
            )
            return (Reply(t(lang, "ask.category"), rows),)
        case Step.DESCRIPTION:
            return (Reply(t(lang, "ask.description")),)
        case Step.INCIDENT:
            buttons = (
                (
                    Button(t(lang, "btn.incident_yes"), choice(Step.INCIDENT, "yes"), "primary"),
                    Button(t(lang, "btn.incident_no"), choice(Step.INCIDENT, "no")),
                ),
            )
            about = t(
                lang,
                "incident.offer_title" if state.incident_title else "incident.offer_untitled",
                parent=state.incident,
                category=category_label(state.draft.category, lang, config),
                summary=state.incident_title,
            )
            return (Reply(t(lang, "incident.offer", title=about), buttons),)
        case Step.PROFILE:
            p = state.profile
            buttons = (
                (
                    Button(t(lang, "btn.same"), choice(Step.PROFILE, "same"), "primary"),
                    Button(t(lang, "btn.change"), choice(Step.PROFILE, "change")),
                ),
            )
            text = t(lang, "ask.profile", name=p.name, phone=p.phone, location=p.location)
            return (Reply(text, buttons),)
        case Step.LOCATION:
            remembered = _remembered(state.profile.location, Step.LOCATION)
            return (Reply(t(lang, "ask.location"), remembered),)
        case Step.NAME:
            return (Reply(t(lang, "ask.name"), _remembered(state.platform_name, Step.NAME)),)
        case Step.PHONE:
            return (Reply(t(lang, "ask.phone"), ask_contact=t(lang, "btn.share_phone")),)
        case Step.ASSET:
            skip = ((Button(t(lang, "btn.skip"), choice(Step.ASSET, "skip")),),)
            return (Reply(t(lang, "ask.asset"), skip),)
        case Step.FILES:
            done = ((Button(t(lang, "btn.files_done"), choice(Step.FILES, "done")),),)
            return (Reply(t(lang, "ask.files", max=MAX_ATTACHMENTS), done),)
        case Step.URGENCY:
            rows = tuple(
                (Button(t(lang, f"urgency.{u}"), choice(Step.URGENCY, u)),) for u in _URGENCIES
            )
            return (Reply(t(lang, "ask.urgency"), rows),)
        case Step.SOLUTIONS:
            titles = [f"{n}. {title}" for n, (_, title) in enumerate(state.offered, start=1)]
            text = "\n".join([t(lang, "solutions.choose"), *titles])
            return (Reply(text, _solution_buttons(state)),)
        case Step.SUMMARY:
            return (_summary(state, config),)
        case Step.EDIT:
            rows = tuple((Button(t(lang, f"field.{s}"), choice(Step.EDIT, s)),) for s in EDITABLE)
            return (Reply(t(lang, "ask.edit"), rows),)
    raise AssertionError(state.step)


def _remembered(value: str, step_name: Step) -> tuple[tuple[Button, ...], ...]:
    if not value:
        return ()
    return ((Button(value[:60], choice(step_name, "remembered")),),)


def category_label(category_id: str, language: str, config: DeskConfig) -> str:
    category = config.category(category_id)
    return category.label(language) if category else category_id


def summary_lines(draft: Draft, language: str, config: DeskConfig) -> list[str]:
    """The draft as 'Field: value' lines, in the user's language."""
    values = {
        Step.CATEGORY: category_label(draft.category, language, config),
        Step.DESCRIPTION: draft.description,
        Step.LOCATION: draft.location,
        Step.NAME: draft.name,
        Step.PHONE: draft.phone,
        Step.ASSET: draft.asset or "—",
        Step.FILES: str(len(draft.attachments)),
        Step.URGENCY: t(language, f"urgency.{draft.urgency}") if draft.urgency else "",
    }
    return [f"{t(language, f'field.{s}')}: {values[s]}" for s in EDITABLE]


def _summary(state: State, config: DeskConfig) -> Reply:
    lang = state.language
    text = "\n".join([t(lang, "summary.title"), *summary_lines(state.draft, lang, config)])
    buttons = (
        (
            Button(t(lang, "btn.submit"), choice(Step.SUMMARY, "submit"), "primary"),
            Button(t(lang, "btn.edit"), choice(Step.SUMMARY, "edit")),
            Button(t(lang, "btn.cancel"), choice(Step.SUMMARY, "cancel"), "danger"),
        ),
    )
    return Reply(text, buttons)


def _reask(state: State, config: DeskConfig, key: str, **params: object) -> Outcome:
    return Outcome(state, (Reply(t(state.language, key, **params)), *_ask(state, config)))


def _as_few_messages(outcome: Outcome) -> Outcome:
    """One step, one message: the texts of a step ("Phone number saved", an error, the
    greeting) go in front of the question that follows, as paragraphs of one message. A text
    stays a message of its own only where the one after it needs a different keyboard: taking
    the share-contact keyboard away cannot ride on a message that brings buttons."""
    replies: list[Reply] = []
    for reply in outcome.replies:
        before = replies[-1] if replies else None
        if before is not None and _joinable(before, reply):
            replies[-1] = Reply(
                f"{before.text}{PARAGRAPH}{reply.text}",
                reply.buttons,
                reply.ask_contact,
                before.remove_keyboard or reply.remove_keyboard,
            )
        else:
            replies.append(reply)
    if len(replies) == len(outcome.replies):
        return outcome
    return replace(outcome, replies=tuple(replies))


def _joinable(first: Reply, second: Reply) -> bool:
    """Whether ``first`` can be the opening paragraph of ``second``: it has no keyboard of its
    own, and any keyboard it takes away is not replaced by one that ``second`` brings."""
    if first.buttons or first.ask_contact:
        return False
    return not (first.remove_keyboard and (second.buttons or second.ask_contact))


def _touched(outcome: Outcome, now: datetime) -> Outcome:
    """Any answer, even a wrong one, is activity: the idle clock restarts."""
    if outcome.state is None or outcome.state.updated_at >= now:
        return outcome
    return replace(outcome, state=replace(outcome.state, updated_at=now))


# --- answers typed as text --------------------------------------------------------------------


def _on_category_text(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    typed = given.text.strip().casefold()
    for index, category in enumerate(config.categories, start=1):
        if typed in (str(index), category.id, category.label(state.language).casefold()):
            return _set(state, now, config, category=category.id)
    if state.draft.description or not typed:
        return _reask(state, config, "intake.use_buttons")
    # Free text before a category was chosen is the problem itself: keep it, ask the category.
    return _on_description(replace(state, step=Step.DESCRIPTION, editing=False), given, now, config)


def _on_description(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    text = given.text.strip()
    if given.file and len(text) < DESCRIPTION_MIN:
        # The screenshot is kept; the problem still needs describing in words.
        return _add_file(state, given.file, now, config)
    if len(text) < DESCRIPTION_MIN:
        return _reask(state, config, "invalid.description_short", min=DESCRIPTION_MIN)
    if len(text) > DESCRIPTION_MAX:
        return _reask(state, config, "invalid.description_long", max=DESCRIPTION_MAX)
    with_file = _with_file(state.draft, given.file)
    return _set(replace(state, draft=with_file, last_text_at=now), now, config, description=text)


def _on_free_field(step_name: Step, max_len: int = FIELD_MAX):
    """A handler for a short free-text field (location, name)."""

    def handler(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
        text = " ".join(given.text.split())
        if len(text) < 2:
            return _reask(state, config, f"invalid.{step_name}")
        if len(text) > max_len:
            return _reask(state, config, "invalid.too_long", max=max_len)
        return _set(state, now, config, **{str(step_name): text})

    return handler


def normalise_phone(text: str) -> str | None:
    """'+380 (67) 123-45-67' -> '+380671234567'; None if it is not a phone number."""
    text = text.strip()
    if not _PHONE_ALLOWED.match(text):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if text.startswith("+") else "") + digits


def _on_phone(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    phone = normalise_phone(given.phone or given.text)
    if phone is None:
        return _reask(state, config, "invalid.phone")
    changes = {"phone": phone}
    if given.contact_name and not state.draft.name:
        changes["name"] = given.contact_name
    saved = Reply(t(state.language, "intake.phone_saved", phone=phone), remove_keyboard=True)
    outcome = _set(state, now, config, **changes)
    return replace(outcome, replies=(saved, *outcome.replies))


def valid_asset(text: str) -> bool:
    """An IPv4 address, an IPv6 address without a zone (``%eth0``), or an inventory number
    like 'INV-00123'; at most :data:`ASSET_MAX` characters."""
    if len(text) > ASSET_MAX:
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        looks_like_ip = "." in text and bool(re.fullmatch(r"[0-9.]+", text))
        return not looks_like_ip and bool(_INVENTORY.match(text))
    return not (isinstance(address, ipaddress.IPv6Address) and address.scope_id)


def _on_asset(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    text = given.text.strip()
    if not valid_asset(text):
        return _reask(state, config, "invalid.asset")
    return _set(state, now, config, asset=text, asset_done=True)


def _on_files(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    if given.file:
        return _add_file(state, given.file, now, config)
    return _reask(state, config, "invalid.files")


def _on_urgency(state: State, given: Input, now: datetime, config: DeskConfig) -> Outcome:
    typed = given.text.strip()
    if typed in ("1", "2", "3"):
        return _set(state, now, config, urgency=_URGENCIES[int(typed) - 1].value)
    return _reask(state, config, "intake.use_buttons")


def _with_file(draft: Draft, file: Attachment | None) -> Draft:
    if file is None or len(draft.attachments) >= MAX_ATTACHMENTS:
        return draft
    return replace(draft, attachments=(*draft.attachments, file))


def _add_file(state: State, file: Attachment, now: datetime, config: DeskConfig) -> Outcome:
    lang = state.language
    if len(state.draft.attachments) >= MAX_ATTACHMENTS:
        return _reask(state, config, "invalid.too_many_files", max=MAX_ATTACHMENTS)
    moved = replace(state, draft=_with_file(state.draft, file), updated_at=now)
    if state.step != Step.FILES:
        # A screenshot sent early is kept; the current question still stands.
        return Outcome(moved, (Reply(t(lang, "intake.file_kept")),))
    done = ((Button(t(lang, "btn.files_done"), choice(Step.FILES, "done")),),)
    count = len(moved.draft.attachments)
    return Outcome(moved, (Reply(t(lang, "intake.file_added", count=count), done),))


_TEXT_HANDLERS = {
    Step.CATEGORY: _on_category_text,
    Step.DESCRIPTION: _on_description,
    Step.LOCATION: _on_free_field(Step.LOCATION),
    Step.NAME: _on_free_field(Step.NAME, 100),
    Step.PHONE: _on_phone,
    Step.ASSET: _on_asset,
    Step.FILES: _on_files,
    Step.URGENCY: _on_urgency,
}


def _is_burst_of_description(state: State, given: Input, now: datetime, config: DeskConfig) -> bool:
    """A text arriving right after the description (forwarded or split messages) belongs to it."""
    return bool(
        given.text.strip()
        and not given.file
        and state.draft.description
        and state.last_text_at is not None
        and now - state.last_text_at <= config.desk.burst_window
        and state.step in (Step.CATEGORY, Step.SOLUTIONS, _step_after_description(state))
    )


def _step_after_description(state: State) -> Step | None:
    return _missing(replace(state, draft=replace(state.draft, description="x")))


# --- answers given with buttons ---------------------------------------------------------------


def _on_choice(
    state: State, field_name: str, value: str, now: datetime, config: DeskConfig
) -> Outcome:
    if field_name != state.step:
        # A button from an earlier question: say so and repeat the current one.
        return _reask(state, config, "intake.stale_button")
    match state.step, value:
        case Step.CATEGORY, _ if config.category(value):
            return _set(state, now, config, category=value)
        case Step.INCIDENT, "yes":
            return _joined(state)
        case Step.INCIDENT, "no":
            return _ask_next(replace(state, incident_answered=True), config, now)
        case Step.PROFILE, "same":
            p = state.profile
            moved = replace(state, profile_answered=True)
            return _set(moved, now, config, name=p.name, phone=p.phone, location=p.location)
        case Step.PROFILE, "change":
            return _ask_next(replace(state, profile_answered=True), config, now)
        case Step.LOCATION, "remembered" if state.profile.location:
            return _set(state, now, config, location=state.profile.location)
        case Step.NAME, "remembered" if state.platform_name:
            return _set(state, now, config, name=state.platform_name[:100])
        case Step.ASSET, "skip":
            return _set(state, now, config, asset="", asset_done=True)
        case Step.FILES, "done":
            return _set(state, now, config, files_done=True)
        case Step.URGENCY, _ if value in tuple(_URGENCIES):
            return _set(state, now, config, urgency=value)
        case Step.SOLUTIONS, _ if state.draft.offer is not None:
            return _on_offer_answer(state, value, state.draft.offer, now, config)
        case Step.SUMMARY, "submit":
            return Outcome(None, submit=state.draft)
        case Step.SUMMARY, "edit":
            moved = replace(state, step=Step.EDIT, updated_at=now)
            return Outcome(moved, _ask(moved, config))
        case Step.SUMMARY, "cancel":
            return Outcome(None, (Reply(t(state.language, "intake.cancelled")),), cancelled=True)
        case Step.EDIT, _ if value in tuple(EDITABLE):
            moved = replace(state, step=Step(value), editing=True, updated_at=now)
            return Outcome(moved, _ask(moved, config))
    return _reask(state, config, "intake.use_buttons")


def _on_offer_answer(
    state: State, value: str, offer: int, now: datetime, config: DeskConfig
) -> Outcome:
    lang = state.language
    if value == NOT_SOLVED:
        going_on = Reply(t(lang, "solutions.registering"))
        outcome = _ask_next(state, config, now, lead=(going_on,))
        return replace(outcome, answered=Answered(offer, None))
    solved_by = next((sid for sid, _ in state.offered if str(sid) == value), None)
    if solved_by is None:
        return _reask(state, config, "intake.use_buttons")
    glad = Reply(t(lang, "solutions.glad"), remove_keyboard=True)
    return Outcome(None, (glad,), answered=Answered(offer, solved_by))


def _set(state: State, now: datetime, config: DeskConfig, **changes: Any) -> Outcome:
    return _ask_next(replace(state, draft=replace(state.draft, **changes)), config, now)
