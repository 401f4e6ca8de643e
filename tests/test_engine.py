"""The engine and its sessions: what a transaction costs PostgreSQL in round trips, a dropped
connection, and sessions opened for reading.

Every round trip to PostgreSQL is CPU in the bot's one event loop (asyncpg's protocol, a wake-up
of the loop, SQLAlchemy's bookkeeping), so the engine spends as few as it can while still
checking, on each checkout, that a pooled connection is alive: that check is what lets the bot
carry on, unnoticed by anyone, after the server dropped its connections (a restart, a failover).
Reads go without a transaction there (`reading`), and may not write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import ReadOnlyError, create_sessions, reading
from bot.db.models import Learner
from tests.support.databases import drop_connections
from tests.support.factories import make_learner
from tests.support.harness import BotUnderTest, text_of


@pytest.fixture
def pg_url(db_kind: str, database_url: str) -> str:
    """The database, for the tests of PostgreSQL alone."""
    if db_kind != "postgresql":
        pytest.skip("about PostgreSQL")
    return database_url


@pytest.fixture
def pg_engine(pg_url: str, engine: AsyncEngine) -> AsyncEngine:
    """The engine (tests/conftest.py), for the tests of PostgreSQL alone."""
    return engine


def sent_to_server(engine: AsyncEngine) -> list[str]:
    """Every statement the engine's connections send by the simple query protocol (one round
    trip each: a transaction's BEGIN and COMMIT, a liveness check), as asyncpg logs them. Call
    it before the engine connects. asyncpg does not log prepared statements, so the queries a
    session makes are not in the list."""
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query.strip().rstrip(";").upper())

    @event.listens_for(engine.sync_engine.pool, "connect")
    def _watch(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)

    return sent


async def test_checking_a_pooled_connection_costs_one_round_trip(pg_engine: AsyncEngine) -> None:
    sent = sent_to_server(pg_engine)
    sessions = create_sessions(pg_engine)
    async with sessions.begin() as session:  # the pool now holds a connection
        await session.scalar(select(Learner.id).limit(1))
    sent.clear()

    async with sessions.begin() as session:
        await session.scalar(select(Learner.id).limit(1))

    # SQLAlchemy's own pre-ping on asyncpg wraps its check in a transaction of its own (BEGIN,
    # the check, ROLLBACK): two more round trips on every checkout.
    assert sent == ["SELECT 1", "BEGIN", "COMMIT"]


async def test_connections_the_server_dropped_are_replaced_unnoticed(
    pg_engine: AsyncEngine, pg_url: str
) -> None:
    sessions = create_sessions(pg_engine)
    async with sessions.begin() as session:
        await session.scalar(select(Learner.id).limit(1))

    assert await drop_connections(pg_url) >= 1

    async with sessions.begin() as session:  # no error: the dead connection is replaced
        assert await session.scalar(text("SELECT 41 + 1")) == 42


async def test_the_bot_answers_as_ever_after_the_server_dropped_its_connections(
    bot: BotUnderTest, pg_url: str
) -> None:
    await make_learner(bot)
    await bot.send("/progress")

    assert await drop_connections(pg_url) >= 1

    [progress] = await bot.send("/progress")
    assert "Lessons done: 0 of" in text_of(progress)
    await bot.send("/today")
    replies = await bot.press("First lesson now")  # writes, as ever
    assert any("Lesson 1 of" in text_of(reply) for reply in replies)


async def test_a_read_on_postgresql_needs_no_transaction(pg_engine: AsyncEngine) -> None:
    sent = sent_to_server(pg_engine)
    sessions = create_sessions(pg_engine)
    async with reading(sessions) as session:
        await session.scalar(select(Learner.id).limit(1))
    sent.clear()

    async with reading(sessions) as session:
        await session.scalar(select(Learner.id).limit(1))
        await session.scalar(select(Learner.chat_id).limit(1))

    assert sent == ["SELECT 1"]  # the liveness check; the reads' own round trips are not logged

    async with sessions.begin() as session:  # the connection is back in a transaction's mode
        await session.scalar(select(Learner.id).limit(1))
    # (at the server's default level, which SQLAlchemy read when it connected, now named)
    assert sent == ["SELECT 1", "SELECT 1", "BEGIN ISOLATION LEVEL READ COMMITTED", "COMMIT"]


async def test_a_read_sees_what_was_committed(engine: AsyncEngine) -> None:
    sessions = create_sessions(engine)
    async with reading(sessions) as session:
        assert await session.scalar(select(Learner.id)) is None
    async with sessions.begin() as session:
        session.add(Learner(telegram_user_id=7, chat_id=7, created_at=datetime.now(UTC)))
    async with reading(sessions) as session:
        assert await session.scalar(select(Learner.telegram_user_id)) == 7


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s.execute(update(Learner).values(chat_id=8)), id="update"),
        pytest.param(lambda s: s.execute(delete(Learner)), id="delete"),
        pytest.param(
            lambda s: s.execute(
                insert(Learner).values(telegram_user_id=9, chat_id=9, created_at=datetime.now(UTC))
            ),
            id="insert",
        ),
        pytest.param(lambda s: _add_and_flush(s), id="ORM change"),
    ],
)
async def test_a_session_opened_for_reading_refuses_to_write(
    engine: AsyncEngine, write: Callable[[AsyncSession], Awaitable[object]]
) -> None:
    sessions = create_sessions(engine)
    async with sessions.begin() as session:
        session.add(Learner(telegram_user_id=7, chat_id=7, created_at=datetime.now(UTC)))

    with pytest.raises(ReadOnlyError):
        async with reading(sessions) as session:
            await write(session)

    async with sessions.begin() as session:  # nothing was written, even in autocommit
        assert (await session.execute(select(Learner.telegram_user_id, Learner.chat_id))).all() == [
            (7, 7)
        ]


async def _add_and_flush(session: AsyncSession) -> None:
    session.add(Learner(telegram_user_id=9, chat_id=9, created_at=datetime.now(UTC)))
    await session.flush()
