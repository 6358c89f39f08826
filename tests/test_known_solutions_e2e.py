"""Known solutions end to end, through the real slack-bolt (and python-telegram-bot) stacks
against the stand-in platform APIs: operators save a solution from a resolved ticket and answer
with a known solution or a saved reply; requesters are offered solutions before filing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.slack_context import NOT_OPERATOR, STALE_BUTTON
from bot.standins import slack_requests as sr
from bot.standins.telegram_api import FakeTelegramAPI, TgUser
from handlers.config import DeskConfig, SavedReply
from handlers.i18n import t
from handlers.intake import NOT_SOLVED, Step, choice
from handlers.outbound import Place
from handlers.reports import Period
from storage import solutions
from storage.models import OutboxRow, TicketRow
from tests.conftest import Clock
from tests.factories import E13
from tests.slack_desk import (
    BOB,
    MALLORY,
    OPS,
    USER,
    Desk,
    desk_config,
    desk_with_telegram,
    posted,
    reaction,
    running_desk,
)
from tests.telegram_chat import TelegramChat

RESTART = SavedReply(
    id="restart",
    title={"en": "Restart and tell us"},
    text={"en": "Please restart the computer and tell us whether it helps."},
)


DESK = Place("slack", OPS)


def known_config() -> DeskConfig:
    return desk_config().model_copy(update={"solutions": [E13], "replies": [RESTART]})


@pytest.fixture
async def desk(database_url: str, redis_url: str, clock: Clock) -> AsyncIterator[Desk]:
    async with running_desk(database_url, redis_url, clock, known_config()) as running:
        yield running


async def press_card(desk: Desk, user: str, action_id: str, number: int, ts: str) -> None:
    await desk.ok(desk.press_request(user, action_id, number, OPS, ts))


async def opened_view(desk: Desk, user: str, action_id: str, number: int, ts: str) -> Any:
    mark = len(desk.fake.calls)
    await press_card(desk, user, action_id, number, ts)
    await desk.fake.wait_for("views.open", since=mark)
    return desk.fake.views_opened[-1]


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


# --- operators: reply with a solution or a saved reply -----------------------------------------


async def test_a_reply_from_a_known_solution_reaches_the_requester(desk: Desk) -> None:
    number, ts = await desk.file("The printer shows E13 and jams every page")
    await desk.claim(number, ts)
    view = await opened_view(desk, BOB, "solution_reply", number, ts)
    groups = inputs(view)["pick"]["element"]["option_groups"]
    assert [o["text"]["text"] for g in groups for o in g["options"]] == [
        "Printer shows E13 / paper jam",
        "Restart and tell us",
    ]
    solution_value = groups[0]["options"][0]["value"]

    mark = len(desk.fake.calls)
    picked = {"pick": {"pick": sr.static_select_value(solution_value)}}
    await desk.ok(sr.view_submission(BOB, "solution_reply", str(number), picked))
    thread = await desk.fake.wait_for(posted(OPS, "sent “Printer shows E13", ts), since=mark)
    assert "Open tray 2 &amp; remove the torn sheet." in thread.params["text"]
    to_user = await desk.fake.wait_for(posted(USER, "Open tray 2"), since=mark)
    assert "https://wiki.example.org/printers/e13" in to_user.params["text"]
    await desk.fake.wait_for(reaction("white_check_mark", thread.response["ts"]), since=mark)


async def test_a_saved_reply_reaches_the_requester(desk: Desk) -> None:
    number, ts = await desk.file()
    view = await opened_view(desk, BOB, "solution_reply", number, ts)
    groups = inputs(view)["pick"]["element"]["option_groups"]
    reply_value = groups[-1]["options"][0]["value"]
    mark = len(desk.fake.calls)
    picked = {"pick": {"pick": sr.static_select_value(reply_value)}}
    await desk.ok(sr.view_submission(BOB, "solution_reply", str(number), picked))
    await desk.fake.wait_for(posted(USER, "Please restart the computer"), since=mark)


async def test_only_operators_may_reply_with_a_solution(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await press_card(desk, MALLORY, "solution_reply", number, ts)
    assert "Only operators" in await desk.answer(MALLORY, mark)
    assert not [c for c in desk.fake.calls[mark:] if c.method == "views.open"]
    options = await _reply_options(desk, number, ts)
    mark = len(desk.fake.calls)
    picked = {"pick": {"pick": sr.static_select_value(options[0])}}
    body = await desk.ok(sr.view_submission(MALLORY, "solution_reply", str(number), picked))
    assert json.loads(body)["errors"] == {"pick": NOT_OPERATOR}
    assert not [c for c in desk.fake.calls[mark:] if c.method == "chat.postMessage"]


async def _reply_options(desk: Desk, number: int, ts: str) -> list[str]:
    view = await opened_view(desk, BOB, "solution_reply", number, ts)
    groups = inputs(view)["pick"]["element"]["option_groups"]
    return [o["value"] for g in groups for o in g["options"]]


# --- operators: save as solution ---------------------------------------------------------------


async def test_an_operator_saves_a_solution_from_a_resolved_ticket(desk: Desk) -> None:
    number, ts = await desk.file("The scanner on floor 2 does not see the network")
    await desk.claim(number, ts)
    await desk.resolve(number, ts, "Rebooted the scanner with the button at the back")
    view = await opened_view(desk, BOB, "solution_save", number, ts)
    prefilled = inputs(view)
    assert prefilled["title"]["element"]["initial_value"] == (
        "The scanner on floor 2 does not see the network"
    )
    assert prefilled["answer"]["element"]["initial_value"] == (
        "Rebooted the scanner with the button at the back"
    )

    mark = len(desk.fake.calls)
    values = {
        "title": {"title": "Scanner does not see the network"},
        "answer": {"answer": "Press the reset button at the back of the scanner."},
        "keywords": {"keywords": "scanner, network"},
        "link": {"link": ""},
    }
    await desk.ok(sr.view_submission(BOB, "solution_save", str(number), values))
    await desk.fake.wait_for(lambda c: c.method == "chat.postEphemeral", since=mark)
    assert desk.fake.ephemerals(user=BOB)[-1]["text"] == (
        "Saved as a known solution: Scanner does not see the network"
    )
    async with desk.app.sessions() as session:
        found = await solutions.match(session, "my scanner lost the network again", "printers")
    assert [s.title_in("en") for s in found] == ["Scanner does not see the network"]


async def test_saving_needs_a_resolved_ticket_and_a_title(desk: Desk) -> None:
    number, ts = await desk.file()
    mark = len(desk.fake.calls)
    await press_card(desk, BOB, "solution_save", number, ts)
    assert "is not resolved" in await desk.answer(BOB, mark)
    await desk.claim(number, ts)
    await desk.resolve(number, ts, "Fixed")
    blank = {"title": {"title": " "}, "answer": {"answer": "x"}}
    body = await desk.ok(sr.view_submission(BOB, "solution_save", str(number), blank))
    assert json.loads(body)["errors"] == {"title": "Write what the problem looks like to users."}


# --- requesters: offered before filing (Telegram requester, Slack desk) ------------------------

OLENA = TgUser(2001, "Olena", "Shevchenko", username="olena", language_code="uk")
ALICE = TgUser(1001, "Alice", "Brown", username="alice", language_code="en")


@pytest.fixture
async def both(
    database_url: str, redis_url: str, clock: Clock
) -> AsyncIterator[tuple[Desk, FakeTelegramAPI]]:
    async with desk_with_telegram(database_url, redis_url, clock, known_config()) as running:
        yield running


async def describe(chat: TelegramChat, text: str, expect: str) -> dict[str, Any]:
    lang = chat.user.language_code or "en"
    await chat.send(chat.user.command("start"), t(lang, "ask.category"))
    await chat.press(choice(Step.CATEGORY, "printers"), t(lang, "ask.description"))
    return await chat.say(text, expect)


def around(clock: Clock) -> Period:
    """A report period of the day before and after now."""
    day = timedelta(days=1)
    return Period(clock.now - day, clock.now + day, ZoneInfo("UTC"))


def offered_ids(chat: TelegramChat) -> list[str]:
    prefix = choice(Step.SOLUTIONS, "")
    return [d.removeprefix(prefix) for d in chat.buttons() if d.startswith(prefix)]


async def tickets_and_cards(desk: Desk) -> tuple[int, int]:
    """Tickets in the database, and messages ever queued for the operators' channel."""
    async with desk.app.sessions() as session:
        tickets = (await session.scalars(select(TicketRow.id))).all()
        queued = select(OutboxRow.id).where(OutboxRow.destination == DESK.key)
        return len(tickets), len((await session.scalars(queued)).all())


async def test_solved_by_a_known_solution_files_nothing_and_counts_as_deflected(both) -> None:
    desk, tg = both
    chat = TelegramChat(tg, OLENA, desk.clock)
    offer = await describe(chat, "Принтер зажовує папір, пише E13", t("uk", "solutions.offer"))
    assert E13.title["uk"] in offer["text"] and E13.answer["uk"] in offer["text"]
    assert E13.link in offer["text"]
    solved, no = offered_ids(chat)
    assert no == NOT_SOLVED
    mark = len(desk.fake.calls)
    await chat.press(choice(Step.SOLUTIONS, solved), t("uk", "solutions.glad"))

    assert await tickets_and_cards(desk) == (0, 0)
    assert not [c for c in desk.fake.calls[mark:] if posted(OPS)(c)]
    report = await desk.app.desk.report(around(desk.clock))
    assert (report.deflected.count, report.deflected.of) == (1, 1)
    assert [(o.name, o.solved) for o in report.solved_most] == [("printer_e13", 1)]


async def test_no_files_the_ticket_and_its_card_lists_what_was_offered(both) -> None:
    desk, tg = both
    chat = TelegramChat(tg, ALICE, desk.clock)
    await describe(chat, "The printer jams paper and shows E13", t("en", "solutions.offer"))
    await chat.press(choice(Step.SOLUTIONS, NOT_SOLVED), t("en", "ask.location"))
    await chat.say("HQ, room 301", t("en", "ask.name"))
    await chat.press(choice(Step.NAME, "remembered"), t("en", "ask.phone"))
    await chat.send(chat.user.contact("+380671234567"), t("en", "ask.asset"))
    await chat.press(choice(Step.ASSET, "skip"), t("en", "ask.files", max=10))
    await chat.press(choice(Step.FILES, "done"), t("en", "ask.urgency"))
    await chat.press(choice(Step.URGENCY, "high"), t("en", "summary.title"))
    await chat.press(choice(Step.SUMMARY, "submit"), t("en", "ticket.created", number=1))

    card = await desk.fake.wait_for(posted(OPS, "#1"))
    tickets, to_desk = await tickets_and_cards(desk)
    assert tickets == 1 and to_desk >= 1
    shown = json.dumps(card.params["blocks"], ensure_ascii=False)
    assert f"Offered before filing, did not help: {E13.title['en']}" in shown
    report = await desk.app.desk.report(around(desk.clock))
    assert report.deflected.count == 0 and report.deflected.of == 1
    assert [(o.name, o.rejected) for o in report.rejected_most] == [("printer_e13", 1)]

    # and the operator answers with a known solution: it reaches the Telegram requester
    ts = card.response["ts"]
    view = await opened_view(desk, BOB, "solution_reply", 1, ts)
    value = inputs(view)["pick"]["element"]["option_groups"][0]["options"][0]["value"]
    picked = {"pick": {"pick": sr.static_select_value(value)}}
    await desk.ok(sr.view_submission(BOB, "solution_reply", "1", picked))
    await tg.wait_for_message(ALICE.id, E13.answer["en"])


async def test_a_solution_saved_by_an_operator_is_offered_to_the_next_requester(both) -> None:
    desk, tg = both
    number, ts = await desk.file("The scanner on floor 2 does not see the network")
    await desk.claim(number, ts)
    await desk.resolve(number, ts, "Pressed the reset button at the back")
    await opened_view(desk, BOB, "solution_save", number, ts)
    values = {
        "title": {"title": "Scanner does not see the network"},
        "answer": {"answer": "Press the reset button at the back of the scanner."},
        "keywords": {"keywords": "scanner, network"},
    }
    mark = len(desk.fake.calls)
    await desk.ok(sr.view_submission(BOB, "solution_save", str(number), values))
    await desk.fake.wait_for(lambda c: c.method == "chat.postEphemeral", since=mark)

    chat = TelegramChat(tg, ALICE, desk.clock)
    offer = await describe(chat, "My scanner lost the network again", t("en", "solutions.offer"))
    assert "Press the reset button at the back of the scanner." in offer["text"]


# --- operators: saved replies of their own -----------------------------------------------------


async def new_saved_reply(desk: Desk, values: dict[str, Any], user: str = BOB) -> str:
    """``/helpdesk reply``, then the modal submitted with ``values``; the submission's answer."""
    mark = len(desk.fake.calls)
    url = desk.fake.new_response_url(channel=OPS, user=user)
    await desk.ok(sr.slash_command("/helpdesk", "reply", user=user, channel=OPS, response_url=url))
    await desk.fake.wait_for("views.open", since=mark)
    return await desk.ok(sr.view_submission(user, "saved_reply", "", values))


async def test_operators_add_and_replace_saved_replies(desk: Desk) -> None:
    first = {
        "language": {"language": sr.static_select_value("uk")},
        "title": {"title": "Перевірте кабель"},
        "text": {"text": "Перевірте, будь ласка, чи підключено мережевий кабель."},
    }
    assert await new_saved_reply(desk, first) == ""
    modal = desk.fake.views_opened[-1]
    assert [b["block_id"] for b in modal["blocks"] if b["type"] == "input"] == [
        "language",
        "title",
        "text",
    ]
    number, ts = await desk.file()
    options = await _reply_options(desk, number, ts)
    assert len(options) == 3  # E13, the config's restart, the new one

    mark = len(desk.fake.calls)
    older = options[-1].partition(":")[2]
    second = {**first, "replaces": {"replaces": sr.static_select_value(older)}}
    second["title"] = {"title": "Кабель"}
    await new_saved_reply(desk, second)
    replaceable = desk.fake.views_opened[-1]["blocks"][-1]
    assert replaceable["block_id"] == "replaces"
    assert [o["value"] for o in replaceable["element"]["options"]] == [older]
    await desk.fake.wait_for(lambda c: c.method == "chat.postEphemeral", since=mark)
    now = await _reply_options(desk, number, ts)
    assert options[-1] not in now and len(now) == 3


async def test_a_saved_reply_needs_an_operator_and_its_texts(desk: Desk) -> None:
    blank = {"language": {"language": sr.static_select_value("en")}, "title": {"title": " "}}
    body = json.loads(await new_saved_reply(desk, blank))
    assert set(body["errors"]) == {"title", "text"}
    mark = len(desk.fake.calls)
    url = desk.fake.new_response_url(channel=OPS, user=MALLORY)
    await desk.ok(
        sr.slash_command("/helpdesk", "reply", user=MALLORY, channel=OPS, response_url=url)
    )
    assert await desk.answer(MALLORY, mark) == NOT_OPERATOR
    assert not [c for c in desk.fake.calls[mark:] if c.method == "views.open"]
    full = {**blank, "title": {"title": "Hi"}, "text": {"text": "Hello"}}
    forged = sr.view_submission(MALLORY, "saved_reply", "", full)
    assert json.loads(await desk.ok(forged)) == {
        "response_action": "errors",
        "errors": {"title": NOT_OPERATOR},
    }


async def test_a_solution_button_must_sit_on_its_tickets_card(desk: Desk) -> None:
    _, first_ts = await desk.file()
    second, _ = await desk.file("The scanner does not see the network")
    mark = len(desk.fake.calls)
    await desk.ok(desk.press_request(BOB, "solution_reply", second, OPS, first_ts))
    assert await desk.answer(BOB, mark) == STALE_BUTTON
    forged = {"pick": {"pick": sr.static_select_value("reply:1")}}
    body = await desk.ok(sr.view_submission(BOB, "solution_reply", "1; DROP", forged))
    assert json.loads(body)["errors"] == {"pick": STALE_BUTTON}
