"""Known solutions and saved replies in the database, their full-text search, and the record of
what was offered to whom (the deflection figures of the reports come from it).

Search (the index tables are made by migration 0004_solutions): both backends keep a table
``solutions_fts`` with one row per active solution (``rowid = solutions.id``), written here
whenever a solution is:

* **SQLite**: an FTS5 table (``unicode61`` tokenizer: case folded in every script), ranked by
  ``bm25`` with keywords weighing most, then the title, then the answer. The categories are a
  column of it, so FTS5 filters by category inside the index and ranks only what is left
  (twice as fast as joining ``solution_categories``; bench/README.md).
* **PostgreSQL**: one ``tsvector`` per solution with a GIN index, ``simple`` configuration (no
  stemming, no stop words: one rule for Ukrainian and English), weighted A/B/C the same way,
  ranked by ``ts_rank``. Stored rather than an expression index: checking and ranking an
  expression recomputes every candidate's vector from its JSON texts (~20 ms per match with
  1,000 solutions; bench/README.md).

Both receive the prefixes of :func:`handlers.solutions.search_terms`, joined with OR, and only
solutions of the requester's category that are active; up to three come back, best first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.config import SavedReply, Solution, localized
from handlers.solutions import MAX_OFFERED, KnownSolution, SavedReplyText, search_terms
from storage.models import (
    IntakeStartRow,
    SavedReplyRow,
    SolutionCategoryRow,
    SolutionOfferItemRow,
    SolutionOfferRow,
    SolutionRow,
)

_PG_MATCH = text(
    """SELECT s.* FROM solutions_fts f
    JOIN solutions s ON s.id = f.rowid
    JOIN solution_categories c ON c.solution_id = s.id AND c.category = :category
    CROSS JOIN to_tsquery('simple', :query) q
    WHERE f.document @@ q
    ORDER BY ts_rank(f.document, q) DESC, s.id
    LIMIT :limit"""
)
_SQLITE_MATCH = text(
    """SELECT s.* FROM (
        SELECT rowid, bm25(solutions_fts, 0.0, 4.0, 2.0, 1.0) AS score FROM solutions_fts
        WHERE solutions_fts MATCH :query ORDER BY score, rowid LIMIT :limit
    ) f JOIN solutions s ON s.id = f.rowid
    ORDER BY f.score, s.id"""
)
_UNINDEX = text("DELETE FROM solutions_fts WHERE rowid = :id")
_SQLITE_INDEX = text(
    "INSERT INTO solutions_fts (rowid, categories, keywords, title, answer) "
    "VALUES (:id, :categories, :keywords, :title, :answer)"
)
_PG_INDEX = text(
    "INSERT INTO solutions_fts (rowid, document) VALUES (:id, "
    "setweight(to_tsvector('simple', :keywords), 'A') || "
    "setweight(to_tsvector('simple', :title), 'B') || "
    "setweight(to_tsvector('simple', :answer), 'C'))"
)


SYNC_LOCK = 0x6865_6C71  # the advisory lock key of sync_config ("help" + 1)


def _known(row: SolutionRow) -> KnownSolution:
    return KnownSolution(row.id, row.key, dict(row.title), dict(row.answer), row.link)


def _reply(row: SavedReplyRow) -> SavedReplyText:
    return SavedReplyText(row.id, row.key, dict(row.title), dict(row.text))


def _is_sqlite(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "sqlite"


# --- search -------------------------------------------------------------------------------------


async def match(
    session: AsyncSession, description: str, category: str, limit: int = MAX_OFFERED
) -> list[KnownSolution]:
    """The active solutions of ``category`` whose words match ``description``, best first."""
    terms = search_terms(description)
    if not terms:
        return []
    if _is_sqlite(session):
        words = " OR ".join(f'"{term}"*' for term in terms)
        quoted = category.replace('"', '""')
        query, statement = (
            f'categories : "{quoted}" AND {{keywords title answer}} : ({words})',
            _SQLITE_MATCH,
        )
    else:
        query, statement = " | ".join(f"'{term}':*" for term in terms), _PG_MATCH
    rows = await session.scalars(
        select(SolutionRow).from_statement(statement),
        {"query": query, "category": category, "limit": limit},
    )
    return [_known(row) for row in rows]


async def _index(session: AsyncSession, row: SolutionRow, categories: Iterable[str]) -> None:
    """(Re)write ``row``'s words in the full-text index; only active solutions are in it."""
    await session.execute(_UNINDEX, {"id": row.id})
    if not row.active:
        return
    await session.execute(
        _SQLITE_INDEX if _is_sqlite(session) else _PG_INDEX,
        {
            "id": row.id,
            "categories": " ".join(categories),
            "keywords": row.keywords,
            "title": "\n".join(row.title.values()),
            "answer": "\n".join(row.answer.values()),
        },
    )


# --- solutions ----------------------------------------------------------------------------------


async def _write_solution(
    session: AsyncSession, row: SolutionRow, categories: Iterable[str], now: datetime
) -> None:
    row.updated_at = now
    session.add(row)
    await session.flush()
    await session.execute(
        delete(SolutionCategoryRow).where(SolutionCategoryRow.solution_id == row.id)
    )
    unique = sorted(set(categories))
    session.add_all(SolutionCategoryRow(solution_id=row.id, category=c) for c in unique)
    await _index(session, row, unique)


async def save(
    session: AsyncSession,
    *,
    title: dict[str, str],
    answer: dict[str, str],
    categories: Sequence[str],
    keywords: Sequence[str] = (),
    link: str = "",
    created_by: str = "",
    ticket_id: int | None = None,
    now: datetime,
) -> KnownSolution:
    """Store a solution an operator wrote (e.g. from a resolved ticket)."""
    row = SolutionRow(
        key=None,
        keywords="\n".join(keywords),
        title=title,
        answer=answer,
        link=link,
        active=True,
        created_by=created_by,
        ticket_id=ticket_id,
        created_at=now,
    )
    await _write_solution(session, row, categories, now)
    return _known(row)


async def sync_config(
    session: AsyncSession,
    solutions: Sequence[Solution],
    replies: Sequence[SavedReply],
    now: datetime,
) -> None:
    """Make the database's config solutions and saved replies those of the desk config: new ones
    added, changed ones rewritten, removed ones retired (kept, since offers refer to them).
    Processes starting together on PostgreSQL take turns (an advisory lock), as migrations do."""
    if not _is_sqlite(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK})
    existing = {
        row.key: row
        for row in await session.scalars(select(SolutionRow).where(SolutionRow.key.is_not(None)))
    }
    for solution in solutions:
        row = existing.pop(solution.id, None) or SolutionRow(key=solution.id, created_at=now)
        row.keywords = "\n".join(solution.keywords)
        row.title, row.answer, row.link = dict(solution.title), dict(solution.answer), solution.link
        row.active, row.created_by = True, ""
        await _write_solution(session, row, solution.categories, now)
    for gone in existing.values():
        if gone.active:
            gone.active, gone.updated_at = False, now
            await session.execute(_UNINDEX, {"id": gone.id})

    known = {
        row.key: row
        for row in await session.scalars(
            select(SavedReplyRow).where(SavedReplyRow.key.is_not(None))
        )
    }
    for reply in replies:
        saved = known.get(reply.id) or SavedReplyRow(key=reply.id, created_at=now)
        saved.title, saved.text, saved.active = dict(reply.title), dict(reply.text), True
        saved.created_by, saved.updated_at = "", now
        session.add(saved)
    await session.execute(
        update(SavedReplyRow)
        .where(SavedReplyRow.key.not_in([r.id for r in replies]), SavedReplyRow.active)
        .values(active=False, updated_at=now)
    )


async def solution(session: AsyncSession, solution_id: int) -> KnownSolution | None:
    """An active solution by id."""
    row = await session.get(SolutionRow, solution_id)
    return _known(row) if row is not None and row.active else None


async def for_category(session: AsyncSession, category: str) -> list[KnownSolution]:
    """Every active solution of ``category``, oldest first (a picker's full list)."""
    rows = await session.scalars(
        select(SolutionRow)
        .join(SolutionCategoryRow, SolutionCategoryRow.solution_id == SolutionRow.id)
        .where(SolutionCategoryRow.category == category, SolutionRow.active)
        .order_by(SolutionRow.id)
    )
    return [_known(row) for row in rows]


# --- saved replies ------------------------------------------------------------------------------


async def saved_replies(session: AsyncSession) -> list[SavedReplyText]:
    rows = await session.scalars(
        select(SavedReplyRow).where(SavedReplyRow.active).order_by(SavedReplyRow.id)
    )
    return [_reply(row) for row in rows]


async def save_reply(
    session: AsyncSession,
    *,
    title: dict[str, str],
    text: dict[str, str],
    created_by: str,
    now: datetime,
    replaces: int | None = None,
) -> SavedReplyText:
    """Store a saved reply an operator wrote; ``replaces``: an operator's reply it retires
    (the config's replies are kept in the desk TOML)."""
    if replaces is not None:
        await session.execute(
            update(SavedReplyRow)
            .where(SavedReplyRow.id == replaces, SavedReplyRow.key.is_(None))
            .values(active=False, updated_at=now)
        )
    row = SavedReplyRow(
        key=None,
        title=title,
        text=text,
        active=True,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return _reply(row)


async def saved_reply(session: AsyncSession, reply_id: int) -> SavedReplyText | None:
    row = await session.get(SavedReplyRow, reply_id)
    return _reply(row) if row is not None and row.active else None


# --- what was offered ---------------------------------------------------------------------------


async def record_intake_start(
    session: AsyncSession, platform: str, user_id: str, now: datetime
) -> None:
    session.add(IntakeStartRow(platform=platform, user_id=user_id, at=now))


async def record_offer(
    session: AsyncSession,
    platform: str,
    user_id: str,
    category: str,
    offered: Sequence[KnownSolution],
    now: datetime,
) -> int:
    """Record that ``offered`` were shown to a requester; the offer's id for their answer."""
    offer = SolutionOfferRow(
        requester_platform=platform,
        requester_id=user_id,
        category=category,
        offered_at=now,
        outcome="open",
    )
    session.add(offer)
    await session.flush()
    session.add_all(
        SolutionOfferItemRow(offer_id=offer.id, solution_id=s.id, position=n)
        for n, s in enumerate(offered)
    )
    return offer.id


async def decide(
    session: AsyncSession, offer_id: int, now: datetime, solved_by: int | None = None
) -> bool:
    """The requester's answer: ``solved_by`` the solution that helped, else rejected. Only the
    first answer counts; False when the offer was answered already (or is unknown)."""
    outcome = "rejected" if solved_by is None else "solved"
    result = await session.execute(
        update(SolutionOfferRow)
        .where(SolutionOfferRow.id == offer_id, SolutionOfferRow.outcome == "open")
        .values(outcome=outcome, solution_id=solved_by, decided_at=now)
    )
    return bool(result.rowcount)


async def attach_ticket(session: AsyncSession, offer_id: int, ticket_id: int) -> None:
    """The ticket filed after the offer was rejected."""
    await session.execute(
        update(SolutionOfferRow).where(SolutionOfferRow.id == offer_id).values(ticket_id=ticket_id)
    )


async def offered_before(session: AsyncSession, ticket_id: int) -> tuple[str, ...]:
    """Titles (English, else as written) of the solutions offered to the requester before they
    filed ticket ``ticket_id`` instead, in the order shown."""
    rows = await session.execute(
        select(SolutionRow.id, SolutionRow.title)
        .join(SolutionOfferItemRow, SolutionOfferItemRow.solution_id == SolutionRow.id)
        .join(SolutionOfferRow, SolutionOfferRow.id == SolutionOfferItemRow.offer_id)
        .where(SolutionOfferRow.ticket_id == ticket_id)
        .order_by(SolutionOfferRow.id, SolutionOfferItemRow.position)
    )
    return tuple(localized(title, "en", f"#{sid}") for sid, title in rows.all())
