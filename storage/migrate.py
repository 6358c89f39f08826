"""Bring the schema up to date with Alembic, from inside a running event loop."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK = 0x6865_6C70  # "help": the advisory lock key for migrations
# The solutions' full-text index is a table per backend, outside the models (0004_solutions).
SEARCH_TABLE = "solutions_fts"


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Schema comparison leaves out the full-text index tables (FTS5 and its shadow tables on
    SQLite, tsvectors on PostgreSQL): the models cannot describe them."""
    return not (type_ == "table" and (name or "").startswith(SEARCH_TABLE))


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Run ``alembic upgrade`` on ``engine``; the connection travels via config.attributes.

    On PostgreSQL an advisory lock makes processes that start together migrate one after
    another (the later ones find nothing left to do)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK})
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
