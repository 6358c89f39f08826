"""Reports against a hand-computed history on a real database (SQLite, or PostgreSQL in CI).

The history (UTC; the report period is Mon 2026-11-16 00:00 .. Mon 2026-11-23 00:00):

====  ===============  =====================  ==  ===============================================
#     category         location               P   what happened (minutes after opening)
====  ===============  =====================  ==  ===============================================
T1    printers         HQ, room 301           P2  Mon 09:00; Bob claims +10, resolves +60, CSAT 2
                                                  then 5 (the latest counts)
T2    printers         HQ, room 301           P2  Mon 09:30; Carol responds +5, claims +20,
                                                  resolves +120, reopened, resolved again, CSAT 3
T3    network          Warehouse              P1  Tue 14:00; SLA respond breach +15, Bob claims +20,
                                                  escalates to sysadmins +30, Sam takes, resolve
                                                  breach +240, Sam resolves +300; CSAT 5 at `until`
T4    network          Warehouse              P1  Wed 23:30 (Thu 01:30 in Kyiv); Carol escalates to
                                                  sysadmins +10, then to software; resolve breach
T5    software         HQ, room 301           P3  Thu 10:00; nobody touched it
T6    accounts         Branch 2               P4  Fri 08:00; Bob rejects +60
T7    printers         Branch 2               P3  Sun 22:00; claim and respond breach at `until`
T8    hardware         HQ, room 301           P3  at `since`; Carol claims +30, resolves +90, CSAT 4
T9    printers         Branch 2               P3  opened at `until`: outside
T10   pos              Shop 1                 P2  Sun 15th (before); Bob escalates to pos on the
                                                  16th, Sam takes and resolves; CSAT 1 at `since`
====  ===============  =====================  ==  ===============================================
"""

from __future__ import annotations

import csv
import io
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import report_render as render
from handlers import report_query
from handlers.reports import (
    FIRST_LINE,
    Period,
    PeriodError,
    Report,
    Times,
    last_week,
    p90,
    parse_period,
    period_between,
    samples,
)
from storage.db import SessionFactory
from storage.models import TicketEventRow, TicketRow
from tests.conftest import Clock
from tests.factories import ALICE, file_ticket, make_desk

UTC_ZONE = ZoneInfo("UTC")
KYIV = ZoneInfo("Europe/Kyiv")
SINCE = datetime(2026, 11, 16, tzinfo=UTC)
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = Period(SINCE, UNTIL, UTC_ZONE)

BOB = "slack:U1:Bob"
CAROL = "slack:U2:Carol"
SAM = "slack:U9:Sam"
USER = "telegram:1001:Alice Brown"
SLA = "system:sla"

_REQUEST = {
    "requester_platform": "telegram",
    "requester_id": "1001",
    "requester_name": "Alice Brown",
    "description": "it broke",
    "phone": "+380",
    "urgency": "high",
    "impact": "high",
    "version": 1,
}
_AFTER = {
    "claim": "claimed",
    "escalate": "escalated",
    "return_to_first_line": "claimed",
    "resolve": "resolved",
    "confirm": "closed",
    "reopen": "claimed",
    "reject": "rejected",
}


@dataclass
class History:
    """Builds tickets and their audit events with plain ORM rows."""

    rows: list[object] = field(default_factory=list)
    next_id: int = 1

    def ticket(
        self,
        opened: datetime,
        category: str,
        location: str,
        priority: str,
        events: Sequence[tuple[str, float, str, str]] = (),
        line: str | None = None,
    ) -> int:
        """``events``: (action, minutes after opening, actor, note)."""
        number = self.next_id
        self.next_id += 1
        status = "new"
        moves = [TicketEventRow(ticket_id=number, action="open", actor=USER, at=opened,
                                before=None, after="new", note="")]  # fmt: skip
        for action, minutes, actor, note in events:
            after = _AFTER.get(action, status)
            at = opened + timedelta(minutes=minutes)
            moves.append(
                TicketEventRow(ticket_id=number, action=action, actor=actor, at=at, note=note)
            )
            moves[-1].before, moves[-1].after = status, after
            status = after
        self.rows.append(
            TicketRow(
                id=number,
                category=category,
                location=location,
                priority=priority,
                status=status,
                line=line,
                created_at=opened,
                updated_at=opened,
                **_REQUEST,
            )
        )
        self.rows.extend(moves)
        return number

    async def save(self, sessions: SessionFactory) -> None:
        async with sessions.begin() as session:
            tickets = [r for r in self.rows if isinstance(r, TicketRow)]
            session.add_all(tickets)
            await session.flush()
            session.add_all([r for r in self.rows if not isinstance(r, TicketRow)])


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def minutes_to(moment: datetime, opened: datetime) -> float:
    return (moment - opened).total_seconds() / 60


def week_history() -> History:
    h = History()
    h.ticket(at(16, 9), "printers", "HQ, room 301", "P2", [
        ("claim", 10, BOB, ""), ("resolve", 60, BOB, "toner"), ("confirm", 120, USER, ""),
        ("csat_rating", 180, USER, "2"), ("csat_rating", 181, USER, "5"),
        ("csat_comment", 182, USER, "quick, thanks"),
    ])  # fmt: skip
    h.ticket(at(16, 9, 30), "printers", "HQ, room 301", "P2", [
        ("respond", 5, CAROL, ""), ("claim", 20, CAROL, ""), ("resolve", 120, CAROL, ""),
        ("reopen", 180, USER, "still jams"), ("resolve", 240, CAROL, ""),
        ("csat_rating", 270, USER, "3"),
    ])  # fmt: skip
    opened3 = at(17, 14)
    h.ticket(opened3, "network", "Warehouse", "P1", [
        ("sla_reminder", 11, SLA, "respond"), ("sla_breach", 15, SLA, "respond"),
        ("claim", 20, BOB, ""), ("escalate", 30, BOB, "to sysadmins: router down"),
        ("take", 40, SAM, ""), ("sla_breach", 240, SLA, "resolve"), ("resolve", 300, SAM, ""),
        ("csat_rating", minutes_to(UNTIL, opened3), USER, "5"),
    ], line="sysadmins")  # fmt: skip
    h.ticket(at(18, 23, 30), "network", "Warehouse", "P1", [
        ("escalate", 10, CAROL, "to sysadmins"), ("escalate", 70, CAROL, "to software: app"),
        ("sla_breach", 240, SLA, "resolve"),
    ], line="software")  # fmt: skip
    h.ticket(at(19, 10), "software", "HQ, room 301", "P3")
    h.ticket(at(20, 8), "accounts", "Branch 2", "P4", [("reject", 60, BOB, "duplicate")])
    h.ticket(at(22, 22), "printers", "Branch 2", "P3", [
        ("sla_breach", 120, SLA, "respond"), ("claim", 120, BOB, ""),
        ("escalate", 180, BOB, "to equipment"), ("resolve", 240, BOB, ""),
    ])  # fmt: skip
    h.ticket(SINCE, "hardware", "HQ, room 301", "P3", [
        ("claim", 30, CAROL, ""), ("resolve", 90, CAROL, ""), ("confirm", 100, USER, ""),
        ("csat_rating", 120, USER, "4"),
    ])  # fmt: skip
    h.ticket(UNTIL, "printers", "Branch 2", "P3", [("claim", 1, BOB, "")])
    opened10 = datetime(2026, 11, 15, 12, tzinfo=UTC)
    h.ticket(opened10, "pos", "Shop 1", "P2", [
        ("csat_rating", minutes_to(SINCE, opened10), USER, "1"),
        ("escalate", minutes_to(at(16, 9), opened10), BOB, "to pos: terminal dead"),
        ("take", minutes_to(at(16, 9, 30), opened10), SAM, ""),
        ("resolve", minutes_to(at(16, 10), opened10), SAM, ""),
    ], line="pos")  # fmt: skip
    return h


@pytest.fixture
async def week(sessions: SessionFactory) -> SessionFactory:
    await week_history().save(sessions)
    return sessions


async def make_report(sessions: SessionFactory, period: Period = WEEK) -> Report:
    async with sessions() as session:
        return await report_query.report(session, period)


# --- figures ------------------------------------------------------------------------------------


async def test_volume_by_every_dimension(week: SessionFactory) -> None:
    report = await make_report(week)
    assert report.opened == 8  # T1..T8: T8 at `since` counts, T9 at `until` and T10 do not
    assert report.by_category == {
        "printers": 3, "network": 2, "accounts": 1, "hardware": 1, "software": 1,
    }  # fmt: skip
    assert report.by_line == {FIRST_LINE: 6, "software": 1, "sysadmins": 1}
    assert report.by_location == {"HQ, room 301": 4, "Branch 2": 2, "Warehouse": 2}
    assert report.by_status == {
        "resolved": 3, "closed": 2, "escalated": 1, "new": 1, "rejected": 1,
    }  # fmt: skip
    assert report.by_priority == {"P1": 2, "P2": 2, "P3": 3, "P4": 1}
    assert report.hotspots == [
        ("HQ, room 301", "printers", 2),
        ("Warehouse", "network", 2),
        ("Branch 2", "accounts", 1),
        ("Branch 2", "printers", 1),
        ("HQ, room 301", "hardware", 1),
        ("HQ, room 301", "software", 1),
    ]


async def test_first_response_and_resolution_medians_and_p90(week: SessionFactory) -> None:
    report = await make_report(week)
    fr, res = report.first_response, report.resolution
    # First responses (s): T2 300, T1 600, T4 600, T3 1200, T8 1800, T6 3600; T5 none, and
    # T7's claim came at `until`.
    assert fr.all == Times(6, 900.0, 3600.0)
    assert report.awaiting_response == 2
    assert fr.by_priority == {
        "P1": Times(2, 900.0, 1200.0),
        "P2": Times(2, 450.0, 600.0),
        "P3": Times(1, 1800.0, 1800.0),
        "P4": Times(1, 3600.0, 3600.0),
    }
    assert fr.by_line == {
        FIRST_LINE: Times(4, 1200.0, 3600.0),
        "software": Times(1, 600.0, 600.0),
        "sysadmins": Times(1, 1200.0, 1200.0),
    }
    # Resolutions (open -> first resolve): T1 3600, T8 5400, T2 7200 (not the second), T3 18000.
    assert res.all == Times(4, 6300.0, 18000.0)
    assert report.unresolved == 4
    assert res.by_priority == {
        "P1": Times(1, 18000.0, 18000.0),
        "P2": Times(2, 5400.0, 7200.0),
        "P3": Times(1, 5400.0, 5400.0),
    }
    assert res.by_line == {
        FIRST_LINE: Times(3, 5400.0, 7200.0),
        "sysadmins": Times(1, 18000.0, 18000.0),
    }


async def test_rates(week: SessionFactory) -> None:
    report = await make_report(week)
    assert (report.escalated.count, report.escalated.of) == (2, 8)  # T3, T4; T7's is late
    assert (report.sla_breached.count, report.sla_breached.of) == (2, 8)  # T3, T4; not T7
    assert report.sla_breached_respond.count == 1  # T3 (T7's breach is at `until`)
    assert report.sla_breached_resolve.count == 2  # T3, T4
    assert (report.first_contact.count, report.first_contact.of) == (3, 4)  # T1, T2, T8 of 4
    assert (report.reopened.count, report.reopened.of) == (1, 4)  # T2
    assert report.resolved == 4 == report.resolution.all.count
    assert report.escalated.rate == 0.25 and report.first_contact.rate == 0.75


async def test_csat_counts_the_latest_answer_per_ticket_given_in_the_period(
    week: SessionFactory,
) -> None:
    csat = (await make_report(week)).csat
    # T1 said 2 then 5; T2 3; T8 4; T10 1 at `since`; T3's 5 at `until` is outside.
    assert csat.distribution == {1: 1, 2: 0, 3: 1, 4: 1, 5: 1}
    assert csat.count == 4 and csat.average == 3.25


async def test_workload_per_operator_and_per_line(week: SessionFactory) -> None:
    report = await make_report(week)
    loads = {w.name: (w.claimed, w.taken, w.escalated, w.resolved) for w in report.operators}
    # Bob: claims T1 T3 (T7's at `until` is out), escalates T3 T10, resolves T1.
    # Carol: claims T2 T8, escalates T4 (twice: one ticket), resolves T2 (twice) and T8.
    # Sam: takes T3 T10, resolves T3 T10 (T10 was opened before the period: activity counts).
    assert loads == {"Bob": (2, 0, 2, 1), "Carol": (2, 0, 1, 2), "Sam": (0, 2, 0, 2)}
    assert [w.name for w in report.operators] == ["Bob", "Carol", "Sam"]
    assert report.operators[0].actor == BOB
    assert report.lines == {"sysadmins": 2, "pos": 1, "software": 1}


async def test_busiest_hours_and_days_in_utc_and_in_kyiv(week: SessionFactory) -> None:
    utc = await make_report(week)
    expected_utc = dict.fromkeys(range(24), 0) | {9: 2, 14: 1, 23: 1, 10: 1, 8: 1, 22: 1, 0: 1}
    assert dict(enumerate(utc.hours)) == expected_utc
    assert utc.busiest_hour == 9
    assert [(d.day.day, d.opened, d.resolution_median) for d in utc.days] == [
        (16, {"printers": 2, "hardware": 1}, 5400.0),
        (17, {"network": 1}, 18000.0),
        (18, {"network": 1}, None),
        (19, {"software": 1}, None),
        (20, {"accounts": 1}, None),
        (21, {}, None),
        (22, {"printers": 1}, None),
    ]

    # The same instants seen from Kyiv (UTC+2 in November): every hour moves by two.
    kyiv = await make_report(week, Period(SINCE, UNTIL, KYIV))
    expected_kyiv = {(hour + 2) % 24: n for hour, n in expected_utc.items()}
    assert dict(enumerate(kyiv.hours)) == expected_kyiv
    assert kyiv.busiest_hour == 11
    assert kyiv.days[3].opened == {"network": 1, "software": 1}  # T4 is Thursday in Kyiv
    assert kyiv.days[0].day.isoformat() == "2026-11-16"

    # The Kyiv week of the same dates starts and ends two hours earlier: T7 (Sunday 22:00 UTC
    # = Monday 00:00 in Kyiv) falls exactly on its `until`.
    local_week = parse_period("2026-11-16..2026-11-22", UNTIL, KYIV)
    assert local_week.since == datetime(2026, 11, 15, 22, tzinfo=UTC)
    assert local_week.until == datetime(2026, 11, 22, 22, tzinfo=UTC)
    report = await make_report(week, local_week)
    assert report.opened == 7 and "Branch 2" in report.by_location


async def test_boundaries_since_inclusive_until_exclusive(week: SessionFactory) -> None:
    one_tick = timedelta(microseconds=1)
    later = await make_report(week, Period(SINCE + one_tick, UNTIL + one_tick, UTC_ZONE))
    # T8 (at `since`) leaves, T9 (at `until`) joins; T7's claim and breach now count too.
    assert later.opened == 8
    assert later.by_category["printers"] == 4 and "hardware" not in later.by_category
    assert later.sla_breached_respond.count == 2  # T3, T7
    assert later.first_response.all.count == 6  # T7 in, T8 out
    assert later.awaiting_response == 2  # T5, and T9 (claimed a minute after its `until`)


async def test_an_empty_period_is_all_zeros_and_every_renderer_copes(
    week: SessionFactory,
) -> None:
    report = await make_report(week, parse_period("2027-01-01..2027-01-07", UNTIL, UTC_ZONE))
    assert report.opened == 0 and report.resolved == 0
    assert report.by_category == {} and report.hotspots == [] and report.operators == ()
    assert report.first_response.all == Times() and report.resolution.all == Times()
    assert report.escalated.rate is None and report.first_contact.rate is None
    assert report.csat.average is None and report.busiest_hour is None
    assert len(report.days) == 7 and sum(report.hours) == 0
    assert "Helpdesk report" in render.to_text(report)
    assert json.loads(render.to_json(report))["volume"]["opened"] == 0
    assert next(csv.reader(io.StringIO(render.to_csv(report)))) == list(render.CSV_HEADER)
    blocks = render.stats_blocks(report)
    assert "No tickets" in json.dumps(blocks)
    check_png(render.chart_png(report))
    assert samples(report)  # CSAT answer counts (all 0) are still gauges


async def test_reports_see_what_the_desk_records(sessions: SessionFactory, clock: Clock) -> None:
    """The vocabulary matches the product: a ticket filed, claimed and resolved by the desk."""
    desk = make_desk(sessions, clock)
    number = await file_ticket(desk)
    opened = clock.now
    bob = ALICE.__class__("slack", "U1", "Bob", "en", "bob")
    clock.advance(minutes=12)
    assert (await desk.operators.claim(number, bob, "c1")).ok
    clock.advance(minutes=30)
    assert (await desk.operators.resolve(number, bob, "fixed", "c2")).ok
    period = Period(opened, opened + timedelta(days=1), UTC_ZONE)
    report = await make_report(sessions, period)
    assert report.opened == 1 and report.by_category == {"printers": 1}
    assert report.first_response.all == Times(1, 720.0, 720.0)
    assert report.resolution.all == Times(1, 2520.0, 2520.0)
    assert report.first_contact.count == 1
    assert [(w.name, w.claimed, w.resolved) for w in report.operators] == [("Bob", 1, 1)]


# --- renderers ---------------------------------------------------------------------------------


def check_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 0
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    return width, height


async def test_chart_is_a_png(week: SessionFactory) -> None:
    assert check_png(render.chart_png(await make_report(week))) == (1000, 500)


async def test_csv_and_json_parse_and_carry_the_same_figures(week: SessionFactory) -> None:
    report = await make_report(week)
    data = json.loads(render.to_json(report))
    table = list(csv.reader(io.StringIO(render.to_csv(report))))
    assert table[0] == list(render.CSV_HEADER)
    assert table[1:] == list(render.rows(data))
    by_path = {tuple(row[:4]): row[4] for row in table[1:]}
    assert by_path[("volume", "opened", "", "")] == "8"
    assert by_path[("volume", "location", "HQ, room 301", "")] == "4"
    assert by_path[("first_response", "all", "median_s", "")] == "900.0"
    assert by_path[("resolution", "priority", "P2", "p90_s")] == "7200.0"
    assert by_path[("rates", "first_contact_resolution", "rate", "")] == "0.75"
    assert by_path[("csat", "average", "", "")] == "3.25"
    assert by_path[("workload", "operators", CAROL, "resolved")] == "2"
    assert data["rates"]["sla_breached"] == {"count": 2, "of": 8, "rate": 0.25}
    assert data["busiest_hours"]["09"] == 2
    assert data["days"]["2026-11-16"]["resolution_median_s"] == 5400.0
    assert data["period"] == {
        "since": "2026-11-16T00:00:00+00:00",
        "until": "2026-11-23T00:00:00+00:00",
        "timezone": "UTC",
    }


def test_csv_defuses_spreadsheet_formulas() -> None:
    rows = list(render.rows({"volume": {"location": {"=HYPERLINK(1)": 3, "-x": None}}}))
    assert rows == [
        ["volume", "location", "'=HYPERLINK(1)", "", "3"],
        ["volume", "location", "'-x", "", ""],
    ]


async def test_slack_summary_fits_block_kit_limits(week: SessionFactory) -> None:
    report = await make_report(week)
    blocks = render.stats_blocks(report, title="Weekly digest")
    assert 0 < len(blocks) <= 50
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Weekly digest"}}
    for block in blocks:
        if block["type"] == "section":
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10 and all(len(f["text"]) <= 2000 for f in fields)
    text = json.dumps(blocks, ensure_ascii=False)
    assert "*Opened*\\n8" in text and "25.0% (2/8)" in text and "3.25 / 5" in text
    assert "15 min · p90 1 h" in text  # first response: median 900 s, p90 3600 s
    assert render.stats_text(report).startswith("Helpdesk 2026-11-16 – 2026-11-22 (UTC): 8 opened")


async def test_slack_summary_escapes_what_users_typed(sessions: SessionFactory) -> None:
    h = History()
    h.ticket(at(16, 9), "printers", "<!channel> & co", "P2")
    await h.save(sessions)
    text = json.dumps(render.stats_blocks(await make_report(sessions)))
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text


async def test_terminal_tables_show_the_figures(week: SessionFactory) -> None:
    text = render.to_text(await make_report(week), width=120)
    assert "Helpdesk report 2026-11-16 – 2026-11-22 (UTC)" in text
    for expected in ("Where IT hurts", "Warehouse", "15 min", "5 h", "3.25 / 5", "Carol"):
        assert expected in text


async def test_gauge_samples(week: SessionFactory) -> None:
    by_key = {(s.name, s.labels): s.value for s in samples(await make_report(week))}
    assert by_key[("helpdesk_report_tickets_opened", (("category", "printers"),))] == 3
    quantile = (("priority", "all"), ("quantile", "0.9"))
    assert by_key[("helpdesk_report_resolution_seconds", quantile)] == 18000
    assert by_key[("helpdesk_report_sla_breach_ratio", ())] == 0.25
    assert by_key[("helpdesk_report_csat_answers", (("rating", "5"),))] == 1
    sam_took = (("action", "taken"), ("operator", SAM))
    assert by_key[("helpdesk_report_operator_tickets", sam_took)] == 2


# --- periods and percentiles (pure) -----------------------------------------------------------


def test_parse_period() -> None:
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # Monday, 11:30 in Kyiv
    seven = parse_period("7d", now, KYIV)
    assert seven.since == datetime(2026, 11, 17, tzinfo=KYIV)
    assert seven.until == datetime(2026, 11, 24, tzinfo=KYIV)
    assert seven.label == "2026-11-17 – 2026-11-23 (Europe/Kyiv)"
    assert parse_period("", now, KYIV) == seven
    assert len(parse_period("30d", now, UTC_ZONE).days()) == 30
    one = parse_period("2026-11-05", now, UTC_ZONE)
    assert (one.since, one.until) == (at(5, 0), at(6, 0))
    for bad in ("0d", "week", "2026-11-30..2026-11-01", "2026-02-30..2026-03-01", "9999d"):
        with pytest.raises(PeriodError):
            parse_period(bad, now, UTC_ZONE)


def test_periods_across_a_dst_change_have_local_midnights() -> None:
    # Kyiv leaves summer time on 2026-10-25: that local day is 25 hours long.
    period = parse_period("2026-10-25..2026-10-25", at(30, 0), KYIV)
    assert period.until - period.since == timedelta(hours=25)
    assert period.since == datetime(2026, 10, 24, 21, tzinfo=UTC)


def test_command_line_bounds_and_last_week() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)  # Wednesday
    period = period_between("2026-11-16", "2026-11-23", now, KYIV)
    assert period.since == datetime(2026, 11, 16, tzinfo=KYIV)
    assert period.until == datetime(2026, 11, 23, tzinfo=KYIV)
    assert period_between("2026-11-20T08:00:00+00:00", None, now, KYIV).until == now
    with pytest.raises(PeriodError):
        period_between("2026-11-23", "2026-11-16", now, KYIV)
    with pytest.raises(PeriodError):
        period_between("last tuesday", None, now, KYIV)
    week = last_week(now, UTC_ZONE)
    assert (week.since, week.until) == (SINCE, UNTIL)


def test_p90_is_nearest_rank() -> None:
    assert p90([]) is None
    assert p90([5.0]) == 5.0
    assert p90([float(n) for n in range(1, 11)]) == 9.0  # 9 of 10 values are <= 9
    assert p90([float(n) for n in range(1, 71)]) == 63.0  # exact: no 0.9 * 70 rounding slip
    assert p90([float(n) for n in range(1, 12)]) == 10.0  # ceil(9.9) = 10
