"""Known solutions end to end, through the real slack-bolt (and python-telegram-bot) stacks
against the stand-in platform APIs: operators save a solution from a resolved ticket and answer
with a known solution or a saved reply; requesters are offered solutions before filing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.slack_context import NOT_OPERATOR
from bot.standins import slack_requests as sr
from handlers.config import DeskConfig, SavedReply
from storage import solutions
from tests.conftest import Clock
from tests.factories import E13
from tests.slack_desk import (
    BOB,
    MALLORY,
    OPS,
    USER,
    Desk,
    desk_config,
    posted,
    reaction,
    running_desk,
)

RESTART = SavedReply(
    id="restart",
    title={"en": "Restart and tell us"},
    text={"en": "Please restart the computer and tell us whether it helps."},
)


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
    call = await desk.fake.wait_for("views.open", since=mark)
    return (
        call.params["view"]
        if isinstance(call.params["view"], dict)
        else json.loads(call.params["view"])
    )


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
