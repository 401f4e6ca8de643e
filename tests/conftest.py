"""Shared fixtures: real databases (SQLite; PostgreSQL with TEST_DATABASE_URL) and a clock."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import FakeClock
from bot.db.engine import create_engine
from bot.db.migrations import upgrade
from tests.support.databases import KINDS, create_pg_database, drop_pg_database, truncate_all
from tests.support.harness import BotUnderTest, bot_under_test


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per session; tests get copies."""
    path = tmp_path_factory.mktemp("template") / "bot.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated_url() -> Iterator[str]:
    """A PostgreSQL database for this session, migrated to head once."""
    url = create_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(params=KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    """Which database this test runs against."""
    return str(request.param)


@pytest.fixture
def database_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL emptied.

    Synchronous on purpose: it may run migrations (asyncio.run) and must not be inside a loop.
    """
    if db_kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "bot.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated_url")
    asyncio.run(_truncate(url))
    return url


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, disposed afterwards."""
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A clock fixed at a Monday morning in London, moved only by the test."""
    return FakeClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))


@pytest.fixture
async def bot(database_url: str, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    """The real bot, polling the fake Bot API server, on the test database."""
    async with bot_under_test(database_url, clock) as running_bot:
        yield running_bot
        assert running_bot.server.rejected == [], "the bot sent something Telegram would reject"
