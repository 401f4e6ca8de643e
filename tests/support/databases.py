"""Real test databases: a SQLite file per test, PostgreSQL when TEST_DATABASE_URL is set.

PostgreSQL tests run in a database created for this test session (and dropped after), so they
never touch data in the database TEST_DATABASE_URL names.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
KINDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_pg_database() -> str:
    """Create a fresh, empty PostgreSQL database; return its SQLAlchemy URL."""
    name = f"bot_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(_dsn(TEST_DATABASE_URL))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database."""
    name = make_url(url).database

    async def drop() -> None:
        conn = await asyncpg.connect(_dsn(TEST_DATABASE_URL))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every application table (PostgreSQL), keeping the schema and alembic_version."""
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        )
        tables = [f'"{r[0]}"' for r in rows]
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
