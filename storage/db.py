"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Executable, Table, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver

SessionFactory = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine tuned per backend. SQLite: our on-loop driver (storage/sqlite_driver.py) with
    one connection for the whole process, WAL, a busy timeout and foreign keys."""
    if is_sqlite(url):
        on_loop = make_url(url).set(drivername=sqlite_driver.DRIVER)
        engine = create_async_engine(on_loop, pool_size=1, max_overflow=0, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(sqlite_driver.BUSY_TIMEOUT * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Upsert:
    """An ``INSERT … ON CONFLICT`` on ``table``, built once per backend and run with its values
    as parameters: building a statement (and its cache key) costs more than SQLite takes to
    run it. ``build(insert)`` adds the ON CONFLICT clause to the backend's ``insert``."""

    def __init__(self, table: Table, build: Callable[[Any], Executable]) -> None:
        self._table = table
        self._build = build
        self._built: dict[str, Executable] = {}

    def of(self, session: AsyncSession) -> Executable:
        name = session.bind.dialect.name
        if name not in self._built:
            dialect = postgresql if name == "postgresql" else sqlite
            self._built[name] = self._build(dialect.insert(self._table))
        return self._built[name]


def make_sessions(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)
