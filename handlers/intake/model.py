"""What an intake conversation is made of: its steps, the draft it fills, its state, one input
and one outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from handlers.messages import Attachment, Reply
from handlers.solutions import KnownSolution
from handlers.text import clean
from handlers.tickets import Level

DESCRIPTION_MIN = 10


DESCRIPTION_MAX = 3000


FIELD_MAX = 200


ASSET_MAX = 45  # the longest IPv6 address: ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255


MAX_ATTACHMENTS = 10


URGENCIES = (Level.HIGH, Level.MEDIUM, Level.LOW)


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
ORDER = (
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
