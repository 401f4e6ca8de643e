"""Real test databases: a SQLite file per test, PostgreSQL when TEST_DATABASE_URL is set.

PostgreSQL tests run in a database created for this test session (and dropped after), so they
never touch data in the database TEST_DATABASE_URL names. Tests of the flood limit shared between
processes need Redis at TEST_REDIS_URL (default: 127.0.0.1:6379, database 15; .ci/run starts a
local one) and are skipped, saying so, when nothing answers there; they use keys of their own.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
KINDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable(url: str = TEST_REDIS_URL) -> bool:
    """True when something answers PING at the test Redis address."""
    host, _, port = url.split("://", 1)[1].split("/", 1)[0].rpartition(":")
    try:
        with socket.create_connection((host.rpartition("@")[2], int(port)), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# A busy machine (CI on two shared cores) can stall the event loop past the production timeout,
# and the bot then rightly counts alone: tests of sharing use this one.
PATIENT_REDIS_SECONDS = 2.0

needs_redis = pytest.mark.skipif(
    not redis_reachable(),
    reason=f"Redis is not reachable at {TEST_REDIS_URL} (set TEST_REDIS_URL; .ci/run starts it)",
)


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


async def drop_connections(url: str) -> int:
    """Terminate every other connection to the PostgreSQL database, as a server restart would;
    returns how many were dropped."""
    admin = await asyncpg.connect(_dsn(url))
    try:
        dropped: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return dropped
