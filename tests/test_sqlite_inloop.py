"""SQLite is called directly in the event loop's thread (`bot.db.sqlite_inloop`), so nothing may
wait inside a call: while another process holds the write lock, the bot goes on answering
everyone, and what needs the database waits its turn without blocking the loop, then is done."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.clock import FakeClock
from bot.db import sqlite_inloop
from bot.db.engine import create_engine
from tests.support.factories import deliver, make_learner
from tests.support.harness import bot_under_test

OTHER = 2002  # someone else, using the bot meanwhile


@pytest.fixture
def sqlite_path(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "bot.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
def another_process(sqlite_path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection to the same file, as a second process (a CLI command) would have."""
    connection = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
    yield connection
    connection.close()


async def test_while_another_process_writes_the_bot_answers_and_then_does_the_write(
    sqlite_path: Path, another_process: sqlite3.Connection, clock: FakeClock
) -> None:
    async with bot_under_test(f"sqlite+aiosqlite:///{sqlite_path}", clock) as bot:
        await make_learner(bot)
        await deliver(bot, "welcome")
        await bot.send("/help")  # the bot has started answering
        another_process.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock
        today = asyncio.create_task(bot.send("/today"))  # needs a transaction
        await asyncio.sleep(0.3)
        assert not today.done()  # waiting for the lock...
        # ...while the loop answers someone else at once
        lookup = asyncio.create_task(bot.send("/stage 2", user=OTHER))
        await _until(lambda: len(bot.messages(OTHER)) > 0, seconds=1.0)
        assert "stage 2" in bot.last(OTHER).text.lower()
        assert not today.done()
        another_process.execute("COMMIT")
        replies = await asyncio.wait_for(today, 5)  # then done, once the lock is free
        assert "Lesson 1 of 32" in replies[0].text
        await asyncio.wait_for(lookup, 5)


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.01)


async def test_begin_gives_up_after_its_patience_and_lets_the_loop_run_meanwhile(
    sqlite_path: Path, another_process: sqlite3.Connection
) -> None:
    connect = sqlite_inloop.connector(str(sqlite_path), ["journal_mode=WAL"], patience=0.3)
    connection = await connect()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    another_process.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await connection.begin_immediate()
    waited = time.monotonic() - started
    ticker.cancel()
    assert 0.2 < waited < 1.0
    assert ticks >= 10  # the loop ran all the while
    another_process.execute("COMMIT")
    await connection.begin_immediate()  # free again: taken at once
    await connection.rollback()
    await connection.close()


async def test_the_engine_calls_sqlite_directly_with_no_worker_thread(sqlite_path: Path) -> None:
    """The point of it: no thread per connection, and statements need no trip to one."""
    engine = create_engine(f"sqlite+aiosqlite:///{sqlite_path}")
    threads = set(threading.enumerate())
    try:
        async with engine.begin() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, sqlite_inloop.Connection)
        assert set(threading.enumerate()) <= threads
    finally:
        await engine.dispose()
