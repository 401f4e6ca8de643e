"""What one small transaction costs the bot, on each database, against the stock engine it replaced.

Run: .venv/bin/python bench/bench_transaction.py [--transactions 2000] [--rounds 3]
     [--db sqlite postgresql]    (PostgreSQL when TEST_DATABASE_URL or BENCH_DATABASE_URL is set)

Two shapes of transaction, the ones handlers make, through an AsyncSession: *read* (one row) and
*write* (read one row, update another). The bot reads through `bot.db.engine.reading` (on
PostgreSQL in autocommit), the stock engine in a transaction. Each shape is repeated
`--transactions` times on each engine:

- SQLite. *bot*: the bot's engine (`bot.db.engine.create_engine`: called directly in the event
  loop's thread, `bot/db/sqlite_inloop.py`); *stock*: SQLAlchemy's aiosqlite driver as it comes
  (every call a trip to the connection's thread), with the same pool of one, pragmas and
  BEGIN IMMEDIATE.
- PostgreSQL. *bot*: the bot's engine (a pooled connection checked in one round trip as it is
  checked out, `bot.db.engine._ping`); *stock*: the same pool with SQLAlchemy's `pool_pre_ping`,
  which on asyncpg checks inside a transaction of its own (three round trips).

Rounds alternate between the engines on fresh tables; the figures are medians of the rounds: CPU
per transaction (user+sys of this process, every thread) and the time each took.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Column, Integer, MetaData, String, Table, event, select, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bench.faults import database_kinds, new_database
from bot.db.engine import create_engine, reading

METADATA = MetaData()
ROWS = Table(
    "rows",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("value", String, nullable=False),
)


def stock_sqlite(url: str) -> AsyncEngine:
    """The floor: aiosqlite's worker thread, otherwise set up as the bot's engine is."""
    engine = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def stock_postgresql(url: str) -> AsyncEngine:
    """The floor: SQLAlchemy's own `pool_pre_ping`, otherwise set up as the bot's engine is."""
    return create_async_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=10)


STOCK: dict[str, Callable[[str], AsyncEngine]] = {
    "sqlite": stock_sqlite,
    "postgresql": stock_postgresql,
}

Figures = tuple[float, float, float]  # CPU ms per transaction, p50 ms, p99 ms
Reader = Callable[[async_sessionmaker[AsyncSession]], AbstractAsyncContextManager[AsyncSession]]


def stock_read(
    sessions: async_sessionmaker[AsyncSession],
) -> AbstractAsyncContextManager[AsyncSession]:
    """A read as SQLAlchemy does it by default: in a transaction."""
    return sessions.begin()


async def measure(engine: AsyncEngine, transactions: int, *, write: bool, read: Reader) -> Figures:
    """CPU ms per transaction, and p50 and p99 ms per transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.drop_all)
        await connection.run_sync(METADATA.create_all)
        await connection.execute(ROWS.insert(), [{"id": 1, "value": "a"}, {"id": 2, "value": "b"}])
    sessions = async_sessionmaker(engine)
    async with sessions.begin() as session:  # the pool holds its connection from now on
        await session.scalar(select(ROWS.c.value).where(ROWS.c.id == 1))
    took: list[float] = []
    cpu = time.process_time()
    for number in range(transactions):
        started = time.perf_counter()
        if write:
            async with sessions.begin() as session:
                await session.scalar(select(ROWS.c.value).where(ROWS.c.id == 1))
                await session.execute(update(ROWS).where(ROWS.c.id == 2).values(value=str(number)))
        else:
            async with read(sessions) as session:
                await session.scalar(select(ROWS.c.value).where(ROWS.c.id == 1))
        took.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    await engine.dispose()
    took.sort()
    return (
        cpu / transactions * 1000,
        took[len(took) // 2] * 1000,
        took[len(took) * 99 // 100] * 1000,
    )


async def run(kind: str, url: str, transactions: int, rounds: int) -> None:
    makers: dict[str, tuple[Callable[[str], AsyncEngine], Reader]] = {
        "bot": (create_engine, reading),
        "stock": (STOCK[kind], stock_read),
    }
    results: dict[tuple[str, str], list[Figures]] = {}
    for round_ in range(1, rounds + 1):
        for shape in ("read", "write"):
            for name, (make, read) in makers.items():
                figures = await measure(make(url), transactions, write=shape == "write", read=read)
                results.setdefault((shape, name), []).append(figures)
                cpu, p50, p99 = figures
                print(
                    f"{kind} round {round_} {shape:5} {name:5}: CPU {cpu:.3f} ms,"
                    f" p50 {p50:.3f} ms, p99 {p99:.3f} ms"
                )
    print(f"\n{kind}: medians of {rounds} rounds, {transactions} transactions each:")
    for shape in ("read", "write"):
        medians = {
            name: [statistics.median(f[i] for f in results[(shape, name)]) for i in range(3)]
            for name in makers
        }
        for name, (cpu, p50, p99) in medians.items():
            print(
                f"  {shape:5} {name:5}: CPU {cpu:.3f} ms per transaction,"
                f" p50 {p50:.3f} ms, p99 {p99:.3f} ms"
            )
        ratio = medians["stock"][0] / medians["bot"][0]
        print(f"  {shape:5}: stock takes {ratio:.2f}x the bot's CPU per transaction")
    print()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in database_kinds(args.db):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
                await run(kind, url, args.transactions, args.rounds)
        else:
            url, drop = await asyncio.to_thread(new_database, kind)
            try:
                await run(kind, url, args.transactions, args.rounds)
            finally:
                await asyncio.to_thread(drop)


if __name__ == "__main__":
    asyncio.run(main())
