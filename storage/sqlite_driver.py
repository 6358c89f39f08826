"""SQLite for SQLAlchemy's asyncio API without a thread hop per call: the embedded default.

Why: through aiosqlite every statement takes three to four hops to its worker thread and back
(cursor, execute, fetch, close), about 400 µs of CPU per statement, while the statement itself
takes ~10-20 µs in the stdlib ``sqlite3``. A desk update runs five to seven statements, so the
hops were most of its cost (bench/README.md). This dialect calls ``sqlite3`` directly on the
event loop's thread: ~100-150 µs per statement, nearly all of it SQLAlchemy.

Why that is safe here:

* **One connection per process** (``make_engine``): sessions queue for it on the event loop
  (SQLAlchemy's asyncio pool), so two transactions of this process never contend for SQLite's
  write lock, and a call never waits for a lock this process holds.
* **WAL**: readers (``helpdesk report``, another process) never block the writer. Several
  processes writing one file is not a supported set-up (they need PostgreSQL); a foreign writer
  makes a statement wait at most ``BUSY_TIMEOUT`` seconds.
* **Commits do not wait for the disk** (``synchronous=NORMAL`` in WAL mode); only an automatic
  checkpoint, every ~1,000 pages, does.
* **Long reads still run here**: a report over 100,000 tickets blocks the loop for as long as
  it runs (~0.3 s for 7 days, bench/README.md); desks of that size belong on PostgreSQL.

Mechanics: SQLAlchemy's asyncio layer expects an async driver that yields to the event loop at
least once per statement, so the cursor passes through ``await_`` after each ``execute``
(a greenlet switch to a finished coroutine, a few µs) and has the no-op ``_async_soft_close``
SQLAlchemy's async results call.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool
from sqlalchemy.util.concurrency import await_

DRIVER = "sqlite+helpdesk"  # the URL scheme make_engine gives every SQLite URL
BUSY_TIMEOUT = 5.0  # seconds a statement may wait for another process's write lock


async def _yielded() -> None:
    return None


class Cursor(sqlite3.Cursor):
    def execute(self, *args: Any) -> Cursor:
        result = super().execute(*args)
        await_(_yielded())
        return result

    async def _async_soft_close(self) -> None:
        return None


class Connection(sqlite3.Connection):
    def cursor(self, factory: Any = Cursor) -> Any:
        return super().cursor(factory)


class SQLiteOnLoopDialect(SQLiteDialect_pysqlite):
    """pysqlite, called on the event loop's thread, behind SQLAlchemy's asyncio API."""

    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[Pool]:
        return AsyncAdaptedQueuePool

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(factory=Connection, timeout=BUSY_TIMEOUT, check_same_thread=False)
        return super().connect(*args, **kwargs)


registry.register(DRIVER.replace("+", "."), __name__, SQLiteOnLoopDialect.__name__)
