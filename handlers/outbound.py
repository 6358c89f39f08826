"""What the core asks to be said, and where: places and typed outbound messages.

A :class:`Place` is a chat on some platform: the operators' desk, a support line's channel, a
requester's private chat. Which platform serves a place is data (settings and the desk config
decide it); the core never names one. Each message is a frozen dataclass; :func:`encode` and
:func:`decode` are the one JSON codec the outbox stores them with, and each platform's sender
``match``es on the decoded type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, get_args

from handlers.messages import Attachment, Button, Reply


@dataclass(frozen=True)
class Place:
    """A chat on a platform; ``key`` is how the outbox orders and paces messages to it."""

    platform: str
    chat: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.chat}"

    @classmethod
    def from_key(cls, key: str) -> Place:
        platform, _, chat = key.partition(":")
        return cls(platform, chat)


@dataclass(frozen=True)
class Places:
    """Where the desk's people sit: the operators, each support line, the weekly digest."""

    operators: Place
    lines: Mapping[str, Place] = field(default_factory=dict)
    digest: Place | None = None

    def line(self, line_id: str) -> Place | None:
        return self.lines.get(line_id)

    def card_places(self) -> set[Place]:
        """Every place that holds ticket cards."""
        return {self.operators, *self.lines.values()}


@dataclass(frozen=True)
class PostRef:
    """A message that was posted in ``place``: the operator's words a receipt is put on."""

    place: Place
    message_id: str


@dataclass(frozen=True)
class FileRef:
    """A requester's file as a relay carries it: the sender fetches it from ``platform``."""

    kind: str  # photo | document
    file_id: str
    platform: str
    name: str = ""

    @classmethod
    def of(cls, file: Attachment, platform: str) -> FileRef:
        return cls(file.kind, file.file_id, platform, file.name)


# --- the messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToChat:
    """A reply for the person in ``place`` (usually a requester); ``receipt`` is the message
    whose delivery mark follows this one's delivery; ``broadcast`` the incident broadcast whose
    delivery count it adds to."""

    place: Place
    reply: Reply
    ticket: int | None = None
    receipt: PostRef | None = None
    broadcast: int | None = None
    file: FileRef | None = None  # an operator's photo or document going with the words


@dataclass(frozen=True)
class Card:
    """Post a ticket's card in ``role`` (operators' or a line's), or edit it in place; the
    sender renders the ticket's current state. ``ping`` and ``note`` go with a first post."""

    place: Place
    ticket: int
    role: str
    ping: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Relay:
    """Someone's words into the thread of the ticket's card ``role``; ``voice`` says who
    spoke (``requester``, ``specialist``, ``specialist, internal note``)."""

    place: Place
    ticket: int
    role: str
    text: str
    author: str
    voice: str = "requester"
    file: FileRef | None = None


@dataclass(frozen=True)
class Mark:
    """A receipt on a posted message: ``delivered``, ``failed``, ``internal``, ``not_relayed``."""

    place: Place
    message_id: str
    mark: str
    ticket: int | None = None


@dataclass(frozen=True)
class Notice:
    """The desk's own words (SLA reminders, breaches): in the thread of the card ``role``, or
    at the top of ``place`` when ``role`` is empty; ``ping`` names whom it calls."""

    place: Place
    ticket: int
    text: str
    role: str = ""
    ping: tuple[str, ...] = ()


@dataclass(frozen=True)
class Digest:
    """The weekly digest for ``place``: the figures between ``since`` and ``until`` (ISO)."""

    place: Place
    since: str
    until: str
    zone: str


Outbound = ToChat | Card | Relay | Mark | Notice | Digest

KINDS: dict[type, str] = {
    ToChat: "text",
    Card: "card",
    Relay: "relay",
    Mark: "reaction",
    Notice: "notice",
    Digest: "digest",
}
_TYPES = {kind: type_ for type_, kind in KINDS.items()}
assert set(KINDS) == set(get_args(Outbound)), "every message type has a kind"


class UnknownMessage(ValueError):
    """An outbox row whose kind no message type has (written by another version)."""


MERGED_MAX = 3000  # characters of one merged post of a requester's waiting messages


def mergeable(message: Outbound) -> bool:
    """A requester's words without a file: consecutive ones still waiting go out as one post."""
    return isinstance(message, Relay) and message.voice == "requester" and message.file is None


def merged(first: Relay, following: list[Outbound]) -> tuple[Relay, int]:
    """``first`` with the messages right behind it that say more of the same (same thread,
    same author, no file), in order, up to :data:`MERGED_MAX` characters; and how many of
    ``following`` it took in."""
    texts, taken = [first.text], 0
    for message in following:
        same = (
            mergeable(message)
            and isinstance(message, Relay)
            and (message.ticket, message.role, message.author)
            == (first.ticket, first.role, first.author)
        )
        if not same or sum(map(len, texts)) + len(message.text) > MERGED_MAX:
            break
        texts.append(message.text)
        taken += 1
    return replace(first, text="\n".join(texts)), taken


# --- the codec ----------------------------------------------------------------------------------


def kind_of(message: Outbound) -> str:
    return KINDS[type(message)]


def ticket_of(message: Outbound) -> int | None:
    """The ticket a message is about, if any (the outbox keeps it for reports and digests)."""
    return None if isinstance(message, Digest) else message.ticket


def encode(message: Outbound) -> dict[str, Any]:
    """The message's payload as JSON-ready data; its place and kind are stored beside it."""
    match message:
        case ToChat(reply=reply, receipt=receipt, broadcast=broadcast, file=file):
            payload = _reply_data(reply)
            if receipt is not None:
                payload["receipt"] = {"place": receipt.place.key, "id": receipt.message_id}
            if broadcast is not None:
                payload["broadcast"] = broadcast
            if file is not None:
                payload["file"] = _file_data(file)
            return payload
        case Card(ticket=ticket, role=role, ping=ping, note=note):
            return {"ticket": ticket, "role": role, "ping": list(ping), "note": note}
        case Relay(ticket=ticket, role=role, text=text, author=author, voice=voice, file=file):
            data: dict[str, Any] = {"ticket": ticket, "role": role, "text": text}
            data |= {"author": author, "voice": voice}
            if file is not None:
                data["file"] = _file_data(file)
            return data
        case Mark(message_id=message_id, mark=mark):
            return {"id": message_id, "mark": mark}
        case Notice(ticket=ticket, text=text, role=role, ping=ping):
            return {"ticket": ticket, "text": text, "role": role, "ping": list(ping)}
        case Digest(since=since, until=until, zone=zone):
            return {"since": since, "until": until, "zone": zone}
    raise UnknownMessage(type(message).__name__)


def decode(kind: str, place: Place, payload: dict[str, Any], ticket: int | None) -> Outbound:
    """The message an outbox row holds; :class:`UnknownMessage` for a kind nothing writes or
    a payload that is not of its kind's shape."""
    try:
        return _decode(_TYPES[kind], place, payload, ticket)
    except (KeyError, TypeError, ValueError) as error:
        raise UnknownMessage(f"{kind}: {error}") from error


def _decode(type_: type, place: Place, payload: dict[str, Any], ticket: int | None) -> Outbound:
    if type_ is ToChat:
        receipt = payload.get("receipt")
        ref = PostRef(Place.from_key(receipt["place"]), receipt["id"]) if receipt else None
        broadcast = payload.get("broadcast")
        return ToChat(place, _reply_of(payload), ticket, ref, broadcast, _file_of(payload))
    if type_ is Card:
        ping = tuple(payload.get("ping", ()))
        return Card(place, payload["ticket"], payload["role"], ping, payload.get("note", ""))
    if type_ is Relay:
        return Relay(
            place,
            payload["ticket"],
            payload["role"],
            payload["text"],
            payload["author"],
            payload.get("voice", "requester"),
            _file_of(payload),
        )
    if type_ is Mark:
        return Mark(place, payload["id"], payload["mark"], ticket)
    if type_ is Notice:
        ping = tuple(payload.get("ping", ()))
        return Notice(place, payload["ticket"], payload["text"], payload.get("role", ""), ping)
    return Digest(place, payload["since"], payload["until"], payload["zone"])


def _file_data(file: FileRef) -> list[str]:
    return [file.kind, file.file_id, file.platform, file.name]


def _file_of(payload: dict[str, Any]) -> FileRef | None:
    file = payload.get("file")
    return FileRef(*file) if file else None


def _reply_data(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "buttons": [[[b.label, b.data, b.style] for b in row] for row in reply.buttons],
        "ask_contact": reply.ask_contact,
        "remove_keyboard": reply.remove_keyboard,
    }


def _reply_of(payload: dict[str, Any]) -> Reply:
    return Reply(
        text=payload.get("text", ""),
        buttons=tuple(
            tuple(Button(label, data, style) for label, data, style in row)
            for row in payload.get("buttons", [])
        ),
        ask_contact=payload.get("ask_contact", ""),
        remove_keyboard=payload.get("remove_keyboard", False),
    )
