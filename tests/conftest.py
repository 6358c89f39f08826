"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
HELPDESK_TEST_DATABASE_URL is set), Redis when HELPDESK_TEST_REDIS_URL is set, a movable clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import SessionFactory, make_engine, make_sessions
from storage.migrate import upgrade

# Fixtures shared by several test modules, kept next to the helpers they use.
pytest_plugins = ["tests.slack_desk"]

POSTGRES_URL = os.environ.get("HELPDESK_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS_URL", "")


class Clock:
    """A clock the tests move by hand: no sleeping to make time pass."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """An empty database for this test."""
    if POSTGRES_URL:
        await _reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'helpdesk.db'}"


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """Redis emptied for this test, or "" (embedded mode) when no test Redis is configured."""
    if REDIS_URL:
        client = Redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
    yield REDIS_URL


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return make_sessions(engine)
