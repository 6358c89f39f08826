"""Major incidents: the pure rules (links, matching, delivery tally) and their storage."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import report_render as render
from escalation.sla import Kind
from handlers import incidents, intake
from handlers.batch import Batch
from handlers.config import DeskConfig
from handlers.incidents import Recipient
from handlers.messages import UserRef
from handlers.report_query import report as report_of
from handlers.reports import Period, Times
from handlers.tickets import Level, Requester, Status, Ticket
from storage import incidents as store_incidents
from storage import sla_clocks
from storage import tickets as store
from storage.db import SessionFactory
from storage.models import OutboxRow
from tests.conftest import Clock
from tests.factories import DRAFT, file_ticket, make_desk

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ticket(number: int, category: str, description: str, **fields: object) -> Ticket:
    base = Ticket(
        requester=Requester("telegram", str(1000 + number), f"User {number}"),
        category=category,
        description=description,
        location="HQ",
        phone="+380671234567",
        urgency=Level.HIGH,
        impact=Level.MEDIUM,
        created_at=NOW,
        number=number,
    )
    return replace(base, **fields)


OUTAGE = ticket(1, "network", "Wi-Fi is down on the whole 3rd floor, no internet", major=True)
PRINTER = ticket(2, "printers", "The printer on the 3rd floor jams", major=True)


def test_words_are_compared_by_stem_and_common_words_do_not_count() -> None:
    assert incidents.words("Printers are NOT printing today, please help") == {"print"}
    assert incidents.words("Мережа не працює") == incidents.words("мережі немає") == {"мереж"}


def test_a_request_matches_the_open_incident_of_its_category_that_shares_its_words() -> None:
    found = incidents.match("network", "no internet on the 3rd floor wifi", [PRINTER, OUTAGE])
    assert found is not None
    assert found.number == 1
    assert set(found.shared) >= {"inter", "floor"}


def test_no_match_across_categories_or_on_a_single_shared_word() -> None:
    assert incidents.match("printers", "no internet on the 3rd floor wifi", [OUTAGE]) is None
    assert incidents.match("network", "my VPN client shows a floor error", [OUTAGE]) is None
    assert incidents.match("network", "???", [OUTAGE]) is None


def test_a_resolved_incident_is_not_offered() -> None:
    resolved = replace(OUTAGE, status=Status.RESOLVED)
    assert incidents.match("network", "no internet on the 3rd floor wifi", [resolved]) is None


def test_the_best_share_wins_and_the_older_incident_a_tie() -> None:
    other = ticket(3, "network", "internet down in the warehouse floor", major=True)
    found = incidents.match("network", "internet floor", [other, OUTAGE])
    assert found is not None and found.number == 1
    closer = incidents.match("network", "warehouse internet down", [other, OUTAGE])
    assert closer is not None and closer.number == 3


def test_link_refusals_say_why() -> None:
    child = ticket(5, "network", "no wifi")
    assert incidents.link_refusal(child, child, False) == "Ticket #5 cannot be linked to itself."
    nested = replace(PRINTER, parent=1)
    assert "link to #1 instead" in (incidents.link_refusal(child, nested, False) or "")
    closed = replace(OUTAGE, status=Status.CLOSED)
    assert "#1 is closed" in (incidents.link_refusal(child, closed, False) or "")
    assert "has tickets linked" in (incidents.link_refusal(child, OUTAGE, True) or "")
    linked = replace(child, parent=1)
    assert "already linked" in (incidents.link_refusal(linked, OUTAGE, False) or "")
    assert incidents.link_refusal(child, OUTAGE, False) is None


def test_title_is_the_first_line_cut_to_size() -> None:
    assert incidents.title("Short one\nmore detail") == "Short one"
    long = incidents.title("word " * 40)
    assert len(long) <= incidents.TITLE_LENGTH and long.endswith("…")


def test_each_requester_is_a_recipient_once() -> None:
    first = ticket(4, "network", "a")
    again = replace(ticket(6, "network", "b"), requester=first.requester)
    other = ticket(5, "network", "c", language="uk")
    assert incidents.recipients([again, other, first]) == [
        Recipient("telegram", "1004", "en", 4),
        Recipient("telegram", "1005", "uk", 5),
    ]


def test_tally_reads_like_the_card_says_it() -> None:
    tally = incidents.tally(42, 41, [("user blocked the bot", 17)])
    assert tally.text() == "41 of 42 delivered, 1 not reached: user blocked the bot (#17)"
    assert incidents.tally(3, 1, []).text() == "1 of 3 delivered, 2 on the way"


# --- storage ----------------------------------------------------------------------------------


async def link_in(session: AsyncSession, child: int, parent: int, now: datetime) -> Ticket:
    """Ticket ``child`` linked to ``parent`` straight in storage."""
    incident, ticket = await store.get(session, parent), await store.get(session, child)
    return await store_incidents.link(session, ticket, incident, "op", now)


def person(n: int) -> UserRef:
    return UserRef("telegram", str(2000 + n), f"Person {n}")


async def test_linking_makes_the_parent_major_holds_the_child_and_is_audited(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    parent = await file_ticket(desk, person(1), "t1")
    kids = [await file_ticket(desk, person(n), f"t{n}") for n in (2, 3)]
    again = await file_ticket(desk, person(2), "t4")  # the same person, a second ticket
    async with sessions.begin() as session:
        for kid in (*kids, again):
            linked = await link_in(session, kid, parent, clock.now)
            assert (linked.status, linked.parent) == (Status.LINKED, parent)
        assert (await store.get(session, parent)).major
        assert [t.number for t in await store_incidents.children(session, parent)] == [
            *kids,
            again,
        ]
        assert await store_incidents.affected_requesters(session, parent) == 3
        assert await store_incidents.has_children(session, parent)
        incident = await store.get(session, parent)
        assert await store_incidents.declare_major(session, incident, "op", clock.now) == incident
        parent_events = [e.action for e in await store.events(session, parent)]
        child_events = [(e.action, e.note) for e in await store.events(session, kids[0])]
    assert parent_events == ["open", "declare_major"]
    assert child_events[-1] == ("link", f"to #{parent}")


async def test_unlinking_puts_the_child_back_in_the_queue_unowned(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    parent = await file_ticket(desk, person(1), "t1")
    child = await file_ticket(desk, person(2), "t2")
    await desk.operators.claim(child, UserRef("slack", "U1", "Olena"), "c1")
    async with sessions.begin() as session:
        linked = await link_in(session, child, parent, clock.now)
        back = await store_incidents.unlink(session, linked, "op", clock.now)
        events = [(e.action, e.before, e.after) for e in await store.events(session, child)]
    assert (back.status, back.parent, back.assignee) == (Status.NEW, None, None)
    assert events[-1] == ("unlink", "linked", "new")


async def test_a_linked_childs_clocks_hold_still(sessions: SessionFactory, clock: Clock) -> None:
    desk = make_desk(sessions, clock)
    parent = await file_ticket(desk, person(1), "t1")
    child = await file_ticket(desk, person(2), "t2")
    async with sessions.begin() as session:
        linked = await link_in(session, child, parent, clock.now)
        await desk.service.changed(Batch(session, "link", clock.now), linked)
        clocks = await sla_clocks.load(session, child)
    # the requester heard it is a known problem: responded; the resolution clock holds still
    assert clocks[Kind.RESPOND].stopped and linked.first_response_at == clock.now
    assert clocks[Kind.RESOLVE].running_since is None and not clocks[Kind.RESOLVE].stopped
    held = clocks[Kind.RESOLVE].consumed
    clock.advance(hours=3)
    assert (await desk.incidents.unlink(child, OLENA, "u1")).ok
    async with sessions() as session:
        resumed = (await sla_clocks.load(session, child))[Kind.RESOLVE]
    assert resumed.running_since == clock.now and resumed.consumed == held  # 3 h not counted


async def test_open_incidents_and_link_candidates(sessions: SessionFactory, clock: Clock) -> None:
    desk = make_desk(sessions, clock)
    old = await file_ticket(desk, person(1), "t1")
    clock.advance(hours=5)
    parent = await file_ticket(desk, person(2), "t2")
    recent = await file_ticket(desk, person(3), "t3")
    me = await file_ticket(desk, person(4), "t4")
    async with sessions.begin() as session:
        incident = await store.get(session, parent)
        await store_incidents.declare_major(session, incident, "op", clock.now)
        assert [t.number for t in await store_incidents.open_incidents(session, "printers")] == [
            parent
        ]
        assert await store_incidents.open_incidents(session, "network") == []
        since = clock.now - timedelta(hours=2)
        found = await store_incidents.link_candidates(session, "printers", since, me)
    assert [t.number for t in found] == [parent, recent]
    assert old not in [t.number for t in found]


async def test_a_broadcast_counts_each_recipient_once(sessions: SessionFactory, clock: Clock):
    desk = make_desk(sessions, clock)
    parent = await file_ticket(desk, person(1), "t1")
    to = [Recipient("telegram", str(n), "en", parent) for n in (1, 2, 3)]
    async with sessions.begin() as session:
        assert await store_incidents.latest_tally(session, parent) is None
        incident = await store.get(session, parent)
        sent = await store_incidents.start_broadcast(
            session, incident, "ETA 30", "op", clock.now, to
        )
        assert await store_incidents.settle(session, sent, "telegram", "1", None) == parent
        assert await store_incidents.settle(session, sent, "telegram", "1", None) is None
        await store_incidents.settle(session, sent, "telegram", "2", "user blocked the bot")
        tally = await store_incidents.latest_tally(session, parent)
        events = [(e.action, e.note) for e in await store.events(session, parent)]
    assert tally is not None
    assert tally.text() == (
        f"1 of 3 delivered, 1 on the way, 1 not reached: user blocked the bot (#{parent})"
    )
    assert events[-1] == ("broadcast", "ETA 30")


# --- reports ----------------------------------------------------------------------------------


async def test_reports_count_an_incident_once_and_weigh_categories_by_people(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    bob = UserRef("slack", "U1", "Bob")
    opened = clock.now
    parent = await file_ticket(desk, person(1), "t1")  # printers
    kids = [await file_ticket(desk, person(n), f"t{n}") for n in (2, 3)]
    same_person = await file_ticket(desk, person(2), "t4")
    network = replace(DRAFT, category="network")
    elsewhere = await desk.requesters.file_ticket(person(5), "5", network, "t5")
    own = await file_ticket(desk, person(6), "t6")  # linked, then unlinked: its own again
    alone = await desk.requesters.file_ticket(person(7), "7", network, "t7")
    clock.advance(minutes=5)
    async with sessions.begin() as session:
        for kid in (*kids, same_person, elsewhere.number, own):
            linked = await link_in(session, kid, parent, clock.now)
        await store_incidents.unlink(session, linked, "op", clock.now)
    clock.advance(minutes=10)
    assert (await desk.operators.claim(parent, bob, "c1")).ok
    clock.advance(minutes=45)
    assert (await desk.operators.resolve(parent, bob, "fixed", "c2")).ok
    period = Period(opened, opened + timedelta(days=1), ZoneInfo("UTC"))
    async with sessions() as session:
        report = await report_of(session, period)

    assert report.opened == 3  # the incident, the unlinked ticket, the unrelated one
    assert report.linked == 4
    assert report.by_category == {"printers": 2, "network": 1}
    assert report.first_response.all.count == 1  # only the incident was answered
    assert report.resolution.all == Times(1, 3600.0, 3600.0)
    # people: printers = persons 1, 2, 3, 5 (linked from network) and 6; network = person 7
    assert report.hurts == {"printers": 5, "network": 1}
    [incident] = report.incidents
    assert (incident.number, incident.children, incident.people) == (parent, 4, 4)
    assert incident.categories == ("printers", "network")
    assert incident.duration == 3600.0
    assert incident.title == DRAFT.description
    assert alone.number not in {i.number for i in report.incidents}
    data = json.loads(render.to_json(report))
    assert data["incidents"][str(parent)]["people"] == 4
    assert data["people_affected"]["category"] == {"printers": 5, "network": 1}
    assert "Major incidents" in render.to_text(report)
    listing = json.dumps(render.stats_blocks(report))
    assert f"#{parent} {DRAFT.description}: 4 linked, 4 people" in listing


# --- offering an open incident during intake --------------------------------------------------

JAMS = ticket(
    9,
    "printers",
    "Printer on the 3rd floor jams on every page (Olena, room 301)",
    major=True,
    incident_title="Printers on the 3rd floor jam",
)


def at_description(**changes: object) -> intake.State:
    state = intake.start(NOW, DeskConfig(), "en", "Olena P.", PROFILE_KNOWN).state
    assert state is not None
    state = intake.step(state, intake.Input(choice="i:category:printers"), NOW, DeskConfig()).state
    assert state is not None and state.step == intake.Step.DESCRIPTION
    return replace(state, **changes)


PROFILE_KNOWN = intake.Profile(name="Olena Petrenko", phone="+380501112233", location="HQ 301")


def test_a_matching_incident_is_offered_right_after_the_description() -> None:
    state = at_description()
    assert intake.may_offer(state)
    said = intake.Input(text="the 3rd floor printer jams again")
    outcome = intake.step(state, said, NOW, DeskConfig(), incidents=[OUTAGE, JAMS])
    assert outcome.state is not None and outcome.state.step == intake.Step.INCIDENT
    [offer] = outcome.replies
    assert offer.text == (  # the operator's title, never the other requester's words
        "Is this about the known problem #9 (Printers and office equipment): "
        "Printers on the 3rd floor jam?"
    )
    labels = [(b.label, b.data) for row in offer.buttons for b in row]
    assert labels == [("Yes, add me", "i:incident:yes"), ("No, something else", "i:incident:no")]
    assert intake.State.from_json(outcome.state.to_json()) == outcome.state


def test_an_incident_without_a_title_is_offered_by_number_and_category() -> None:
    said = intake.Input(text="the 3rd floor printer jams again")
    untitled = replace(JAMS, incident_title="")
    [offer] = intake.step(at_description(), said, NOW, DeskConfig(), incidents=[untitled]).replies
    assert offer.text == "Is this about the known problem #9 (Printers and office equipment)?"


def test_yes_submits_the_draft_for_the_incident_with_the_remembered_profile() -> None:
    said = intake.Input(text="the 3rd floor printer jams again")
    offered = intake.step(at_description(), said, NOW, DeskConfig(), incidents=[JAMS]).state
    assert offered is not None
    outcome = intake.step(offered, intake.Input(choice="i:incident:yes"), NOW, DeskConfig())
    assert outcome.state is None and outcome.join == 9
    assert outcome.submit is not None
    assert (outcome.submit.category, outcome.submit.description) == (
        "printers",
        "the 3rd floor printer jams again",
    )
    assert (outcome.submit.name, outcome.submit.location, outcome.submit.urgency) == (
        "Olena Petrenko",
        "HQ 301",
        "medium",
    )


def test_no_goes_on_with_the_intake_and_never_asks_again() -> None:
    said = intake.Input(text="the 3rd floor printer jams again")
    offered = intake.step(at_description(), said, NOW, DeskConfig(), incidents=[JAMS]).state
    assert offered is not None
    outcome = intake.step(
        offered, intake.Input(choice="i:incident:no"), NOW, DeskConfig(), incidents=[JAMS]
    )
    assert outcome.state is not None and outcome.state.step == intake.Step.PROFILE
    assert not intake.may_offer(outcome.state)
    assert outcome.join == 0


def test_nothing_is_offered_without_a_match() -> None:
    said = intake.Input(text="my monitor flickers")
    outcome = intake.step(at_description(), said, NOW, DeskConfig(), incidents=[JAMS])
    assert outcome.state is not None and outcome.state.step == intake.Step.PROFILE


# --- the desk's incident use cases ------------------------------------------------------------

OLENA = UserRef("slack", "U0OLENA", "Olena")


async def texts_to(sessions: SessionFactory, platform: str, chat: str) -> list[str]:
    async with sessions() as session:
        stmt = select(OutboxRow).where(
            OutboxRow.destination == f"{platform}:{chat}", OutboxRow.kind == "text"
        )
        return [
            row.payload["text"]
            for row in (await session.execute(stmt.order_by(OutboxRow.id))).scalars()
        ]


async def test_link_tells_the_requester_and_refuses_what_makes_no_sense(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    incident_desk = desk.incidents
    parent = await file_ticket(desk, person(1), "t1")
    child = await file_ticket(desk, person(2), "t2")
    assert (await incident_desk.link(child, parent, OLENA, "l1")).ok
    known = f"This is a known problem (#{parent}); we will tell you when it is fixed."
    assert any(text.startswith(known) for text in await texts_to(sessions, "telegram", "2002"))

    refused = await incident_desk.link(parent, child, OLENA, "l2")
    assert not refused.ok and f"#{child} is itself linked to #{parent}" in refused.reason
    assert (await incident_desk.link(child, 999, OLENA, "l3")).reason == "There is no ticket #999."
    again = await incident_desk.link(child, parent, OLENA, "l4")
    assert again.reason == f"Ticket #{child} is already linked to #{parent}."
    declared = await incident_desk.declare_major(child, OLENA, "Printers down", "d1")
    assert declared.reason == f"Ticket #{child} is linked to #{parent}; unlink it first."

    assert (await incident_desk.unlink(child, OLENA, "u1")).ok
    assert (await desk.ticket(child)).status == Status.NEW  # type: ignore[union-attr]
    said = await texts_to(sessions, "telegram", "2002")
    assert (
        said[-1] == f"Your request #{child} is handled on its own again; an operator will take it."
    )
    assert not (await incident_desk.unlink(child, OLENA, "u2")).ok


async def test_a_broadcast_goes_once_to_each_person_in_their_language(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    incident_desk = desk.incidents
    parent = await file_ticket(desk, person(1), "t1")
    ukrainian = replace(person(2), language="uk")
    kids = [await file_ticket(desk, ukrainian, "t2"), await file_ticket(desk, ukrainian, "t3")]
    refused = await incident_desk.broadcast(parent, OLENA, "ETA 30 min", "b0")
    assert refused.reason == f"Ticket #{parent} is not a major incident; declare it first."
    for kid in kids:
        assert (await incident_desk.link(kid, parent, OLENA, f"l{kid}")).ok
    assert (await incident_desk.broadcast(parent, OLENA, "ETA 30 min", "b1")).ok

    assert (await texts_to(sessions, "telegram", "2001"))[-1] == (
        f"Update on the known problem #{parent}:\nETA 30 min"
    )
    updates = [t for t in await texts_to(sessions, "telegram", "2002") if "ETA" in t]
    assert updates == [f"Новини щодо відомої проблеми №{parent}:\nETA 30 min"]
    async with sessions() as session:
        tally = await store_incidents.latest_tally(session, parent)
        events = [e.action for e in await store.events(session, parent)]
    assert tally is not None and tally.text() == "0 of 2 delivered, 2 on the way"
    assert events[-1] == "broadcast"
    async with sessions() as session:
        texts = OutboxRow.key.startswith("b1:"), OutboxRow.kind == "text"
        stmt = select(OutboxRow.not_before).where(*texts)
        due = sorted((await session.execute(stmt)).scalars())
    # released at the desk's broadcast_per_second (20/s): one every 50 ms
    assert [moment - due[0] for moment in due] == [timedelta(0), timedelta(milliseconds=50)]


async def test_declaring_a_major_incident_records_its_public_title(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    number = await file_ticket(desk, person(1), "t1")
    assert (await desk.incidents.declare_major(number, OLENA, " Printers down ", "d1")).ok
    again = await desk.incidents.declare_major(number, OLENA, "Other", "d2")
    assert again.reason == f"Ticket #{number} is a major incident already."
    async with sessions() as session:
        declared = await store.get(session, number)
        events = [(e.action, e.actor, e.note) for e in await store.events(session, number)]
    assert (declared.major, declared.incident_title) == (True, "Printers down")
    assert events[-1] == ("declare_major", "slack:U0OLENA:Olena", "Printers down")


async def test_resolving_an_incident_resolves_its_children_and_rejecting_releases_them(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    resolved, rejected = (
        await file_ticket(desk, person(1), "t1"),
        await file_ticket(desk, person(2), "t2"),
    )
    kids = {
        parent: await file_ticket(desk, person(3), f"k{parent}") for parent in (resolved, rejected)
    }
    for parent, kid in kids.items():
        assert (await desk.incidents.link(kid, parent, OLENA, f"l{kid}")).ok
    assert (await desk.operators.resolve(resolved, OLENA, "Switch replaced", "r1")).ok
    assert (await desk.operators.reject(rejected, OLENA, "Not an outage", "r2")).ok
    async with sessions() as session:
        done = await store.get(session, kids[resolved])
        back = await store.get(session, kids[rejected])
    assert (done.status, done.parent, done.assignee) == (Status.RESOLVED, resolved, "U0OLENA")
    assert (back.status, back.parent, back.assignee) == (Status.NEW, None, None)
    said = await texts_to(sessions, "telegram", "2003")
    assert f"Your request #{kids[resolved]} is resolved:\nSwitch replaced" in said[-2]
    assert said[-1] == (
        f"Your request #{kids[rejected]} is handled on its own again; an operator will take it."
    )


async def test_a_linked_requesters_words_reach_the_incidents_thread(
    sessions: SessionFactory, clock: Clock
) -> None:
    desk = make_desk(sessions, clock)
    parent, child = (
        await file_ticket(desk, person(1), "t1"),
        await file_ticket(desk, person(2), "t2"),
    )
    assert (await desk.incidents.link(child, parent, OLENA, "l1")).ok
    assert await desk.requesters.user_message(person(2), "2002", intake.Input("Still down"), "m1")
    async with sessions() as session:
        stmt = select(OutboxRow).where(OutboxRow.kind == "relay", OutboxRow.key.startswith("m1:"))
        [relay] = (await session.execute(stmt)).scalars()
    assert (relay.ticket_id, relay.payload["text"]) == (parent, "Still down")
    assert relay.payload["author"] == f"Person 2 (#{child})"
