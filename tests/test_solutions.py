"""Known solutions: how a description becomes a search, and the search itself on a real database
(SQLite FTS5, or PostgreSQL tsvector when HELPDESK_TEST_DATABASE_URL is set), in Ukrainian and
English; config sync, operators' solutions, saved replies and the record of offers."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from handlers import deflection, intake
from handlers.config import DeskConfig, SavedReply, Solution
from handlers.messages import UserRef
from handlers.solutions import search_terms
from storage import solutions as store
from storage.db import SessionFactory
from storage.migrate import alembic_config, upgrade
from storage.models import SolutionOfferItemRow, SolutionOfferRow
from tests.conftest import Clock
from tests.factories import E13

TONER = Solution(
    id="printer_toner",
    categories=["printers"],
    keywords=["toner", "faded", "blank", "тонер", "бліді"],
    title={"en": "Pages come out faded", "uk": "Сторінки друкуються блідо"},
    answer={"en": "Shake the toner cartridge.", "uk": "Струсніть картридж з тонером."},
)
VPN = Solution(
    id="vpn_reconnect",
    categories=["network"],
    keywords=["VPN", "disconnects", "впн"],
    title={"en": "VPN keeps disconnecting", "uk": "VPN постійно відключається"},
    answer={"en": "Restart the VPN client.", "uk": "Перезапустіть VPN-клієнт."},
)
RESTART = SavedReply(
    id="restart",
    title={"en": "Restart", "uk": "Перезапуск"},
    text={"en": "Please restart.", "uk": "Перезапустіть, будь ласка."},
)


async def _synced(sessions: SessionFactory, clock: Clock, *solutions: Solution) -> None:
    config = DeskConfig(solutions=list(solutions), replies=[RESTART])
    async with sessions.begin() as session:
        await store.sync_config(session, config.solutions, config.replies, clock())


async def _match(sessions: SessionFactory, description: str, category: str) -> list[str | None]:
    async with sessions() as session:
        return [s.key for s in await store.match(session, description, category)]


# --- search terms (pure) ----------------------------------------------------------------------


def test_search_terms_drop_stop_words_and_cut_long_words_to_a_prefix() -> None:
    assert search_terms("The printer is jammed, error E13!") == ["print", "jamm", "erro", "e13"]
    assert search_terms("Принтер не працює, зажовує папір") == ["принт", "зажов", "папі"]


def test_search_terms_keep_short_codes_with_digits_and_drop_the_rest() -> None:
    assert search_terms("PC 5 on fl. 3, code E5") == ["code", "e5"]
    assert search_terms("a b ок і") == []


# --- matching on the database -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "category", "expected"),
    [
        ("The printer on floor 3 shows E13 and jams paper", "printers", ["printer_e13"]),
        ("Принтер зажовує папір і показує помилку E13", "printers", ["printer_e13"]),
        ("Принтера на 3 поверсі зам'ятий папір", "printers", ["printer_e13"]),
        ("Printed pages look faded, toner?", "printers", ["printer_toner", "printer_e13"]),
        ("Сторінки бліді, мабуть тонер", "printers", ["printer_toner"]),
        ("VPN disconnects every hour", "network", ["vpn_reconnect"]),
        ("Постійно відключається впн", "network", ["vpn_reconnect"]),
    ],
    ids=["en", "uk", "uk inflected", "en ranked", "uk ranked", "en network", "uk network"],
)
async def test_descriptions_in_either_language_find_their_solutions_best_first(
    sessions: SessionFactory, clock: Clock, description: str, category: str, expected: list[str]
) -> None:
    await _synced(sessions, clock, E13, TONER, VPN)
    found = await _match(sessions, description, category)
    assert found == expected


async def test_only_the_requesters_category_is_searched(sessions: SessionFactory, clock: Clock):
    await _synced(sessions, clock, E13, VPN)
    assert await _match(sessions, "VPN disconnects", "printers") == []
    assert await _match(sessions, "paper jam E13", "network") == []


async def test_unrelated_and_empty_descriptions_find_nothing(sessions: SessionFactory, clock):
    await _synced(sessions, clock, E13, TONER, VPN)
    assert await _match(sessions, "My monitor flickers badly", "printers") == []
    assert await _match(sessions, "не працює", "printers") == []
    assert await _match(sessions, "", "printers") == []


async def test_at_most_three_are_offered(sessions: SessionFactory, clock: Clock) -> None:
    many = [
        Solution(
            id=f"jam_{n}",
            categories=["printers"],
            keywords=["jam"],
            title={"en": f"Jam fix {n}"},
            answer={"en": "Pull the sheet."},
        )
        for n in range(5)
    ]
    await _synced(sessions, clock, *many)
    assert len(await _match(sessions, "paper jam", "printers")) == 3


async def test_search_syntax_in_a_description_is_only_text(sessions: SessionFactory, clock):
    await _synced(sessions, clock, E13)
    hostile = "jam\" OR * NEAR( ' ; DROP TABLE solutions; -- :* & | !"
    assert await _match(sessions, hostile, "printers") == ["printer_e13"]


async def test_config_changes_rewrite_and_retire_solutions(sessions: SessionFactory, clock):
    await _synced(sessions, clock, E13, VPN)
    reworded = E13.model_copy(update={"keywords": ["smudge"], "title": {"en": "Smudges"}})
    await _synced(sessions, clock, reworded)
    assert await _match(sessions, "paper jam", "printers") == []
    assert await _match(sessions, "smudged pages", "printers") == ["printer_e13"]
    assert await _match(sessions, "VPN disconnects", "network") == []
    async with sessions() as session:
        assert [s.key for s in await store.for_category(session, "network")] == []


async def test_an_operators_solution_is_found_next_time(sessions: SessionFactory, clock) -> None:
    async with sessions.begin() as session:
        saved = await store.save(
            session,
            title={"uk": "Сканер не бачить мережу"},
            answer={"uk": "Перезавантажте сканер кнопкою ззаду."},
            categories=["printers"],
            created_by="slack:U1:Olena",
            ticket_id=7,
            now=clock(),
        )
    assert saved.key is None
    async with sessions() as session:
        found = await store.match(session, "Сканер знову не бачить мережу", "printers")
    assert [s.id for s in found] == [saved.id]
    assert found[0].title_in("en") == "Сканер не бачить мережу"  # the only language there is
    assert found[0].answer_in("uk") == "Перезавантажте сканер кнопкою ззаду."


async def test_saved_replies_come_from_the_config(sessions: SessionFactory, clock: Clock) -> None:
    await _synced(sessions, clock)
    async with sessions() as session:
        replies = await store.saved_replies(session)
    assert [(r.key, r.text_in("uk"), r.text_in("de")) for r in replies] == [
        ("restart", "Перезапустіть, будь ласка.", "Please restart.")
    ]
    config = DeskConfig()
    async with sessions.begin() as session:
        await store.sync_config(session, config.solutions, config.replies, clock())
    async with sessions() as session:
        assert await store.saved_replies(session) == []
        assert await store.saved_reply(session, replies[0].id) is None


async def test_an_offer_is_answered_once(sessions: SessionFactory, clock: Clock) -> None:
    await _synced(sessions, clock, E13, TONER)
    async with sessions.begin() as session:
        offered = await store.match(session, "jam and faded toner", "printers")
        offer = await store.record_offer(session, "telegram", "1001", "printers", offered, clock())
    async with sessions.begin() as session:
        assert await store.decide(session, offer, clock(), solved_by=offered[1].id)
        assert not await store.decide(session, offer, clock())
    async with sessions() as session:
        row = await session.get(SolutionOfferRow, offer)
        items = await session.scalars(
            select(SolutionOfferItemRow.solution_id).order_by(SolutionOfferItemRow.position)
        )
        assert (row.outcome, row.solution_id) == ("solved", offered[1].id)
        assert list(items) == [s.id for s in offered]


async def test_postgresql_searches_through_the_gin_index(sessions: SessionFactory, clock):
    async with sessions() as session:
        if session.bind.dialect.name != "postgresql":
            pytest.skip("the GIN index is PostgreSQL's")
    await _synced(sessions, clock, E13)
    async with sessions() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await session.scalars(
            text("EXPLAIN SELECT rowid FROM solutions_fts WHERE document @@ 'jam:*'::tsquery")
        )
        assert "ix_solutions_fts_document" in "\n".join(plan)


# --- the intake's side (handlers/deflection.py) ------------------------------------------------

OLENA = UserRef("telegram", "2001", "Olena", "uk")


async def _offered_intake(sessions: SessionFactory, clock: Clock) -> intake.Outcome:
    """Olena starts with a description, then picks the category: E13 is offered."""
    config = DeskConfig(solutions=[E13, TONER])
    await _synced(sessions, clock, E13, TONER)
    first = intake.start(clock(), config, "uk", "Olena", None, "Принтер зажовує папір, E13")
    assert first.state is not None
    async with sessions.begin() as session:
        await deflection.intake_started(session, OLENA, clock())
        return await deflection.step(
            session,
            OLENA,
            first.state,
            intake.Input(choice=intake.choice(intake.Step.CATEGORY, "printers")),
            clock.advance(seconds=30),
            config,
        )


async def test_an_intake_is_offered_what_matches_and_the_offer_is_recorded(
    sessions: SessionFactory, clock: Clock
) -> None:
    outcome = await _offered_intake(sessions, clock)
    assert outcome.state is not None and outcome.state.step == intake.Step.SOLUTIONS
    assert [title for _, title in outcome.state.offered] == [E13.title["uk"]]
    async with sessions() as session:
        offer = await session.get(SolutionOfferRow, outcome.state.draft.offer)
    assert (offer.requester_id, offer.category, offer.outcome) == ("2001", "printers", "open")


async def test_solved_is_recorded_and_no_is_attached_to_the_ticket_filed_next(
    sessions: SessionFactory, clock: Clock
) -> None:
    outcome = await _offered_intake(sessions, clock)
    state = outcome.state
    assert state is not None
    config = DeskConfig(solutions=[E13, TONER])
    (solution_id, _), offer = state.offered[0], state.draft.offer
    solved = intake.Input(choice=intake.choice(intake.Step.SOLUTIONS, str(solution_id)))
    no = intake.Input(choice=intake.choice(intake.Step.SOLUTIONS, intake.NOT_SOLVED))
    async with sessions.begin() as session:
        said_no = await deflection.step(session, OLENA, state, no, clock(), config)
        assert said_no.state is not None and said_no.state.draft.offer == offer
        await deflection.ticket_filed(session, said_no.state.draft, 41)
        assert await store.offered_before(session, 41) == (E13.title["en"],)
        # the same offer answered again ("solved" from an old message) changes nothing
        again = await deflection.step(session, OLENA, state, solved, clock(), config)
        assert again.state is None and again.submit is None
    async with sessions() as session:
        row = await session.get(SolutionOfferRow, offer)
    assert (row.outcome, row.ticket_id, row.solution_id) == ("rejected", 41, None)


async def test_an_operators_reply_replaces_only_an_operators_reply(sessions: SessionFactory, clock):
    await _synced(sessions, clock)
    async with sessions.begin() as session:
        (config_reply,) = await store.saved_replies(session)
        bob = {"title": {"en": "Cable"}, "created_by": "slack:U1:Bob", "now": clock()}
        text = {"en": "Check the cable."}
        mine = await store.save_reply(session, text=text, replaces=config_reply.id, **bob)
        text = {"en": "Is the cable in?"}
        newer = await store.save_reply(session, text=text, replaces=mine.id, **bob)
    async with sessions() as session:
        kept = [(r.key, r.text_in("en")) for r in await store.saved_replies(session)]
    assert kept == [("restart", "Please restart."), (None, "Is the cable in?")]
    assert newer.key is None


async def test_the_migration_goes_down_and_up_again(engine) -> None:
    def tables(sync) -> set[str]:
        return set(inspect(sync).get_table_names())

    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0004"))
        left = await connection.run_sync(tables)
    assert not {n for n in left if n.startswith(("solution", "saved_", "intake_"))}
    await upgrade(engine)
    async with engine.connect() as connection:
        back = await connection.run_sync(tables)
    assert {"solutions", "solutions_fts", "saved_replies", "solution_offers"} <= back
