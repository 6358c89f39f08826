"""``helpdesk demo`` over its page's HTTP interface (the browser test drives the page itself):
the command needs no settings, moves no person could make are refused, the desk's own refusals
and modals reach the page, escalations land in the specialists' channel, and ``--seed`` gives
the reports something to show."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.demo import Demo, running_demo
from bot.demo_seed import seed
from bot.slack import NOT_OPERATOR
from bot.standins.ports import free_port
from handlers.clock import utc_now
from handlers.i18n import t
from handlers.messages import UserRef
from tests import factories

ANNA, OLIVER, SAM = "U0ANNA", "U0OLIVER", "U0SAM"
JAMES = UserRef("telegram", "1001", "James Miller", "en", "jmiller")  # the demo's James


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    async with running_demo(free_port()) as running:
        yield running


@pytest.fixture
async def http(demo: Demo) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=demo.url) as session:
        yield session


async def move(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(path, json=body) as response:
        answer = await response.json()
        assert response.status == 200, answer
        return answer


async def state(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/state") as response:
        return await response.json()


async def eventually(http: aiohttp.ClientSession, check: Callable[[dict[str, Any]], Any]) -> Any:
    """What ``check`` finds in the page's state once it finds something (the desk delivers
    through its outbox, so what people see arrives a little later)."""
    for _ in range(300):
        found = check(await state(http))
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never shown; the page's state: {json.dumps(await state(http))[:3000]}")


def card_of(number: int) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def find(shown: dict[str, Any]) -> dict[str, Any] | None:
        for message in shown["operators"]["messages"]:
            header = next((b for b in message["blocks"] if b["type"] == "header"), None)
            if header and f"#{number} ·" in header["text"]["text"]:
                return message
        return None

    return find


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        element["text"]["text"]: element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


async def file_ticket(demo: Demo) -> int:
    """A ticket from James, as if his intake had just been submitted."""
    return await factories.file_ticket(demo.app.desk, JAMES, "test:file")


async def click(http: aiohttp.ClientSession, user: str, card: dict[str, Any], label: str) -> Any:
    button = buttons(card)[label]
    return await move(
        http,
        "/slack/click",
        {
            "user": user,
            "channel": "C0OPERATORS",
            "ts": card["ts"],
            "action_id": button["action_id"],
            "value": button["value"],
            "label": label,
        },
    )


async def test_the_command_needs_no_settings_and_stops_on_ctrl_c(tmp_path: Any) -> None:
    """Settings that would break ``helpdesk run`` do not matter to the demo."""
    port = free_port()
    hostile = {
        **os.environ,
        "DATABASE_URL": "mysql://nowhere",
        "TELEGRAM_BOT_TOKEN": "123:real-looking",
        "SLACK_BOT_TOKEN": "xoxb-real-looking",
        "HELPDESK_CONFIG": str(tmp_path / "missing.toml"),
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "demo", "--port", str(port), "--no-browser"),
        env=hostile,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        page = ""
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        page = await response.text()
                        break
                except aiohttp.ClientConnectionError:
                    assert process.returncode is None, await process.communicate()
                    await asyncio.sleep(0.1)
        assert "<title>Helpdesk demo</title>" in page
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out.decode()
    assert list(tmp_path.iterdir()) == []  # nothing left behind: the database was temporary


async def test_moves_no_person_could_make_are_refused(http: aiohttp.ClientSession) -> None:
    refused = [
        ("/telegram", {"requester": 999, "kind": "text", "text": "hi"}, "unknown requester"),
        ("/telegram", {"requester": JAMES.id, "kind": "text", "text": "  "}, "text is empty"),
        ("/telegram", {"requester": JAMES.id, "kind": "photo", "image": "bm90IGFu"}, "only"),
        ("/telegram", {"requester": JAMES.id, "kind": "press", "message_id": 77}, "no such"),
        ("/slack/click", {"user": "U0NOBODY", "channel": "C0OPERATORS"}, "unknown person"),
        ("/slack/click", {"user": ANNA, "channel": "C0ELSEWHERE"}, "unknown channel"),
        ("/slack/submit", {"user": ANNA, "view_id": "V404"}, "no such dialog"),
        ("/slack/reply", {"user": ANNA, "channel": "C0OPERATORS", "thread_ts": "1.2"}, "no such"),
    ]
    for path, body, reason in refused:
        async with http.post(path, json=body) as response:
            assert response.status == 400
            assert reason in (await response.json())["error"]
    async with http.post("/telegram", data="requester=1001&kind=text&text=hi") as response:
        assert response.status == 415  # a plain form (another site's) cannot act
    async with http.get("/page/../demo.py") as response:
        assert response.status == 404


async def test_someone_outside_the_desk_is_refused_and_sees_why(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    number = await file_ticket(demo)
    card = await eventually(http, card_of(number))
    await click(http, OLIVER, card, "Claim")
    shown = await eventually(http, lambda s: [e for e in s["ephemerals"] if e["user"] == OLIVER])
    assert shown[0]["text"] == NOT_OPERATOR
    assert "New" in json.dumps(card_of(number)(await state(http)))  # nobody claimed it
    reply = {"user": OLIVER, "channel": "C0OPERATORS", "thread_ts": card["ts"], "text": "hi"}
    async with http.post("/slack/reply", json=reply) as response:  # not in the channel
        assert response.status == 400
        assert "members" in (await response.json())["error"]


async def test_escalation_modal_reaches_the_specialists_who_take_it(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    number = await file_ticket(demo)
    card = await eventually(http, card_of(number))
    answer = await click(http, ANNA, card, "Escalate")
    dialog = answer["view"]
    assert dialog["title"]["text"] == f"Escalate #{number}"
    fields = {b["block_id"]: b for b in dialog["blocks"] if b["type"] == "input"}
    values = {block: "" for block in fields} | {"line": "billing", "impact": "high"}
    errors = await move(
        http, "/slack/submit", {"user": ANNA, "view_id": dialog["id"], "values": values}
    )
    assert errors == {"errors": {}}

    def billing_card(shown: dict[str, Any]) -> dict[str, Any] | None:
        line = next(c for c in shown["lines"] if c["name"] == "line-billing")
        return next(iter(line["messages"]), None)

    specialist_card = await eventually(http, billing_card)
    take = buttons(specialist_card)["Take"]
    await move(
        http,
        "/slack/click",
        {
            "user": SAM,
            "channel": "C0BILLING",
            "ts": specialist_card["ts"],
            "action_id": take["action_id"],
            "value": take["value"],
        },
    )
    await eventually(http, lambda s: "taken by Sam" in json.dumps(billing_card(s)))
    said = t("en", "ticket.escalated", number=number, line="Billing")
    await eventually(
        http, lambda s: [m for m in s["requesters"][0]["chat"]["messages"] if said in m["text"]]
    )


async def test_resolve_without_a_note_keeps_the_dialog_open_with_the_reason(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    number = await file_ticket(demo)
    card = await eventually(http, card_of(number))
    dialog = (await click(http, ANNA, card, "Resolve"))["view"]
    answer = await move(
        http, "/slack/submit", {"user": ANNA, "view_id": dialog["id"], "values": {"note": " "}}
    )
    assert answer == {"errors": {"note": "Write what was done."}}


async def test_seeded_history_shows_in_the_stats(demo: Demo, http: aiohttp.ClientSession) -> None:
    await seed(demo.app, demo.world, 12, utc_now())
    await move(http, "/slack/command", {"user": ANNA, "text": "stats 30d"})
    shown = await eventually(http, lambda s: [e for e in s["ephemerals"] if e["user"] == ANNA])
    assert ": 12 opened," in shown[0]["text"]
    fields = [
        f["text"] for b in shown[0]["blocks"] if b["type"] == "section" for f in b.get("fields", [])
    ]
    assert any(re.fullmatch(r"\*CSAT\*\n\d\.\d\d / 5 \(\d+ answers\)", f) for f in fields), fields
    assert not card_of(1)(await state(http))  # history stays out of the live channel


async def test_the_ukrainian_requester_is_answered_in_ukrainian(
    http: aiohttp.ClientSession,
) -> None:
    olena = next(r for r in (await state(http))["requesters"] if r["language"] == "uk")
    await move(http, "/telegram", {"requester": olena["id"], "kind": "text", "text": "/start"})
    asked = t("uk", "ask.category")

    def chat_of_olena(shown: dict[str, Any]) -> list[dict[str, Any]]:
        return next(r for r in shown["requesters"] if r["id"] == olena["id"])["chat"]["messages"]

    messages = await eventually(http, lambda s: [m for m in chat_of_olena(s) if asked in m["text"]])
    labels = [button["text"] for row in messages[0]["buttons"] for button in row]
    assert "Мережа / інтернет" in labels
    assert [m["text"] for m in chat_of_olena(await state(http)) if m["mine"]] == ["/start"]
