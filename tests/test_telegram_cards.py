"""Telegram HTML for the desk's groups: escaping of user text, topic names, buttons by status,
mentions; the stand-in Bot API's HTML parser checks every card parses as Telegram would."""

from __future__ import annotations

from dataclasses import replace

from bot import telegram_cards as cards
from bot import telegram_incidents, telegram_solutions
from bot.card_words import CardHistory
from bot.standins.telegram_api import parse_html
from handlers.config import ID_MAX, DeskConfig
from handlers.intake import Step, choice
from handlers.known_answers import Picks
from handlers.outbound import FileRef
from handlers.solutions import KnownSolution, SavedReplyText
from handlers.tickets import Status
from tests.test_slack_blocks import TICKET

CONFIG = DeskConfig()
HOSTILE = '<a href="https://evil.example">click</a> <b>bold</b> & <script>'


def test_every_user_text_is_escaped_and_the_card_parses() -> None:
    ticket = replace(TICKET, description=HOSTILE, location=HOSTILE, asset="<i>x</i>")
    ticket = replace(ticket, requester=replace(ticket.requester, name="<b>Eve</b>"))
    history = CardHistory(note=HOSTILE)
    for status in Status:
        text = cards.operator_card(replace(ticket, status=status), history, CONFIG)
        plain, entities = parse_html(text)  # raises as Telegram would on broken markup
        assert "<b>Eve</b>" in plain
        assert HOSTILE in plain or status is Status.LINKED  # a linked card is one line
        assert all(entity["type"] == "bold" for entity in entities)
        assert "href" not in text.replace("&lt;a href", "")
    relay = cards.relay("<b>Eve</b>", HOSTILE, "requester", FileRef("photo", "F", "slack"))
    plain, entities = parse_html(relay)
    assert HOSTILE in plain and [e["type"] for e in entities] == ["bold"]


def test_topic_name_shows_status_number_category_and_a_short_name() -> None:
    assert cards.topic_name(TICKET, CONFIG) == "🆕 #7 · Printers and office equipment · Alice B."
    closed = replace(TICKET, status=Status.CLOSED)
    assert cards.topic_name(closed, CONFIG).startswith("🔒 #7")
    long_name = replace(TICKET, requester=replace(TICKET.requester, name="X" * 300))
    assert len(cards.topic_name(long_name, CONFIG)) <= cards.TOPIC_NAME_LIMIT


def test_buttons_follow_the_status_and_fit_telegram() -> None:
    def labels(status: Status) -> list[str]:
        rows = cards.operator_buttons(replace(TICKET, status=status), CardHistory())
        return [label for row in rows for label, _ in row]

    more = ["Reply with a solution", "Link to…", "Declare major incident"]
    assert labels(Status.NEW) == ["Claim", "Escalate", "Resolve", "Reject", *more]
    assert labels(Status.CLAIMED) == ["Release", "Escalate", "Resolve", "Reject", *more]
    assert labels(Status.RESOLVED) == ["Reply with a solution", "Save as solution"]
    assert labels(Status.CLOSED) == ["Save as solution"]
    assert labels(Status.LINKED) == ["Unlink"]
    escalated = replace(TICKET, status=Status.ESCALATED, line="sysadmins")
    spec = cards.specialist_buttons(escalated, "sysadmins")
    assert [label for label, _ in spec[0]] == ["Take", "Resolve", "Return"]
    assert cards.specialist_buttons(escalated, "pos") == []
    every = [d for row in cards.line_picker(TICKET, CONFIG) for _, d in row]
    every += [d for row in cards.impact_picker(7, "sysadmins") for _, d in row]
    assert all(len(d.encode()) <= 64 and cards.parse(d) for d in every)


def test_button_data_is_parsed_strictly() -> None:
    assert cards.parse("hd:claim:12") == ("claim", 12, [])
    assert cards.parse("hd:impact:12:pos:high") == ("impact", 12, ["pos", "high"])
    assert cards.parse("hd:claim:twelve") is None
    assert cards.parse("hd:claim:" + "9" * 19) is None
    assert cards.parse("c:12:yes") is None
    assert cards.parse("hd:claim:12:extra") is None  # a move takes its own extras only
    assert cards.parse("hd:impact:12:pos:huge") is None
    assert cards.parse("hd:nonsense:12") is None
    assert cards.parse("hd:link_to:12:34") == ("link_to", 12, ["34"])
    assert cards.parse("hd:link_to:12:#34") is None
    assert cards.parse("hd:pick:12:s5") == ("pick", 12, ["s5"])
    assert cards.parse("hd:pick:12:x5") is None
    assert cards.parse("hd:sol_edit:12:title") == ("sol_edit", 12, ["title"])
    assert cards.parse("hd:sol_edit:12:keywords") == ("sol_edit", 12, ["keywords"])
    assert cards.parse("hd:sol_edit:12:category") is None
    assert cards.parse("hd:sol_link:12:345") == ("sol_link", 12, ["345"])
    assert cards.parse("hd:sol_link:12:http") is None


def test_a_major_incident_card_shows_its_reach_and_its_buttons() -> None:
    major = replace(TICKET, status=Status.CLAIMED, major=True, incident_title="<b>Wi-Fi</b> down")
    history = CardHistory(linked=3, affected=4, broadcast="3 of 4 delivered, 1 not reached")
    text = cards.operator_card(major, history, CONFIG)
    plain, _ = parse_html(text)
    assert "Major incident “<b>Wi-Fi</b> down”: 4 people affected, 3 linked" in plain
    assert "📣 Last broadcast: 3 of 4 delivered, 1 not reached" in plain
    rows = cards.operator_buttons(major, history)
    assert rows[-1] == [("Broadcast", "hd:broadcast:7")]  # no Link to…: it has children


def test_a_linked_ticket_collapses_to_one_line_with_unlink() -> None:
    child = replace(TICKET, status=Status.LINKED, parent=3, number=999_999_999_999_999_999)
    text = cards.operator_card(child, CardHistory(), CONFIG)
    assert "\n" not in text and text.endswith("linked to #3")
    assert cards.topic_name(child, CONFIG).startswith("🔗 #")
    [[(label, data)]] = cards.operator_buttons(child, CardHistory())
    assert label == "Unlink" and len(data.encode()) <= 64 and cards.parse(data)
    major = replace(TICKET, number=3, major=True)
    listed = cards.ticket_list([major, child], CONFIG, TICKET.created_at)
    assert "#3 · P2 · Printers and office equipment · 🚨 major incident" in listed
    assert listed.endswith("🔗 linked to #3 · 0m")


def test_mentions_link_ids_and_keep_usernames() -> None:
    assert cards.notice("⏰ #7", ("@sam", "2001")) == (
        '⏰ #7 @sam <a href="tg://user?id=2001">2001</a>'
    )
    assert cards.mention("<b>") == "&lt;b&gt;"


# --- the pickers and the solution draft -------------------------------------------------------


def test_pickers_fit_telegram_and_carry_their_moves() -> None:
    big = 999_999_999_999_999_999  # the largest ticket number a button carries
    ticket = replace(TICKET, number=big, language="en")
    parents = [replace(TICKET, number=big - i, description="X" * 300, major=i == 1) for i in (1, 2)]
    text, keyboard = telegram_incidents.link_picker(ticket, parents)
    assert parse_html(text)[0].endswith(f"\nhd:link:{big}")
    assert keyboard[0][0][0].startswith(f"#{big - 1} 🚨 XXX")
    solutions = [KnownSolution(big, None, {"en": HOSTILE}, {"en": "a"}) for _ in range(9)]
    replies = [SavedReplyText(big, None, {"en": "Restart"}, {"en": "b"})]
    text, picks = telegram_solutions.reply_picker(big, Picks(ticket, solutions, replies))
    labels = [label for row in picks for label, _ in row]
    assert len(labels) == telegram_solutions.SHOWN + 1 and labels[-1] == "💬 Restart"
    assert all(len(label) <= telegram_solutions.LABEL_LIMIT + 2 for label in labels)
    every = [
        d for row in [*keyboard, *picks, *telegram_solutions.draft_buttons(big)] for _, d in row
    ]
    assert all(len(d.encode()) <= 64 and cards.parse(d) for d in every)


LINK = "https://wiki.example.org/scanners?q=1&x=<2>"


def test_a_solution_draft_reads_back_as_telegram_hands_it_over() -> None:
    Draft = telegram_solutions.Draft
    found = Draft(f"{HOSTILE}\n second line", f"{HOSTILE}\nstep 2", ("E13", HOSTILE), LINK)
    plain, entities = parse_html(telegram_solutions.draft(7, found))
    assert entities == []
    title = f"{HOSTILE} second line"  # a title is one line
    assert telegram_solutions.read_draft(7, plain) == replace(found, title=title)
    assert telegram_solutions.read_draft(8, plain) is None  # another ticket's draft
    assert telegram_solutions.read_draft(7, "💡 Save #7 as a known solution?") is None
    empty, _ = parse_html(telegram_solutions.draft(7, Draft("Scanner", "")))
    assert telegram_solutions.read_draft(7, empty.rstrip()) == Draft("Scanner", "")  # trimmed
    sent = telegram_solutions.sent_text("<b>Bob</b>", HOSTILE, HOSTILE)
    assert parse_html(sent)[0] == f"<b>Bob</b> sent “{HOSTILE}”:\n{HOSTILE}"


def test_an_edit_prompt_carries_the_parts_it_leaves_and_the_answer_sets_one() -> None:
    solutions = telegram_solutions
    found = solutions.Draft("Scanner offline", "Press reset.\nTitle: not a title", ("scan",), LINK)
    for part in ("title", "answer", "keywords", "link"):
        ask = f"✍️ Solution from #7: reply.\nhd:sol_{part}:7:5\n"
        carried, _ = parse_html(ask + solutions.body(found, part))
        typed = {"title": "New\ntitle", "answer": " New answer ", "keywords": "a, ,b ,c d"}
        changed = solutions.edited(solutions.fields(carried), part, typed.get(part, LINK + "/x"))
        expected = {
            "title": replace(found, title="New title"),
            "answer": replace(found, answer="New answer"),
            "keywords": replace(found, keywords=("a", "b", "c d")),
            "link": replace(found, link=LINK + "/x"),
        }
        assert changed == expected[part]
        assert solutions.fault(changed) == ""
    assert solutions.edited(found, "keywords", "-").keywords == ()
    assert solutions.edited(found, "link", " - ").link == ""
    for bad in ("wiki.example.org/e13", "ftp://wiki.example.org", "https://", "https://a b"):
        assert "http(s) address" in solutions.fault(solutions.edited(found, "link", bad))
    assert "At most 150" in solutions.fault(replace(found, title="x" * 151))


def test_the_longest_line_and_category_ids_fit_telegrams_button_data() -> None:
    """The desk config allows ids of up to ID_MAX characters; their buttons stay within
    Telegram's 64 bytes at the largest ticket number a button carries (18 digits)."""
    line_id = "l" * ID_MAX
    every = [d for row in cards.impact_picker(999_999_999_999_999_999, line_id) for _, d in row]
    assert all(len(d.encode()) <= 64 and cards.parse(d) for d in every)
    assert len(choice(Step.CATEGORY, "c" * ID_MAX).encode()) <= 64
