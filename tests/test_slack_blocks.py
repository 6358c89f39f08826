"""Block Kit rendering: escaping of user text, the ticket card by status, replies, views."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from html import escape

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.card_words import CardHistory
from bot.slack_blocks import (
    answered,
    escape_mrkdwn,
    from_slack,
    home_view,
    mention,
    mentioned,
    note_modal,
    relay_text,
    reply_message,
    split_escaped,
)
from bot.slack_card import card_text, ticket_card, ticket_list
from bot.slack_escalation_blocks import specialist_card
from bot.slack_incident_blocks import broadcast_modal, declare_modal, link_modal
from bot.slack_incidents import parent_number
from bot.slack_solution_blocks import picked, reply_picker_modal, save_solution_modal
from bot.standins.slack_api import FakeSlackAPI
from bot.standins.slack_requests import static_select_value
from bot.telegram_cards import operator_card
from bot.text_pieces import pieces_within
from handlers.config import DeskConfig
from handlers.messages import Button, Reply
from handlers.outbound import FileRef
from handlers.solutions import KnownSolution, SavedReplyText
from handlers.tickets import Action, Level, Requester, Status, Ticket

CONFIG = DeskConfig()
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
INJECTION = (
    "<!channel> <!here|here> <!everyone> <@U0BOSS> <#C0SECRET> <https://evil.example|click> "
    "@here & co"
)

TICKET = Ticket(
    number=7,
    requester=Requester("telegram", "1001", "Alice Brown", "@alice"),
    category="printers",
    description="The printer on the 3rd floor jams on every page",
    location="HQ, room 301",
    phone="+380671234567",
    asset="INV-0042",
    urgency=Level.HIGH,
    impact=Level.MEDIUM,
    created_at=NOW,
    attachments=("file-1", "file-2"),
)


def buttons(blocks: list[dict]) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["text"]["text"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def everything(text: str, blocks: list[dict]) -> str:
    return text + json.dumps(blocks, ensure_ascii=False)


# --- escaping -----------------------------------------------------------------------------------


def test_escape_makes_mentions_and_links_inert() -> None:
    escaped = escape_mrkdwn(INJECTION)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.startswith("&lt;!channel&gt; &lt;!here|here&gt; &lt;!everyone&gt;")
    assert "&lt;@U0BOSS&gt; &lt;#C0SECRET&gt; &lt;https://evil.example|click&gt;" in escaped
    assert "@here" not in escaped and "@\u2060here" in escaped  # a bare @here is broken up
    assert escaped.endswith("&amp; co")


def test_escape_leaves_ordinary_text_alone() -> None:
    assert escape_mrkdwn("Printer #3: *jams*, see INV-0042 (alice@example.com)") == (
        "Printer #3: *jams*, see INV-0042 (alice@example.com)"
    )


def test_split_never_cuts_an_entity() -> None:
    pieces = split_escaped("a<b" * 10, 7)
    assert all(len(piece) <= 7 for piece in pieces)
    assert "".join(pieces) == escape_mrkdwn("a<b" * 10)
    assert all(piece.count("&") == piece.count(";") for piece in pieces)


# --- the card -----------------------------------------------------------------------------------


def test_new_card_shows_the_ticket_and_the_first_line_buttons() -> None:
    text, blocks = ticket_card(TICKET, CardHistory(), CONFIG)
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "🟠 #7 · P2 · Printers and office equipment",
            "emoji": True,
        },
    }
    shown = everything(text, blocks)
    for part in (
        "Alice Brown (Telegram, @alice)",
        "+380671234567",
        "HQ, room 301",
        "INV-0042",
        "*Attachments*\\n2",
        "The printer on the 3rd floor jams on every page",
        "waiting for an operator",
    ):
        assert part in shown, part
    assert buttons(blocks) == [
        ("ticket_claim", "Claim"),
        ("ticket_escalate", "Escalate"),
        ("ticket_resolve", "Resolve"),
        ("ticket_reject", "Reject"),
        ("solution_reply", "Reply with a solution"),
        ("ticket_link", "Link to…"),
        ("ticket_declare_major", "Declare major incident"),
    ]
    assert all(e["value"] == "7" for b in blocks if b["type"] == "actions" for e in b["elements"])
    assert text.startswith("🟠 #7 · P2")


def test_claimed_card_names_the_owner_and_offers_release() -> None:
    claimed = replace(TICKET, status=Status.CLAIMED, assignee="U0BOB", assignee_name="Bob")
    text, blocks = ticket_card(claimed, CardHistory("claim"), CONFIG)
    assert "🙋 *Claimed* by Bob" in everything(text, blocks)
    assert [action for action, _ in buttons(blocks)] == [
        "ticket_release",
        "ticket_escalate",
        "ticket_resolve",
        "ticket_reject",
        "solution_reply",
        "ticket_link",
        "ticket_declare_major",
    ]


@pytest.mark.parametrize("status", [Status.REJECTED, Status.CANCELLED])
def test_closed_cards_have_no_buttons(status: Status) -> None:
    _, blocks = ticket_card(replace(TICKET, status=status), CardHistory(), CONFIG)
    assert buttons(blocks) == []


def test_a_closed_card_can_only_be_saved_as_a_solution() -> None:
    _, blocks = ticket_card(replace(TICKET, status=Status.CLOSED), CardHistory(), CONFIG)
    assert buttons(blocks) == [("solution_save", "Save as solution")]


def test_card_lists_the_solutions_offered_before_filing_escaped() -> None:
    history = CardHistory(offered=("Paper jam <E13>", "Faded pages"))
    shown = everything(*ticket_card(TICKET, history, CONFIG))
    assert "Offered before filing, did not help: Paper jam &lt;E13&gt;; Faded pages" in shown
    assert "Offered before filing" not in everything(*ticket_card(TICKET, CardHistory(), CONFIG))


def test_card_tells_resolution_reopening_escalation_and_delivery_problems() -> None:
    resolved = replace(TICKET, status=Status.RESOLVED, assignee="U0BOB", assignee_name="Bob")
    shown = everything(*ticket_card(resolved, CardHistory("resolve", "Replaced the fuser"), CONFIG))
    assert "Resolved* by Bob" in shown and "Resolution: Replaced the fuser" in shown
    assert buttons(ticket_card(resolved, CardHistory(), CONFIG)[1]) == [
        ("solution_reply", "Reply with a solution"),
        ("solution_save", "Save as solution"),
    ]

    reopened = replace(resolved, status=Status.CLAIMED)
    shown = everything(*ticket_card(reopened, CardHistory("reopen", "Replaced the fuser"), CONFIG))
    assert "Reopened" in shown and "Replaced the fuser" not in shown

    closed = replace(resolved, status=Status.CLOSED)
    shown = everything(*ticket_card(closed, CardHistory("confirm", "Replaced the fuser"), CONFIG))
    assert "the requester confirmed the fix" in shown

    escalated = replace(
        resolved, status=Status.ESCALATED, line="equipment", delivery_problem="user blocked the bot"
    )
    shown = everything(*ticket_card(escalated, CardHistory(), CONFIG))
    assert "Escalated* to Special equipment; owner Bob" in shown
    assert "⚠️ Cannot reach the requester: user blocked the bot" in shown


def test_a_linked_ticket_collapses_to_one_line_with_unlink() -> None:
    linked = replace(
        TICKET, status=Status.LINKED, parent=3, delivery_problem="user blocked the bot"
    )
    text, blocks = ticket_card(linked, CardHistory("link"), CONFIG)
    assert text == "#7 linked to #3"
    assert [b["type"] for b in blocks] == ["section", "actions"]
    line = blocks[0]["text"]["text"]
    assert line == ("🔗 #7 · Alice Brown (Telegram, @alice): linked to #3 · ⚠️ user blocked the bot")
    assert buttons(blocks) == [("ticket_unlink", "Unlink")]
    resolved = replace(linked, status=Status.RESOLVED, assignee_name="Bob")
    shown = everything(*ticket_card(resolved, CardHistory("resolve", "Switch replaced"), CONFIG))
    assert "🔗 Resolved with the incident #3" in shown and "Resolution: Switch replaced" in shown


def test_an_incident_card_shows_its_reach_the_last_broadcast_and_broadcast() -> None:
    owned = {"assignee": "U0BOB", "assignee_name": "Bob"}
    incident = replace(
        TICKET, status=Status.CLAIMED, major=True, incident_title="Printers <down>", **owned
    )
    history = CardHistory(
        "claim", linked=41, affected=42, broadcast="41 of 42 delivered, 1 not reached: <b> (#9)"
    )
    shown = everything(*ticket_card(incident, history, CONFIG))
    assert "🚨 *Major incident* “Printers &lt;down&gt;”: 42 people affected, 41 linked" in shown
    assert "📣 Last broadcast: 41 of 42 delivered, 1 not reached: &lt;b&gt; (#9)" in shown
    assert "💬 Replies to this card reach only Alice Brown; use Broadcast to tell all 42" in shown
    actions = [action for action, _ in buttons(ticket_card(incident, history, CONFIG)[1])]
    assert actions[-1] == "ticket_broadcast"
    assert "ticket_link" not in actions and "ticket_declare_major" not in actions


def test_replies_reach_only_the_incidents_requester_said_while_others_are_affected() -> None:
    incident = replace(
        TICKET,
        status=Status.CLAIMED,
        major=True,
        requester=replace(TICKET.requester, name="Alice <b>"),
    )
    alone = everything(*ticket_card(incident, CardHistory("claim", affected=1), CONFIG))
    assert "Replies to this card" not in alone
    shown = everything(*ticket_card(incident, CardHistory("claim", affected=3), CONFIG))
    assert "reach only Alice &lt;b&gt;; use Broadcast to tell all 3 affected" in shown
    in_telegram = operator_card(incident, CardHistory("claim", affected=3), CONFIG)
    assert "reach only Alice &lt;b&gt;; use Broadcast to tell all 3 affected" in in_telegram
    closed = replace(incident, status=Status.CLOSED)
    assert "Replies to this card" not in everything(
        *ticket_card(closed, CardHistory("confirm", affected=3), CONFIG)
    )


def test_link_modal_suggests_incidents_and_takes_a_typed_number() -> None:
    incident = replace(TICKET, number=3, major=True, description="Printers down <!here>")
    view = link_modal(TICKET, [incident, replace(TICKET, number=5)])
    assert view["callback_id"] == "incident_link_modal" and view["private_metadata"] == "7"
    options = view["blocks"][1]["element"]["options"]
    assert [o["text"]["text"] for o in options] == [
        "#3 🚨 Printers down <!here>",  # plain text: Slack shows it as typed
        "#5 The printer on the 3rd floor jams on every page",
    ]
    assert [o["value"] for o in options] == ["3", "5"]
    assert link_modal(TICKET, [])["blocks"][1]["optional"] is False

    def submitted(typed: str, chosen: str) -> dict:
        values = {"parent_number": {"parent_number": {"value": typed}}}
        if chosen:
            values["parent"] = {"parent": {"selected_option": {"value": chosen}}}
        return {"state": {"values": values}}

    assert parent_number(submitted("#12", "3")) == 12
    assert parent_number(submitted("", "3")) == 3
    assert parent_number(submitted("twelve", "")) is None
    assert parent_number(submitted("", "")) is None


def test_declare_modal_asks_the_title_requesters_will_see() -> None:
    view = declare_modal(TICKET)
    assert view["callback_id"] == "incident_declare_modal" and view["private_metadata"] == "7"
    element = view["blocks"][1]["element"]
    assert element["initial_value"] == "The printer on the 3rd floor jams on every page"
    assert "no names or personal data" in view["blocks"][1]["label"]["text"]


def test_broadcast_modal_says_how_many_it_reaches() -> None:
    view = broadcast_modal(replace(TICKET, major=True), 42)
    assert view["callback_id"] == "incident_broadcast_modal"
    assert "Goes to 42 people" in json.dumps(view)


def test_mention_injection_on_the_card_stays_inert() -> None:
    evil = replace(
        TICKET,
        requester=Requester("slack", "U0USER", "<!channel> Eve", ""),
        description=INJECTION,
        location="<@U0BOSS>",
        asset="<#C0SECRET>",
    )
    text, blocks = ticket_card(evil, CardHistory(), CONFIG)
    shown = everything(text, blocks)
    for raw in ("<!channel>", "<!here", "<!everyone>", "<@U0BOSS>", "<#C0SECRET>", "<https://"):
        assert raw not in shown, raw
    assert "&lt;!channel&gt; Eve (Slack, <@U0USER>)" in shown  # only our own mention is live
    assert "&lt;https://evil.example|click&gt;" in card_text(evil, CardHistory(), CONFIG)


def test_card_fits_slack_limits_with_a_huge_description() -> None:
    _, blocks = ticket_card(replace(TICKET, description="<" * 5000), CardHistory(), CONFIG)
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def test_ticket_list_shows_owner_and_age() -> None:
    claimed = replace(TICKET, number=8, status=Status.CLAIMED, assignee_name="Bob")
    text = ticket_list([TICKET, claimed], CONFIG, NOW + timedelta(hours=2, minutes=5))
    lines = text.splitlines()
    assert lines[0] == "*Open tickets (2), oldest first:*"
    assert lines[1].startswith("🟠 #7 · P2") and lines[1].endswith("_unclaimed_ · 2h 05m")
    assert lines[2].endswith("Bob · 2h 05m")
    assert ticket_list([], CONFIG, NOW) == "No open tickets. 🎉"


def test_ticket_list_marks_incidents_and_their_linked_tickets() -> None:
    incident = replace(TICKET, number=3, major=True)
    linked = replace(TICKET, status=Status.LINKED, parent=3)
    lines = ticket_list([incident, linked], CONFIG, NOW).splitlines()
    assert lines[1].startswith("🟠 #3 · P2 · Printers and office equipment · 🚨 major incident")
    assert lines[2].endswith("· 🔗 linked to #3 · 0m")


# --- replies, relays, views ---------------------------------------------------------------------


def test_reply_without_buttons_is_plain_escaped_text() -> None:
    assert reply_message(Reply("Bob says: <!here> a&b")) == ("Bob says: &lt;!here&gt; a&amp;b", [])


def test_reply_buttons_become_an_actions_block_with_unique_ids() -> None:
    reply = Reply(
        "Did this solve the problem?",
        ((Button("Yes, it works", "c:7:yes", "primary"), Button("No", "c:7:no", "danger")),),
    )
    text, blocks = reply_message(reply)
    assert text == "Did this solve the problem?"
    assert blocks[0]["text"]["text"] == "Did this solve the problem?"
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"], e.get("style")) for e in actions["elements"]] == [
        ("hd_btn_0", "c:7:yes", "primary"),
        ("hd_btn_1", "c:7:no", "danger"),
    ]


def test_answered_message_loses_its_buttons() -> None:
    _, blocks = reply_message(Reply("Urgent?", ((Button("Yes", "i:urgency:high"),),)))
    after = answered(blocks, "Yes <b>")
    assert [b["type"] for b in after] == ["section", "context"]
    assert after[-1]["elements"][0]["text"] == "› Yes &lt;b&gt;"


def test_relay_text_escapes_author_and_text() -> None:
    assert relay_text("<@U0BOSS>", "hi <!channel>") == (
        "*&lt;@U0BOSS&gt;* (requester): hi &lt;!channel&gt;"
    )
    file = FileRef("photo", "x", "telegram")
    assert relay_text("Alice", "", file).endswith("📎 photo (kept in Telegram, not copied here)")


def test_note_modal_and_home_view() -> None:
    modal = note_modal("resolve", TICKET)
    assert (modal["callback_id"], modal["private_metadata"]) == ("resolve", "7")
    assert modal["blocks"][-1]["block_id"] == "note"
    assert len(modal["title"]["text"]) <= 24

    home = home_view("en", ["#7 · Printers · in progress"])
    assert home["type"] == "home"
    assert buttons(home["blocks"]) == [("home_new_ticket", "New request")]
    assert "#7 · Printers · in progress" in json.dumps(home, ensure_ascii=False)
    assert len(home_view("en", [])["blocks"]) == 1


# --- inbound: Slack markup to plain text --------------------------------------------------------


def test_from_slack_gives_back_what_the_person_typed() -> None:
    names = {"U0BOB": "Bob"}
    assert from_slack("a &lt; b &amp;&amp; c &gt; d", names) == "a < b && c > d"
    assert from_slack("ask <@U0BOB> or <@U0X|xavier> in <#C1|it-help>", names) == (
        "ask @Bob or @xavier in #it-help"
    )
    assert from_slack("<!here> <!subteam^S1|@admins> <!date^1|Nov 23>") == "@here @admins Nov 23"
    assert from_slack("see <https://wiki.example/printers|the wiki> or <https://x.example>") == (
        "see the wiki (https://wiki.example/printers) or https://x.example"
    )
    assert from_slack("<mailto:it@example.com|it@example.com>") == "it@example.com"
    assert mentioned("<@U0BOB> and <@W0ALICE|alice>") == ["U0BOB", "W0ALICE"]


def test_markup_typed_by_a_requester_stays_inert_after_the_round_trip() -> None:
    typed = from_slack("&lt;!channel&gt; <!channel> <https://evil.example|click>")
    assert typed == "<!channel> @channel click (https://evil.example)"
    assert escape_mrkdwn(typed) == ("&lt;!channel&gt; @\u2060channel click (https://evil.example)")


def test_commands_in_dm_texts_are_bare_words_in_slack() -> None:
    from bot.slack_blocks import as_dm_commands

    assert as_dm_commands("Write /new to start, /status to see; a/new path") == (
        "Write `new` to start, `status` to see; a/new path"
    )


@pytest.mark.parametrize(
    ("target", "markup"),
    [("U123ABC", "<@U123ABC>"), ("S0ONCALL", "<!subteam^S0ONCALL>"), ("<!here>", "<!here>")],
)
def test_ping_markup(target: str, markup: str) -> None:
    assert mention(target) == markup


def test_telegram_and_slack_pieces_fit_and_keep_entities_whole() -> None:
    html = partial(escape, quote=False)
    assert pieces_within("short & sweet", 4096, html) == ["short &amp; sweet"]
    pieces = pieces_within("<b>" * 2000, 4096, html)
    assert [len(p) for p in pieces] == [4095, 4095, 4095, 4095, 1620]
    assert "".join(pieces) == "&lt;b&gt;" * 2000
    assert all(p.count("&") == p.count(";") for p in pieces)


# --- Block Kit limits ---------------------------------------------------------------------------

HUGE = "&<" * 1250  # 2,500 characters, each escaped to four or five


@pytest.mark.parametrize("status", list(Status))
async def test_a_card_of_huge_fields_still_posts(status: Status) -> None:
    """Every value a person typed or a profile gave is clipped to fit Slack's block limits, so
    the stand-in (which answers invalid_blocks like Slack) takes the card in every state."""
    ticket = replace(
        TICKET,
        status=status,
        requester=Requester("telegram", "1001", HUGE, HUGE),
        description=HUGE,
        location=HUGE,
        phone=HUGE,
        asset=HUGE,
        assignee="U0BOB",
        assignee_name=HUGE,
        line="sysadmins",
        specialist="U0SAM",
        specialist_name=HUGE,
        delivery_problem=HUGE,
        csat_rating=4 if status == Status.CLOSED else None,
        csat_comment=HUGE,
    )
    history = CardHistory(last_action=Action.REOPEN, note=HUGE, escalation_note=HUGE, sla="⏱")
    cards = [ticket_card(ticket, history, CONFIG)]
    cards += [
        specialist_card(ticket, history, CONFIG, line.id, ["<!here>"]) for line in CONFIG.lines
    ]
    async with FakeSlackAPI() as fake:
        fake.add_channel("C1", "it-operators")
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        for text, blocks in cards:
            assert (await client.chat_postMessage(channel="C1", text=text, blocks=blocks))["ok"]
    shown = json.dumps(cards[0][1], ensure_ascii=False)
    assert "&amp;&lt;" in shown and "…" in shown  # clipped, still escaped


# --- known solutions ------------------------------------------------------------------------------


def test_save_as_solution_is_prefilled_from_the_ticket() -> None:
    view = save_solution_modal(replace(TICKET, description="Printer\n  jams  <E13>"), "Tray 2")
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert view["callback_id"] == "solution_save" and view["private_metadata"] == "7"
    assert inputs["title"]["element"]["initial_value"] == "Printer jams <E13>"  # plain text
    assert inputs["answer"]["element"]["initial_value"] == "Tray 2"
    assert inputs["keywords"]["optional"] and inputs["link"]["optional"]
    assert "initial_value" not in inputs["keywords"]["element"]


def test_reply_picker_groups_solutions_and_saved_replies_in_the_requesters_language() -> None:
    jam = KnownSolution(3, "jam", {"en": "Paper jam", "uk": "Зам'ятий папір"}, {"en": "Tray 2"})
    restart = SavedReplyText(5, "restart", {"en": "Restart"}, {"en": "Please restart."})
    view = reply_picker_modal(replace(TICKET, language="uk"), [jam], [restart])
    (pick,) = [b for b in view["blocks"] if b["type"] == "input"]
    groups = pick["element"]["option_groups"]
    assert [(g["label"]["text"], [o["value"] for o in g["options"]]) for g in groups] == [
        ("Known solutions", ["solution:3"]),
        ("Saved replies", ["reply:5"]),
    ]
    assert groups[0]["options"][0]["text"]["text"] == "Зам'ятий папір"
    chosen = {"state": {"values": {"pick": {"pick": static_select_value("reply:5")}}}}
    assert picked(chosen) == ("reply", 5)
    assert picked({"state": {"values": {"pick": {"pick": static_select_value("x:1")}}}}) is None


def test_reply_picker_without_anything_to_pick_cannot_be_submitted() -> None:
    view = reply_picker_modal(TICKET, [], [])
    assert "submit" not in view and "No known solutions" in json.dumps(view)
