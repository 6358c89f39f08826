"""The cast of ``helpdesk demo``: two requesters in Telegram, two operators, a specialist and
someone outside the desk in Slack, the channels they sit in, and the desk's settings pointing
at the stand-ins. Nothing here reads the environment: the demo needs no settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.standins import slack_requests
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.config import DeskConfig

OPERATOR, SPECIALIST, OUTSIDER = "operator", "specialist", "outsider"
OPERATORS_CHANNEL = "C0OPERATORS"
# Cards of the sample history (``--seed``) go here, so they never queue before live work.
HISTORY_CHANNEL = "C0HISTORY"


@dataclass(frozen=True)
class Requester:
    user: TgUser
    phone: str  # what "Share my phone number" shares


@dataclass(frozen=True)
class Person:
    """Someone in the Slack workspace the page can act as."""

    id: str
    name: str
    role: str


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


@dataclass(frozen=True)
class World:
    requesters: tuple[Requester, ...]
    people: tuple[Person, ...]
    operators: Channel
    lines: tuple[Channel, ...]

    def requester(self, user_id: int) -> Requester | None:
        return next((r for r in self.requesters if r.user.id == user_id), None)

    def person(self, user_id: str) -> Person | None:
        return next((p for p in self.people if p.id == user_id), None)

    def channel(self, channel_id: str) -> Channel | None:
        return next((c for c in (self.operators, *self.lines) if c.id == channel_id), None)


def make_world(config: DeskConfig) -> World:
    return World(
        requesters=(
            Requester(TgUser(1001, "James", "Miller", "jmiller", "en"), "+44 20 7946 0321"),
            Requester(TgUser(1002, "Олена", "Коваленко", "olena_k", "uk"), "+380 67 123 4567"),
        ),
        people=(
            Person("U0ANNA", "Anna", OPERATOR),
            Person("U0BORIS", "Boris", OPERATOR),
            Person("U0SAM", "Sam", SPECIALIST),
            Person("U0OLIVER", "Oliver", OUTSIDER),
        ),
        operators=Channel(OPERATORS_CHANNEL, "it-operators"),
        lines=tuple(Channel(line.channel, f"line-{line.id}") for line in config.lines),
    )


def furnish(world: World, slack: FakeSlackAPI) -> None:
    """The Slack workspace: its people and channels. Operators sit in the operators'
    channel, the specialist in every line's channel, the outsider in none."""
    for person in world.people:
        slack.add_user(
            person.id, person.name.lower(), f"{person.name} Example", display_name=person.name
        )
    operators = [p.id for p in world.people if p.role == OPERATOR]
    specialists = [p.id for p in world.people if p.role == SPECIALIST]
    bot = slack.bot_user_id
    slack.add_channel(world.operators.id, world.operators.name, members=[*operators, bot])
    slack.add_channel(HISTORY_CHANNEL, "it-history", members=[*operators, bot])
    for line in world.lines:
        slack.add_channel(line.id, line.name, members=[*specialists, bot])


def demo_settings(
    folder: Path, telegram: FakeTelegramAPI, slack: FakeSlackAPI, http_port: int
) -> Settings:
    """The desk's settings: every field given, so no environment variable or ``.env`` file
    changes what the demo runs against."""
    values = {name: field.default for name, field in Settings.model_fields.items()}
    values.update(
        database_url=f"sqlite:///{folder / 'helpdesk.db'}",
        redis_url="",
        helpdesk_config="",
        log_level="WARNING",
        telegram_bot_token=telegram.token,
        telegram_api_url=telegram.url,
        telegram_mode="polling",
        slack_bot_token=slack.token,
        slack_signing_secret=slack_requests.SIGNING_SECRET,
        slack_mode="http",
        slack_api_url=slack.api_url,
        slack_operators_channel=OPERATORS_CHANNEL,
        http_host="127.0.0.1",
        http_port=http_port,
        shutdown_grace=2.0,
    )
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
