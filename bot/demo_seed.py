"""``helpdesk demo --seed N``: N sample tickets over the last four weeks, made through the desk's
own use cases (filed, claimed, escalated, taken, resolved, confirmed, rated, rejected) on a
clock that walks through those weeks, so reports, ``/helpdesk stats`` and the weekly chart
have something to show.

The history's cards go to their own channel (not shown on the page): delivering them is paced
like any card, and they must not queue in front of the live desk's.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.app import HelpdeskApp
from bot.demo_world import HISTORY_CHANNEL, OPERATOR, SPECIALIST, World
from bot.places import place_of
from bot.standins.samples import DRAFT
from handlers.desk import Desk
from handlers.intake import Input
from handlers.messages import UserRef
from handlers.requesters import CONFIRM
from handlers.satisfaction import RATE
from handlers.tickets import Level
from handlers.tickets_service import ActionResult, Refusal

DAYS = 26  # with weekends moved back, every story stays within the last 30 days
_PROBLEMS = {
    "hardware": ["The laptop does not boot after the update", "My monitor flickers all day"],
    "printers": ["The printer on floor 3 jams on every page", "Scanner shows error E-42"],
    "software": ["The accounting app crashes on export", "Need a licence for the PDF editor"],
    "network": ["Wi-Fi drops every ten minutes", "VPN will not connect from home"],
    "accounts": ["Locked out of my mailbox", "Need access to the sales share"],
    "pos": ["Card payments fail on till 2", "The receipt printer of till 1 is offline"],
    "billing": ["Invoice shows the wrong VAT", "Customer charged twice in March"],
    "other": ["The meeting room screen shows no signal", "Projector remote is missing"],
}
_PLACES = ["HQ, room 301", "Warehouse", "Shop on Main St", "Accounting, desk 7", "Reception"]
_REQUESTERS = [
    ("Alice Brown", "en"),
    ("Mark Davies", "en"),
    ("Ірина Шевченко", "uk"),
    ("Petro Bondar", "uk"),
    ("Grace Lee", "en"),
    ("Тарас Мельник", "uk"),
]
_RATINGS = [5, 5, 5, 4, 4, 4, 3, 2, 1]


@dataclass
class Walk:
    """The seeding desk's clock: set to when a ticket was filed, moved on as its story goes."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def after(self, rng: random.Random, low: float, high: float) -> None:
        self.now += timedelta(minutes=rng.uniform(low, high))


async def seed(app: HelpdeskApp, world: World, count: int, now: datetime) -> None:
    """File and work ``count`` tickets, oldest first, each ending closed or rejected."""
    rng = random.Random(count)
    starts = sorted(now - timedelta(days=rng.uniform(3, DAYS)) for _ in range(count))
    walk = Walk(now)
    places = replace(app.desk.places, operators=place_of(HISTORY_CHANNEL))
    desk = Desk(app.sessions, app.config, places, walk, app.desk.service.on_commit)
    story = _Story(desk, world, walk, rng)
    for index, start in enumerate(starts):
        walk.now = _working_hours(start)  # a story lasts a day at most: it ends in the past
        await story.tell(index)


def _working_hours(moment: datetime) -> datetime:
    """The same day between 8:00 and 17:00, weekends moved back to Friday."""
    moment = moment.replace(hour=8 + moment.hour % 9)
    while moment.weekday() >= 5:
        moment -= timedelta(days=1)
    return moment


class _Story:
    def __init__(self, desk: Desk, world: World, walk: Walk, rng: random.Random) -> None:
        self.desk = desk
        self.walk = walk
        self.rng = rng
        self.operators = [_slack_user(p.id, p.name) for p in world.people if p.role == OPERATOR]
        self.specialists = [_slack_user(p.id, p.name) for p in world.people if p.role == SPECIALIST]

    async def tell(self, index: int) -> None:
        rng, walk = self.rng, self.walk
        name, language = rng.choice(_REQUESTERS)
        user = UserRef("telegram", str(2001 + _REQUESTERS.index((name, language))), name, language)
        category = rng.choice(list(_PROBLEMS))
        draft = replace(
            DRAFT,
            category=category,
            description=rng.choice(_PROBLEMS[category]),
            location=rng.choice(_PLACES),
            name=name,
            phone=f"+38067{rng.randrange(10**7):07d}",
            asset="",
            urgency=rng.choice(list(Level)).value,
        )
        cause = _Causes(f"seed:{index}")
        number = (await self.desk.requesters.file_ticket(user, user.id, draft, cause())).number
        assert number is not None
        operator = rng.choice(self.operators)
        walk.after(rng, 2, 90)
        await _required(self.desk.operators.claim(number, operator, cause()))
        roll = rng.random()
        if roll < 0.1:
            walk.after(rng, 5, 60)
            reason = "Not an IT matter: please ask the facilities team."
            await _required(self.desk.operators.reject(number, operator, reason, cause()))
            return
        resolver = operator
        if roll < 0.4:
            line = self.desk.config.route(category).id
            walk.after(rng, 10, 120)
            await _required(
                self.desk.specialists.escalate(number, operator, line, "", Level.MEDIUM, cause())
            )
            resolver = rng.choice(self.specialists)
            walk.after(rng, 5, 240)
            await _required(self.desk.specialists.take(number, resolver, line, cause()))
        walk.after(rng, 20, 600)
        note = "Fixed on site and checked with the user."
        await _required(self.desk.operators.resolve(number, resolver, note, cause()))
        walk.after(rng, 5, 300)
        await self.press(user, f"{CONFIRM}{number}:yes", cause())
        if rng.random() < 0.7:
            walk.after(rng, 1, 30)
            rating = rng.choice(_RATINGS)
            await self.press(user, f"{RATE}{number}:{rating}", cause())

    async def press(self, user: UserRef, data: str, cause: str) -> None:
        """The requester presses a button in their chat."""
        await self.desk.requesters.user_message(user, user.id, Input(choice=data), cause)


class _Causes:
    """Distinct causes for one ticket's story (the outbox keys derive from them)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}:{self.count}"


def _slack_user(user_id: str, name: str) -> UserRef:
    return UserRef("slack", user_id, name, "en")


async def _required(move: Awaitable[ActionResult]) -> None:
    result = await move
    if isinstance(result, Refusal):
        raise RuntimeError(f"seeding failed: {result.reason}")
