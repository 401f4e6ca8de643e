"""Shared fixtures: real databases (SQLite; PostgreSQL with TEST_DATABASE_URL) and a clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.db import create_engine
from bot.migrations import upgrade
from tests.databases import KINDS, create_pg_database, drop_pg_database, truncate_all


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
async def database_url(
    db_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL emptied."""
    if db_kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "bot.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_migrated_url")
    engine = create_engine(url)
    await truncate_all(engine)
    await engine.dispose()
    yield url


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
