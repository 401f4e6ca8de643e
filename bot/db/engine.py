"""Database plumbing: engine and session factory, the declarative Base, and UTC-safe datetimes.

SQLite (the embedded default) runs in WAL mode, called directly from the event loop's thread
(`bot.db.sqlite_inloop`: no worker thread, no waiting inside a call), and every transaction starts
with `BEGIN IMMEDIATE`, so writers queue for the write lock at the start instead of failing with
"database is locked" when a reader tries to upgrade; while another process holds it, `BEGIN`
waits without blocking the loop. PostgreSQL's pooled connections are checked as they are
checked out, in one round trip (`_ping`).

SQLite and erasure: `secure_delete` is on for every connection, so deleted rows and freed pages
are overwritten with zeros; but the WAL still holds earlier copies of those pages until a
checkpoint, so whoever erases calls `scrub_wal` after the erasing transaction. The database file
and its folder are created for the owner only (0600 and 0700; SQLite gives its -wal and -shm
files the database file's mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import BigInteger, Connection, DateTime, Dialect, Integer, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import AdaptedConnection, DBAPIConnection
from sqlalchemy.exc import InvalidatePoolError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from bot.db import sqlite_inloop

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000

# What an unreachable database raises: SQLAlchemy's errors, OSError (connection refused, timeouts)
# and asyncpg's own errors, which SQLAlchemy does not wrap while it opens a connection (e.g.
# CannotConnectNowError while PostgreSQL restarts).
DATABASE_UNAVAILABLE = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

# An auto-incrementing 64-bit key; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with one constraint naming convention (stable names for migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime that round-trips identically on SQLite and PostgreSQL.

    Naive datetimes are refused on the way in: they are always a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, direct calls and BEGIN IMMEDIATE."""
    if not is_sqlite(url):
        engine = create_async_engine(url, echo=echo, hide_parameters=True, pool_size=10)
        event.listen(engine.sync_engine.pool, "checkout", _ping)
        return engine
    database = make_url(url).database
    if database and database != ":memory:":
        _create_owner_only(Path(database))
    pool: dict[str, Any] = {}
    if database and database != ":memory:":
        # One connection: SQLite writes one transaction at a time anyway, and every transaction
        # here takes the write lock first, so several connections would only take turns at the
        # lock. With one, and SQLite called directly (a transaction that does no other I/O runs
        # from BEGIN to COMMIT in one step of the loop), the connection is almost always free
        # when asked for. (Nothing holds a session while opening another: no deadlock.)
        pool = {
            "poolclass": AsyncAdaptedQueuePool,
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
    pragmas = [
        "journal_mode=WAL",
        "busy_timeout=0",  # never wait inside a call: see bot.db.sqlite_inloop
        "foreign_keys=ON",
        "synchronous=NORMAL",
        "secure_delete=ON",
    ]
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        async_creator=sqlite_inloop.connector(
            database or ":memory:", pragmas, patience=SQLITE_BUSY_TIMEOUT_MS / 1000
        ),
        **pool,
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Wait for the write lock (another process may hold it) without blocking the loop.
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite_inloop.Connection)
        await_only(driver.begin_immediate())

    return engine


def _ping(dbapi_connection: DBAPIConnection, _record: object, _proxy: object) -> None:
    """Check a pooled PostgreSQL connection is alive as it is checked out, in one round trip.

    A connection the server dropped (a restart, a failover) is replaced, with every other one
    pooled before it, before anyone uses it: the pool's own `pool_pre_ping`, which does the same,
    wraps its check on asyncpg in a transaction of its own (BEGIN, the check, ROLLBACK: three
    round trips on every checkout, each a wake-up of the bot's one event loop). A simple-protocol
    `SELECT 1` opens no transaction and needs none (pgbouncer's transaction pooling included).
    """
    assert isinstance(dbapi_connection, AdaptedConnection)
    try:
        dbapi_connection.run_async(lambda driver: driver.execute("SELECT 1"))
    except Exception as exc:  # whatever a dead connection raises: the pool reconnects
        raise InvalidatePoolError(f"connection lost ({type(exc).__name__})") from exc


def _create_owner_only(path: Path) -> None:
    """Make the database's folder (0700) and an empty database file (0600) unless they exist."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


async def scrub_wal(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """On SQLite, checkpoint and empty the WAL, so what was just deleted has no copy left in it.

    Run after the erasing transaction has committed (a checkpoint cannot run inside one). The
    TRUNCATE checkpoint waits (up to the busy timeout, without blocking the loop) for other
    connections' readers and writers. False when it could not finish (the WAL then still holds
    old pages; the next scrub clears them).
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or not is_sqlite(str(engine.url)):
        return True
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, sqlite_inloop.Connection)
        busy = not await driver.checkpoint("TRUNCATE")
    if busy:
        log.warning("the SQLite WAL could not be emptied after an erasure (busy); will retry")
    return not busy


HEALTH_TIMEOUT_SECONDS = 10.0


async def database_answers(url: str) -> bool:
    """True when the database answers `SELECT 1` within 10 seconds (the healthcheck)."""
    engine = create_engine(url)
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


class ReadOnlyError(RuntimeError):
    """A write was attempted in a session opened for reading (`reading`)."""


_READ_ONLY = "read_only"


@contextlib.asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads alone: `async with reading(self._sessions) as session:`.

    On PostgreSQL its statements run in autocommit: no BEGIN and no COMMIT, two round trips
    fewer. Each statement still sees what had been committed when it began, exactly as in the
    READ COMMITTED transaction it replaces, so a reader sees nothing different (a reader that
    needs one snapshot for several statements, or a lock, wants `sessions.begin()`). On SQLite
    it is an ordinary transaction. An ORM write in it is refused before it reaches the database
    (`ReadOnlyError`): in autocommit it would be committed at once, apart from the update log.
    """
    async with sessions() as session:
        session.info[_READ_ONLY] = True
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


@event.listens_for(Session, "do_orm_execute")
def _refuse_writes(state: ORMExecuteState) -> None:
    if state.session.info.get(_READ_ONLY) and (
        state.is_insert or state.is_update or state.is_delete
    ):
        raise ReadOnlyError("a write in a session opened for reading")


@event.listens_for(Session, "before_flush")
def _refuse_flush(session: Session, _context: object, _instances: object) -> None:
    if session.info.get(_READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlyError("a change flushed in a session opened for reading")


def create_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory used by services: `async with sessions.begin() as session:` for a
    transaction, `async with reading(sessions) as session:` for a method that only reads."""
    return async_sessionmaker(engine, expire_on_commit=False)
