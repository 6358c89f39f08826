"""The desk's own configuration: categories, support lines, SLA targets, business hours, known
solutions and saved replies.

Read from the TOML file named by ``HELPDESK_CONFIG``; without one the built-in defaults below
describe a typical company IT desk. Validation errors are collected into one readable line each.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from handlers.tickets import Priority

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A Slack channel id (C…/G…), or a chat on another platform written ``<platform>:<chat id>``.
_CHANNEL_ID = re.compile(r"^(?:[CG][A-Z0-9]{2,}|[a-z]+:-?\d+)$")
_LINK = re.compile(r"^https?://\S+$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_web_address(text: str) -> bool:
    """Whether ``text`` is an http(s) address, the rule for a solution's link."""
    return bool(_LINK.match(text))


def parse_duration(value: object) -> timedelta:
    """'15m', '4h', '3d', '90s' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 15m, 4h or 3d")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def localized(texts: dict[str, str], language: str, fallback: str = "") -> str:
    """The text in ``language``, else in English, else in any language given, else ``fallback``."""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "") or fallback


def _texts_given(texts: dict[str, str]) -> dict[str, str]:
    if not any(text.strip() for text in texts.values()):
        raise ValueError('needs a text in at least one language, e.g. { en = "..." }')
    return texts


Texts = Annotated[dict[str, str], AfterValidator(_texts_given)]


# Category and line ids travel in Telegram button data, 64 bytes in all (``i:category:<id>``,
# ``hd:impact:<ticket>:<line>:<impact>``): 24 characters leave room for an 18-digit ticket.
ID_MAX = 24


class Category(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=ID_MAX)
    line: str
    labels: dict[str, str] = Field(default_factory=dict)

    def label(self, language: str) -> str:
        return localized(self.labels, language, self.id)


class Solution(_Strict):
    """A known answer to a recurring problem, offered to users before they file a ticket."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    categories: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    title: Texts
    answer: Texts
    link: str = ""

    @model_validator(mode="after")
    def _link_is_a_web_address(self) -> Solution:
        if self.link and not is_web_address(self.link):
            raise ValueError(f"solution {self.id!r}: link {self.link!r} is not an http(s) address")
        return self


class SavedReply(_Strict):
    """An everyday phrase operators insert into a ticket's conversation."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    title: Texts
    text: Texts


class SupportLine(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=ID_MAX)
    name: str
    channel: str
    ping: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _channel_is_an_id(self) -> SupportLine:
        if not _CHANNEL_ID.match(self.channel):
            raise ValueError(
                f"line {self.id!r}: channel {self.channel!r} is neither a Slack channel id "
                "(C…/G…) nor <platform>:<chat id> (a group: <platform>:-100…)"
            )
        return self


class SlaTarget(_Strict):
    respond: Duration
    resolve: Duration

    @field_validator("respond", "resolve")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("an SLA target must be longer than zero")
        return value


def _default_sla() -> dict[Priority, SlaTarget]:
    hours = timedelta(hours=1)
    return {
        Priority.P1: SlaTarget(respond=timedelta(minutes=15), resolve=4 * hours),
        Priority.P2: SlaTarget(respond=timedelta(minutes=30), resolve=8 * hours),
        Priority.P3: SlaTarget(respond=2 * hours, resolve=24 * hours),
        Priority.P4: SlaTarget(respond=8 * hours, resolve=72 * hours),
    }


class BusinessHours(_Strict):
    timezone: str = "UTC"
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]
    )
    start: time = time(9, 0)
    end: time = time(18, 0)
    holidays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> BusinessHours:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        if self.start >= self.end:
            raise ValueError("business_hours.start must be before business_hours.end")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DeskSettings(_Strict):
    internal_prefix: str = "//"
    show_operator_names: bool = True
    operators: list[str] = Field(default_factory=list)
    supervisor: str = ""
    intake_idle: Duration = timedelta(minutes=30)
    confirm_timeout: Duration = timedelta(hours=48)
    burst_window: Duration = timedelta(seconds=3)
    reminder_share: float = Field(default=0.75, gt=0, lt=1)
    digest_channel: str = ""  # a channel as a line's, for the Monday digest; empty: no digest
    # A major incident's broadcast is released at this many messages per second, so it leaves
    # part of the bot's own limit (Telegram: about 30/s) to the conversations going on.
    broadcast_per_second: float = Field(default=20.0, gt=0)


_DEFAULT_CATEGORIES = [
    ("hardware", "sysadmins", "Computer / hardware", "Комп'ютер / обладнання"),
    ("printers", "equipment", "Printers and office equipment", "Принтери та оргтехніка"),
    ("software", "software", "Software", "Програмне забезпечення"),
    ("network", "sysadmins", "Network / internet", "Мережа / інтернет"),
    ("accounts", "sysadmins", "Accounts and access", "Облікові записи та доступ"),
    ("pos", "pos", "POS terminal", "POS-термінал"),
    ("billing", "billing", "Billing", "Білінг"),
    ("other", "sysadmins", "Other", "Інше"),
]

_DEFAULT_LINES = [
    ("sysadmins", "System administrators", "C0SYSADMINS"),
    ("pos", "POS terminals", "C0POSTERMINALS"),
    ("software", "Special software", "C0SOFTWARE"),
    ("equipment", "Special equipment", "C0EQUIPMENT"),
    ("billing", "Billing", "C0BILLING"),
]


class DeskConfig(_Strict):
    desk: DeskSettings = Field(default_factory=DeskSettings)
    categories: list[Category] = Field(
        default_factory=lambda: [
            Category(id=cid, line=line, labels={"en": en, "uk": uk})
            for cid, line, en, uk in _DEFAULT_CATEGORIES
        ]
    )
    lines: list[SupportLine] = Field(
        default_factory=lambda: [
            SupportLine(id=lid, name=name, channel=channel) for lid, name, channel in _DEFAULT_LINES
        ]
    )
    sla: dict[Priority, SlaTarget] = Field(default_factory=_default_sla)
    business_hours: BusinessHours | None = None
    solutions: list[Solution] = Field(default_factory=list)
    replies: list[SavedReply] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> DeskConfig:
        problems = []
        kinds: tuple[tuple[str, list[Any]], ...] = (
            ("category", self.categories),
            ("line", self.lines),
            ("solution", self.solutions),
            ("reply", self.replies),
        )
        for kind, items in kinds:
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    problems.append(f"duplicate {kind} {item.id!r}")
                seen.add(item.id)
        line_ids = {line.id for line in self.lines}
        problems += [
            f"category {c.id!r} routes to unknown line {c.line!r}"
            for c in self.categories
            if c.line not in line_ids
        ]
        category_ids = {c.id for c in self.categories}
        problems += [
            f"solution {s.id!r} names unknown category {category!r}"
            for s in self.solutions
            for category in s.categories
            if category not in category_ids
        ]
        if not self.categories:
            problems.append("no categories configured")
        missing = [p.value for p in Priority if p not in self.sla]
        if missing:
            problems.append(f"sla has no targets for {', '.join(missing)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def line(self, line_id: str) -> SupportLine | None:
        return next((line for line in self.lines if line.id == line_id), None)

    def route(self, category_id: str) -> SupportLine:
        """The default second line for a category (falls back to the first line configured)."""
        category = self.category(category_id)
        return (category and self.line(category.line)) or self.lines[0]


class ConfigError(Exception):
    """The desk config cannot be used; the message is one line meant for a human."""


def load_desk_config(path: str | Path | None) -> DeskConfig:
    if not path:
        return DeskConfig()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"HELPDESK_CONFIG: file {str(file)!r} not found") from None
    except OSError as exc:
        raise ConfigError(f"HELPDESK_CONFIG: cannot read {str(file)!r}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"HELPDESK_CONFIG: {file}: not valid TOML: {exc}") from None
    try:
        return DeskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"HELPDESK_CONFIG: {file}: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    """Pydantic's errors as one line: 'where: what; where: what'."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
